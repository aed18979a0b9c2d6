package policy_test

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/policy"
)

// fill repeats unit between prefix and suffix (closer repeated as often as
// unit) to make a file just under the default size limit: the largest
// input a tenant can submit.
func fill(prefix, unit, closer, suffix string) string {
	return fillTo(policy.DefaultMaxTotalBytes-100, prefix, unit, closer, suffix)
}

// fillTo is fill for a file of about size bytes.
func fillTo(size int, prefix, unit, closer, suffix string) string {
	n := (size - len(prefix) - len(suffix)) / (len(unit) + len(closer))
	return prefix + strings.Repeat(unit, n) + strings.Repeat(closer, n) + suffix
}

// Lexing a megabyte of one-byte tokens costs about half a second of CPU,
// so the nesting cases below are smaller than the largest upload and the
// goroutine stack is made as much smaller as they are: a parser or walk
// that recursed once per repetition overflows the smaller stack at the
// smaller input just as it would the default stack (1 GB) at a megabyte,
// and the crash fails the test binary. Checked: with the pre-scans
// (tokenNesting, jsonNesting) switched off, thirteen of these cases crash it
// with a stack overflow and four more are not refused as too deep (the
// two left-nested ones are bounded by the walk, not the pre-scan).
const (
	pathologicalBytes = 128 << 10
	pathologicalStack = 16 << 20
)

// Each of these inputs makes one of the HCL parsers (or a walk over the
// parsed tree) recurse once per repetition. Unbounded, a megabyte of it
// overflows the goroutine stack, which kills the whole server: the test
// binary crashing is this test failing. Each must instead be refused as
// too deeply nested.
func TestPathologicalNestingIsRefused(t *testing.T) {
	fill := func(prefix, unit, closer, suffix string) string {
		return fillTo(pathologicalBytes, prefix, unit, closer, suffix)
	}
	old := debug.SetMaxStack(pathologicalStack)
	t.Cleanup(func() { debug.SetMaxStack(old) })
	cases := []struct {
		name, file, src string
	}{
		{"parentheses", "main.tf", fill("x = ", "(", ")", "")},
		{"brackets", "main.tf", fill("x = ", "[", "]", "")},
		{"objects", "main.tf", fill("x = ", "{a=", "}", "")},
		{"blocks", "main.tf", fill("", "a {\n", "}\n", "")},
		{"unary not", "main.tf", fill("x = ", "!", "", "true\n")},
		{"unary minus", "main.tf", fill("x = ", "-", "", "1\n")},
		{"unary not across newlines in parentheses", "main.tf", fill("x = (", "!\n", "", "true)\n")},
		{"unary not across newlines in a for expression", "main.tf", fill("x = {for k in y : k =>\n", "!\n", "", "true}\n")},
		{"conditional chain", "main.tf", fill("x = ", "a ? b : ", "", "c\n")},
		{"splat chain", "main.tf", fill("x = a", "[*]", "", "\n")},
		{"attribute splat chain", "main.tf", fill("x = a", ".*", "", "\n")},
		{"template interpolations", "main.tf", fill("x = ", `"${`, `}"`, "\n")},
		{"template if directives", "main.tf", fill(`x = "`, "%{if a}", "%{endif}", "\"\n")},
		{"heredocs", "main.tf", fill("x = ", "<<E\n${", "}\nE\n", "")},
		// These two parse without recursion, into trees as deep as they
		// are long; walking them must stop at the limit.
		{"left-nested binary operators", "main.tf", fill("locals {\n  x = a", "+a", "", "\n}\n")},
		{"left-nested index", "main.tf", fill("locals {\n  x = a", "[b]", "", "\n}\n")},
		{"json arrays", "main.tf.json", fill(`{"locals": {"x": `, "[", "]", "}}")},
		{"json objects", "main.tf.json", fill(`{"locals": {"x": `, `{"a":`, "}", "}}")},
		{"json string template", "main.tf.json", fill(`{"locals": {"x": "`, "${", "}", `"}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := policy.Check(map[string]string{tc.file: tc.src}, policy.DefaultRules())
			if len(got) == 0 || !strings.Contains(got[0].Message, "nesting is too deep") {
				t.Fatalf("got %v, want a nesting violation", got)
			}
		})
	}
}

// A template read by templatefile is parsed too, so it is bounded too.
func TestPathologicalTemplateFileIsRefused(t *testing.T) {
	files := map[string]string{
		"main.tf": `output "x" { value = templatefile("t.tftpl", {}) }`,
		"t.tftpl": fill("", "%{ for x in y }", "%{ endfor }", ""),
	}
	got := policy.Check(files, policy.DefaultRules())
	if len(got) != 1 || got[0].File != "t.tftpl" || !strings.Contains(got[0].Message, "nesting is too deep") {
		t.Fatalf("got %v, want one nesting violation in t.tftpl", got)
	}
}

// The depth limit follows MaxNestingDepth: the same file passes with a
// higher limit and fails with a lower one.
func TestMaxNestingDepthIsConfigurable(t *testing.T) {
	files := tf(`output "x" { value = [[[[[[1]]]]]] }`)
	rules := policy.DefaultRules()
	if got := policy.Check(files, rules); got != nil {
		t.Fatalf("default rules: got %v, want none", got)
	}
	rules.MaxNestingDepth = 5
	got := policy.Check(files, rules)
	if len(got) != 1 || !strings.Contains(got[0].Message, "at most 5 levels") {
		t.Fatalf("depth 5: got %v, want one nesting violation", got)
	}
}

// Zero limits mean the defaults, never "no limit".
func TestZeroLimitsMeanDefaults(t *testing.T) {
	rules := policy.DefaultRules()
	rules.MaxFiles, rules.MaxTotalBytes, rules.MaxNestingDepth = 0, 0, 0
	files := map[string]string{"big.txt": strings.Repeat("x", policy.DefaultMaxTotalBytes+1)}
	got := policy.Check(files, rules)
	if len(got) != 1 || !strings.Contains(got[0].Message, "too large") {
		t.Fatalf("got %v, want the submission refused as too large", got)
	}
}

// The pre-scan must not mistake a large but flat configuration for a deep
// one: operators are forgotten where their expression ends.
func TestLargeFlatConfigurationIsNotTooDeep(t *testing.T) {
	var native strings.Builder
	native.WriteString("variable \"on\" { default = true }\n\nlocals {\n")
	for i := range 300 {
		fmt.Fprintf(&native, "  n%d = var.on ? -%d : !var.on ? %d * 2 : -1\n", i, i, i)
	}
	native.WriteString("  colon_object = {\n")
	for i := range 200 {
		fmt.Fprintf(&native, "    k%d: var.on ? \"a\" : \"b\"\n", i)
	}
	native.WriteString("  }\n  tuple = [\n")
	for i := range 200 {
		fmt.Fprintf(&native, "    var.on ? -%d : %d,\n", i, i)
	}
	native.WriteString("  ]\n  text = <<EOT\n")
	for i := range 200 {
		fmt.Fprintf(&native, "%%{ if var.on }line %d%%{ else }-%%{ endif }\n", i)
	}
	native.WriteString("EOT\n}\n")

	var js strings.Builder
	js.WriteString(`{"resource": {"terraform_data": {`)
	for i := range 500 {
		if i > 0 {
			js.WriteString(",")
		}
		fmt.Fprintf(&js, `"r%d": {"input": "${var.on ? -%d : %d}"}`, i, i, i)
	}
	js.WriteString(`}}, "variable": {"on": {"default": true}}}`)

	files := map[string]string{"main.tf": native.String(), "more.tf.json": js.String()}
	if got := policy.Check(files, policy.DefaultRules()); got != nil {
		t.Fatalf("got %v, want no violation", got)
	}
}
