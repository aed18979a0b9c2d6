package policy

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// body is the content of one configuration body, independent of the syntax
// it was written in. Native HCL and JSON files are both turned into this
// shape so that one set of rules applies to both: a rule written against
// body cannot forget the JSON form of a construct.
type body struct {
	attrs  []*attribute
	blocks []*block
	// json is set for bodies read from .tf.json files. There, an object
	// property may stand for an argument or for a nested block (only the
	// provider's schema decides), so properties the shapes below do not
	// name stay attributes and are checked as values.
	json bool
}

type attribute struct {
	name string
	line int
	expr hcl.Expression
}

type block struct {
	typ    string
	labels []string
	line   int   // of the block type
	lines  []int // of each label: in .tf.json files labels are keys on lines of their own
	body   *body
}

// attr returns the argument called name, or nil.
func (b *body) attr(name string) *attribute {
	for _, a := range b.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}

// label returns the i-th label of a block, or "" when it has fewer.
func (blk *block) label(i int) string {
	if i < len(blk.labels) {
		return blk.labels[i]
	}
	return ""
}

// labelLine returns the line of the i-th label, or of the block type.
func (blk *block) labelLine(i int) int {
	if i < len(blk.lines) {
		return blk.lines[i]
	}
	return blk.line
}

func rangeLines(ranges []hcl.Range) []int {
	lines := make([]int, len(ranges))
	for i, r := range ranges {
		lines[i] = r.Start.Line
	}
	return lines
}

// nativeBody converts a parsed .tf body. Its recursion follows the block
// nesting of the source, which the pre-scan in depth.go has already bounded.
func nativeBody(b *hclsyntax.Body) *body {
	out := &body{}
	for _, a := range b.Attributes {
		out.attrs = append(out.attrs, &attribute{name: a.Name, line: a.NameRange.Start.Line, expr: a.Expr})
	}
	// Attributes come from a map: sort them so that the order of
	// violations does not depend on map iteration.
	sort.Slice(out.attrs, func(i, j int) bool {
		if out.attrs[i].line != out.attrs[j].line {
			return out.attrs[i].line < out.attrs[j].line
		}
		return out.attrs[i].name < out.attrs[j].name
	})
	for _, blk := range b.Blocks {
		out.blocks = append(out.blocks, &block{
			typ:    blk.Type,
			labels: blk.Labels,
			line:   blk.TypeRange.Start.Line,
			lines:  rangeLines(blk.LabelRanges),
			body:   nativeBody(blk.Body),
		})
	}
	return out
}

// shape tells the JSON reader which properties of a body are blocks and how
// many labels they take; the JSON syntax cannot say so itself. Only the
// structure the rules depend on is described: the top level, the terraform
// block and the meta-blocks of resources (lifecycle, provisioner,
// connection, dynamic).
type shape map[string]blockShape

type blockShape struct {
	labels int
	body   shape
}

var (
	resourceShape shape // filled in init: dynamic blocks nest
	dynamicShape  shape

	terraformShape = shape{
		"backend":            {labels: 1},
		"cloud":              {labels: 0},
		"required_providers": {labels: 0},
		"provider_meta":      {labels: 1},
	}

	// providerShape names the nested blocks of a provider configuration
	// that the rules treat as blocks.
	providerShape = shape{
		"default_tags":                  {labels: 0},
		"ignore_tags":                   {labels: 0},
		"assume_role":                   {labels: 0},
		"assume_role_with_web_identity": {labels: 0},
		"endpoints":                     {labels: 0},
	}

	topShape shape
)

func init() {
	resourceShape = shape{
		"lifecycle":   {labels: 0},
		"provisioner": {labels: 1, body: shape{"connection": {labels: 0}}},
		"connection":  {labels: 0},
	}
	dynamicShape = shape{"content": {labels: 0, body: shape{}}}
	resourceShape["dynamic"] = blockShape{labels: 1, body: dynamicShape}
	dynamicShape["content"].body["dynamic"] = blockShape{labels: 1, body: dynamicShape}

	topShape = shape{
		"terraform": {labels: 0, body: terraformShape},
		"provider":  {labels: 1, body: providerShape},
		"resource":  {labels: 2, body: resourceShape},
		"data":      {labels: 2, body: resourceShape},
		"ephemeral": {labels: 2, body: resourceShape},
		"module":    {labels: 1},
		"variable":  {labels: 1},
		"output":    {labels: 1},
		"locals":    {labels: 0},
		"moved":     {labels: 0},
		"import":    {labels: 0},
		"removed":   {labels: 0, body: resourceShape},
		"check":     {labels: 1, body: shape{"data": {labels: 2, body: resourceShape}}},
	}
}

// jsonBody converts a body of a .tf.json file. The returned diagnostics are
// structural errors (a block that is not an object, a duplicate argument):
// Terraform would refuse them too, and the policy cannot see through them.
func jsonBody(b hcl.Body, s shape) (*body, hcl.Diagnostics) {
	out := &body{json: true}
	var diags hcl.Diagnostics
	rest := b
	if len(s) > 0 {
		names := make([]string, 0, len(s))
		for name := range s {
			names = append(names, name)
		}
		sort.Strings(names)
		schema := &hcl.BodySchema{}
		for _, name := range names {
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: name, LabelNames: labelNames(s[name].labels)})
		}
		content, remain, d := b.PartialContent(schema)
		diags = append(diags, d...)
		if content != nil {
			for _, blk := range content.Blocks {
				child, d := jsonBody(blk.Body, s[blk.Type].body)
				diags = append(diags, d...)
				out.blocks = append(out.blocks, &block{
					typ:    blk.Type,
					labels: blk.Labels,
					line:   blk.TypeRange.Start.Line,
					lines:  rangeLines(blk.LabelRanges),
					body:   child,
				})
			}
		}
		rest = remain
	}
	if rest == nil {
		return out, diags
	}
	attrs, d := rest.JustAttributes()
	diags = append(diags, d...)
	for _, a := range attrs {
		out.attrs = append(out.attrs, &attribute{name: a.Name, line: a.NameRange.Start.Line, expr: a.Expr})
	}
	sort.Slice(out.attrs, func(i, j int) bool {
		if out.attrs[i].line != out.attrs[j].line {
			return out.attrs[i].line < out.attrs[j].line
		}
		return out.attrs[i].name < out.attrs[j].name
	})
	return out, diags
}

func labelNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "label"
	}
	return names
}
