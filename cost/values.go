package cost

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// attrs reads a resource's planned attribute values. It is liberal on
// purpose: values come from `terraform show -json` decoded with or without
// UseNumber, may have passed through a database, and anything not known at
// plan time is simply absent or null. A value of the wrong shape counts as
// absent, so the caller falls back to AWS's default rather than failing.
type attrs map[string]any

// number returns a finite numeric attribute.
func (a attrs) number(key string) (float64, bool) {
	return toNumber(a[key])
}

func toNumber(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int32:
		f = float64(n)
	case int64:
		f = float64(n)
	case uint:
		f = float64(n)
	case uint32:
		f = float64(n)
	case uint64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// str returns a string attribute; an empty string counts as absent.
func (a attrs) str(key string) (string, bool) {
	s, ok := a[key].(string)
	return s, ok && s != ""
}

// boolean returns a boolean attribute, also accepting "true"/"false".
func (a attrs) boolean(key string) (bool, bool) {
	switch b := a[key].(type) {
	case bool:
		return b, true
	case string:
		v, err := strconv.ParseBool(b)
		return v, err == nil
	}
	return false, false
}

// blocks returns a nested block's instances. Plan JSON renders blocks as a
// list of objects, even a block that may appear once; a lone object is
// accepted too.
func (a attrs) blocks(key string) []attrs {
	var out []attrs
	switch v := a[key].(type) {
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, attrs(m))
			}
		}
	case []map[string]any:
		for _, m := range v {
			out = append(out, attrs(m))
		}
	case map[string]any:
		out = append(out, attrs(v))
	}
	return out
}

// strings returns a list-of-strings attribute.
func (a attrs) strings(key string) []string {
	var out []string
	switch v := a[key].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = v
	}
	return out
}
