package policy

import (
	"sort"
)

// RequiredVariable is a variable of the root module that declares no
// default: a plan fails unless the spec's "variables" gives it a value.
type RequiredVariable struct {
	Name string
	File string
	Line int
}

// RequiredVariables lists the root module's variables without a default,
// sorted by name, read with the parser Check uses. Files that do not parse
// are skipped: Check reports them.
func RequiredVariables(files map[string]string) []RequiredVariable {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return requiredVariables(parseAll(files, names, scanLimit(DefaultMaxNestingDepth)))
}

// requiredVariables is RequiredVariables of files already parsed.
func requiredVariables(parsed map[string]parsed) []RequiredVariable {
	var out []RequiredVariable
	for name, p := range parsed {
		if p.body == nil || moduleDir(name) != "" {
			continue
		}
		for _, blk := range p.body.blocks {
			if blk.typ != "variable" || len(blk.labels) != 1 || blk.body == nil {
				continue
			}
			if blk.body.attr("default") != nil {
				continue
			}
			out = append(out, RequiredVariable{Name: blk.label(0), File: name, Line: blk.line})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
