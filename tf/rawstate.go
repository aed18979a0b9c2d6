package tf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// rawState is the part of terraform's state file format (version 4, what
// `terraform state pull` prints and the pg backend stores in its states
// table) that ParseState reads.
type rawState struct {
	Version   *int `json:"version"`
	Resources []struct {
		Module    string `json:"module"`
		Mode      string `json:"mode"`
		Type      string `json:"type"`
		Name      string `json:"name"`
		Instances []struct {
			IndexKey   json.RawMessage `json:"index_key"`
			Deposed    string          `json:"deposed"`
			Attributes struct {
				ARN json.RawMessage `json:"arn"`
			} `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
}

// ParseState lists the managed resource instances of a raw state (format
// version 4, as the pg backend stores it), without running terraform:
// their addresses as terraform writes them (module.x.aws_s3_bucket.b["k"])
// and their "arn" attribute. Data sources are left out. An empty state
// (no bytes) has none. Deposed objects (left by a failed
// create_before_destroy replacement) are real objects too: they are listed
// with their deposed key.
func ParseState(raw []byte) ([]StateResource, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var st rawState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("tf: parsing state: %w", err)
	}
	if st.Version == nil || *st.Version != 4 {
		v := "missing"
		if st.Version != nil {
			v = strconv.Itoa(*st.Version)
		}
		return nil, fmt.Errorf("tf: parsing state: format version %s, want 4", v)
	}
	var out []StateResource
	for _, r := range st.Resources {
		if r.Mode != "managed" {
			continue
		}
		if r.Type == "" || r.Name == "" {
			return nil, fmt.Errorf("tf: parsing state: a resource without type or name (module %q)", r.Module)
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, inst := range r.Instances {
			key, err := indexKey(inst.IndexKey)
			if err != nil {
				return nil, fmt.Errorf("tf: parsing state: %s: %w", base, err)
			}
			var arn string
			if len(inst.Attributes.ARN) > 0 {
				_ = json.Unmarshal(inst.Attributes.ARN, &arn) // not a string: no ARN
			}
			out = append(out, StateResource{Address: base + key, Type: r.Type, ARN: arn, Deposed: inst.Deposed})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address < out[j].Address
		}
		return out[i].Deposed < out[j].Deposed
	})
	return out, nil
}

// indexKey renders an instance key as terraform does in addresses: [0]
// for count, ["k"] for for_each, nothing for a single instance.
func indexKey(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			return "", fmt.Errorf("index key %s is not an integer", n)
		}
		return "[" + string(n) + "]", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("index key %s is neither a number nor a string", raw)
	}
	return "[" + quoteKey(s) + "]", nil
}

// quoteKey quotes a for_each key the way terraform prints it in
// addresses (addrs.StringKey): HCL's string escapes, template introducers
// ("${", "%{") doubled, non-printable runes as \u escapes.
func quoteKey(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '$', '%':
			b.WriteRune(r)
			if strings.HasPrefix(s[i+1:], "{") {
				b.WriteRune(r)
			}
		default:
			switch {
			case unicode.IsPrint(r):
				b.WriteRune(r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
