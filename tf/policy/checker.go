package policy

import (
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checker accumulates the violations of one submission.
type checker struct {
	rules     Rules
	files     map[string]string
	maxDepth  int
	scanLimit int
	out       []Violation

	// parsed holds every configuration file, parsed before any is
	// checked; project is what they declare, module by module.
	parsed  map[string]parsed
	project *project

	// file is the file being checked and dir its module's directory
	// ("" for the root module); tooDeep is set once its nesting violation
	// is reported, so that one deep spot yields one violation.
	file    string
	dir     string
	tooDeep bool

	// templates lists the files read by templatefile(). Terraform renders
	// them with (almost) every function available, file() included, so
	// they are checked like configuration once all files are walked.
	templates []string
}

// maxDiagnostics bounds the syntax errors reported per file: past the
// first few they mostly repeat the first one.
const maxDiagnostics = 10

func (c *checker) report(line int, format string, args ...any) {
	c.out = append(c.out, Violation{File: displayName(c.file), Line: line, Message: fmt.Sprintf(format, args...)})
}

// enter says whether a node at depth may be walked, and reports the first
// node of the file that is too deep.
func (c *checker) enter(depth, line int) bool {
	if depth <= c.maxDepth {
		return true
	}
	c.tooDeepAt(line)
	return false
}

func (c *checker) tooDeepAt(line int) {
	if c.tooDeep {
		return
	}
	c.tooDeep = true
	c.report(line, "nesting is too deep: at most %d levels of blocks and expressions are allowed", c.maxDepth)
}

func (c *checker) diagnostics(prefix string, diags hcl.Diagnostics) {
	n := 0
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if n == maxDiagnostics {
			c.report(0, "more errors are not shown")
			return
		}
		n++
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		c.report(line, "%s: %s", prefix, msg)
		c.out[len(c.out)-1].Reason = ReasonSyntax
	}
}

// MaxViolations bounds the list Check returns. A megabyte of hostile
// configuration can hold tens of thousands of violations; past this many
// the tenant learns nothing more, and the list goes into API responses and
// run records.
const MaxViolations = 500

// result sorts the violations by file and line, drops duplicates, and cuts
// the list at MaxViolations with a note saying how many were left out.
func (c *checker) result() []Violation {
	if len(c.out) == 0 {
		return nil
	}
	sort.SliceStable(c.out, func(i, j int) bool {
		a, b := c.out[i], c.out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Message < b.Message
	})
	out := slices.Compact(c.out)
	if len(out) > MaxViolations {
		kept := out[:MaxViolations-1]
		note := Violation{File: submissionFile, Message: fmt.Sprintf("%d more problems are not shown", len(out)-len(kept))}
		out = append([]Violation{note}, kept...)
	}
	return out
}

// startFile switches the checker to another file.
func (c *checker) startFile(name string) {
	c.file = name
	c.dir = moduleDir(name)
	c.tooDeep = false
}

// configFile checks one parsed .tf or .tf.json file. A file that does
// not parse is reported and not checked further: its partial tree says
// too little, and terraform would refuse it anyway.
func (c *checker) configFile(name string) {
	c.startFile(name)
	p, ok := c.parsed[name]
	if !ok {
		return
	}
	switch {
	case p.deep:
		c.tooDeepAt(p.deepLine)
		return
	case p.body == nil:
		c.diagnostics("syntax error", p.diags)
		return
	}
	c.diagnostics("invalid structure", p.diags)
	c.topLevel(p.body)
}

// templateFiles checks the files rendered by templatefile(). A template
// may itself call file functions, so it follows the same expression rules.
func (c *checker) templateFiles() {
	seen := map[string]bool{}
	for i := 0; i < len(c.templates); i++ { // the walk may append more
		name := c.templates[i]
		if seen[name] {
			continue
		}
		seen[name] = true
		c.startFile(name)
		c.dir = "" // a template reads files relative to the working directory
		src := []byte(c.files[name])
		tokens, _ := hclsyntax.LexTemplate(src, name, hcl.InitialPos)
		if line, deep := tokenNesting(tokens, c.scanLimit); deep {
			c.tooDeepAt(line)
			continue
		}
		t, diags := hclsyntax.ParseTemplate(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			c.diagnostics("template syntax error (the file is read with templatefile)", diags)
			continue
		}
		c.native(t, 1)
	}
}
