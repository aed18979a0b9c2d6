package tf

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// configInfo is what the engine needs to know about tenant configuration
// beyond the policy: whether to generate the aws provider, and which parts
// of the configuration terraform init depends on.
type configInfo struct {
	// usesAWS: some resource or data source has an aws_ type.
	usesAWS bool
	// requiresAWS: the tenant already lists aws in required_providers, so
	// the generated file must not list it again (terraform refuses a
	// provider required twice in one module).
	requiresAWS bool
	// awsAliases are the aliases of the tenant's own aws provider
	// configurations (the policy allows aliased ones, with a region).
	// Resources using them must carry the project's tags too.
	awsAliases []string
	// initDigest covers exactly what `terraform init` reads from tenant
	// configuration: terraform, provider and module blocks, and the
	// provider each resource type implies. Editing a resource's arguments
	// or a variable does not change it, so such edits skip init.
	initDigest string
}

// unparsedAWS finds aws resource types in a file HCL cannot parse. Such a
// configuration fails at plan anyway; the guess only decides whether the
// aws provider file is generated before terraform reports the syntax error.
var unparsedAWS = regexp.MustCompile(`(?:resource|data)\s*"?\s*:?\s*\{?\s*"aws_`)

func analyze(files map[string]string) configInfo {
	var info configInfo
	h := sha256.New()
	providers := map[string]bool{}
	for _, name := range sortedKeys(files) {
		src := files[name]
		var ok bool
		switch {
		case strings.HasSuffix(name, ".tf"):
			ok = analyzeHCL(name, []byte(src), h, providers, &info)
		case strings.HasSuffix(name, ".tf.json"):
			ok = analyzeJSON(name, []byte(src), h, providers, &info)
		default:
			continue // data files and tfvars do not affect init
		}
		if !ok {
			// Unparsable: depend on all of it, so that fixing it re-inits.
			fmt.Fprintf(h, "raw %q %d\n", name, len(src))
			io.WriteString(h, src)
			if unparsedAWS.MatchString(src) {
				info.usesAWS = true
			}
		}
	}
	for _, p := range sortedKeys(providers) {
		fmt.Fprintf(h, "implied provider %q\n", p)
	}
	sort.Strings(info.awsAliases)
	info.awsAliases = slices.Compact(info.awsAliases)
	if len(info.awsAliases) > 0 {
		info.usesAWS = true
	}
	info.initDigest = fmt.Sprintf("%x", h.Sum(nil))
	return info
}

func noteType(typ string, providers map[string]bool, info *configInfo) {
	if strings.HasPrefix(typ, "aws_") {
		info.usesAWS = true
	}
	local, _, _ := strings.Cut(typ, "_")
	providers[local] = true
}

func analyzeHCL(name string, src []byte, h io.Writer, providers map[string]bool, info *configInfo) bool {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return false
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "resource", "data":
			if len(b.Labels) > 0 {
				noteType(b.Labels[0], providers, info)
			}
		case "terraform", "provider", "module":
			r := b.Range()
			fmt.Fprintf(h, "block %q %q\n", name, b.Type)
			h.Write(src[r.Start.Byte:r.End.Byte])
			if b.Type == "provider" && len(b.Labels) == 1 && b.Labels[0] == "aws" {
				if a, ok := b.Body.Attributes["alias"]; ok {
					// Terraform requires a literal alias; anything else fails
					// at plan and needs no override.
					if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						info.awsAliases = append(info.awsAliases, v.AsString())
					}
				}
			}
			if b.Type == "terraform" {
				for _, inner := range b.Body.Blocks {
					if inner.Type == "required_providers" {
						if _, ok := inner.Body.Attributes["aws"]; ok {
							info.requiresAWS = true
						}
					}
				}
			}
		}
	}
	return true
}

func analyzeJSON(name string, src []byte, h io.Writer, providers map[string]bool, info *configInfo) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return false
	}
	for _, key := range sortedKeys(top) {
		raw := top[key]
		switch key {
		case "resource", "data":
			for _, obj := range jsonObjects(raw) {
				for typ := range obj {
					noteType(typ, providers, info)
				}
			}
		case "terraform", "provider", "module":
			fmt.Fprintf(h, "json %q %q\n", name, key)
			h.Write(raw)
			if key == "provider" {
				for _, pb := range jsonObjects(raw) {
					for _, cfg := range jsonObjects(pb["aws"]) {
						var alias string
						if json.Unmarshal(cfg["alias"], &alias) == nil && alias != "" {
							info.awsAliases = append(info.awsAliases, alias)
						}
					}
				}
			}
			if key == "terraform" {
				for _, tb := range jsonObjects(raw) {
					for _, rp := range jsonObjects(tb["required_providers"]) {
						if _, ok := rp["aws"]; ok {
							info.requiresAWS = true
						}
					}
				}
			}
		}
	}
	return true
}

// jsonObjects decodes a block in Terraform's JSON syntax, which may be an
// object or an array of objects.
func jsonObjects(raw json.RawMessage) []map[string]json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var one map[string]json.RawMessage
	if json.Unmarshal(raw, &one) == nil {
		return []map[string]json.RawMessage{one}
	}
	var many []map[string]json.RawMessage
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
