package policy

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
)

// parsed is one configuration file read the way terraform reads it: native
// HCL with hclsyntax, JSON with hcl/v2's JSON parser. Terraform's JSON
// syntax keeps every duplicate property ("resource" twice is two sets of
// blocks); a decoder where the last duplicate wins would show the policy
// less than terraform runs. Every reader of tenant configuration in
// tenantform goes through parseConfig.
type parsed struct {
	body *body
	// problem is set when the file was not parsed: deepLine for nesting
	// beyond the pre-scan bound, diags for syntax and structure errors.
	deep     bool
	deepLine int
	diags    hcl.Diagnostics
}

// parseConfig parses a configuration file. Its nesting is bounded before
// any parser sees it (see depth.go). A JSON file with structural errors
// still returns the body read so far, with the errors.
func parseConfig(name, src string, kind fileKind, limit int) parsed {
	switch kind {
	case nativeConfig:
		tokens, _ := hclsyntax.LexConfig([]byte(src), name, hcl.InitialPos)
		if line, deep := tokenNesting(tokens, limit); deep {
			return parsed{deep: true, deepLine: line}
		}
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		if diags.HasErrors() {
			return parsed{diags: diags}
		}
		syntaxBody, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return parsed{diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "the file could not be read as HCL"}}}
		}
		return parsed{body: nativeBody(syntaxBody)}
	case jsonConfig:
		if line, deep := jsonNesting(src, limit); deep {
			return parsed{deep: true, deepLine: line}
		}
		f, diags := json.Parse([]byte(src), name)
		if diags.HasErrors() {
			return parsed{diags: diags}
		}
		b, structure := jsonBody(f.Body, topShape)
		return parsed{body: b, diags: structure}
	}
	return parsed{}
}
