package policy

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fileFunctions read files, or reveal paths, of the machine terraform runs
// on. They are allowed only on a file the tenant submitted, named by a
// literal, so that what they read is known before terraform starts.
var fileFunctions = map[string]bool{
	"file":             true,
	"fileexists":       true,
	"filebase64":       true,
	"filebase64sha256": true,
	"filebase64sha512": true,
	"filemd5":          true,
	"filesha1":         true,
	"filesha256":       true,
	"filesha512":       true,
	"templatefile":     true,
	"pathexpand":       true,
}

// refusedFunctions cannot be made safe by looking at their arguments.
var refusedFunctions = map[string]string{
	"fileset":        "fileset is not allowed: it lists files of the tenantform host; name each file instead",
	"abspath":        "abspath is not allowed: it returns a directory of the tenantform host; use a path relative to the module, e.g. \"${path.module}/src\"",
	"templatestring": "templatestring is not allowed: it renders a template built while terraform runs, which cannot be checked beforehand; use templatefile with a submitted file",
}

// examplePaths is the tail of every message about a file function's path.
const examplePaths = `name the file literally, e.g. "${path.module}/src/index.js"`

// expr checks an expression of either syntax. blockish is set for the
// arguments of resource bodies in .tf.json files, where an object property
// may be a nested block (see jsonValue).
func (c *checker) expr(e hcl.Expression, depth int, blockish bool) {
	if e == nil {
		return
	}
	if n, ok := e.(hclsyntax.Expression); ok {
		c.native(n, depth)
		return
	}
	c.jsonValue(e, depth, blockish)
}

// jsonValue checks a JSON value. Objects and arrays are walked; strings are
// HCL templates in Terraform's JSON syntax ("${file(\"x\")}"), so they are
// parsed and checked like native expressions.
//
// In resource bodies (blockish), a "provisioner" or "connection" property
// holding an object is a block in the making: the JSON syntax cannot tell
// blocks from arguments, so such properties are refused at any depth, as
// the native walker refuses the blocks.
func (c *checker) jsonValue(e hcl.Expression, depth int, blockish bool) {
	if !c.enter(depth, e.Range().Start.Line) {
		return
	}
	if items, ok := jsonObject(e); ok {
		for _, kv := range items {
			key, _ := jsonString(kv.Key)
			if blockish && isContainer(kv.Value) {
				if msg, refused := refusedBlocks[key]; refused {
					c.report(kv.Key.Range().Start.Line, "%s", msg)
					continue
				}
			}
			// Keys of JSON objects are templates too.
			if t := c.jsonTemplate(kv.Key); t != nil {
				c.native(t, depth+1)
			}
			c.jsonValue(kv.Value, depth+1, blockish)
		}
		return
	}
	if items, ok := jsonArray(e); ok {
		for _, item := range items {
			c.jsonValue(item, depth+1, blockish)
		}
		return
	}
	if t := c.jsonTemplate(e); t != nil {
		c.native(t, depth+1)
	}
}

// jsonObject and jsonArray see through the JSON syntax's expression type,
// which exposes objects and arrays only through these methods. Both return
// a non-nil slice, possibly empty, exactly when the value has that type.
func jsonObject(e hcl.Expression) ([]hcl.KeyValuePair, bool) {
	if _, native := e.(hclsyntax.Expression); native {
		return nil, false
	}
	m, ok := e.(interface{ ExprMap() []hcl.KeyValuePair })
	if !ok {
		return nil, false
	}
	items := m.ExprMap()
	return items, items != nil
}

func jsonArray(e hcl.Expression) ([]hcl.Expression, bool) {
	if _, native := e.(hclsyntax.Expression); native {
		return nil, false
	}
	l, ok := e.(interface{ ExprList() []hcl.Expression })
	if !ok {
		return nil, false
	}
	items := l.ExprList()
	return items, items != nil
}

func isContainer(e hcl.Expression) bool {
	if _, ok := jsonObject(e); ok {
		return true
	}
	_, ok := jsonArray(e)
	return ok
}

// jsonString returns the text of a JSON string value. With a nil context
// the JSON syntax returns strings verbatim and never recurses.
func jsonString(e hcl.Expression) (string, bool) {
	if _, ok := e.(hclsyntax.Expression); ok {
		return "", false
	}
	if _, ok := jsonObject(e); ok {
		return "", false
	}
	if _, ok := jsonArray(e); ok {
		return "", false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// jsonTemplate parses a JSON string as the HCL template Terraform will make
// of it, or returns nil when e is not a string. A string that is not a
// valid template yields nil as well: Terraform cannot evaluate it either,
// so nothing in it can run. The template's nesting is bounded before it is
// parsed, like a file's.
func (c *checker) jsonTemplate(e hcl.Expression) hclsyntax.Expression {
	src, ok := jsonString(e)
	if !ok {
		return nil
	}
	start := e.Range().Start
	if !strings.Contains(src, "${") && !strings.Contains(src, "%{") {
		return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(src), SrcRange: e.Range()}
	}
	// Skip the opening quote. Escapes inside the JSON string shift later
	// positions a little; lines stay close enough to point at the string.
	pos := hcl.Pos{Line: start.Line, Column: start.Column + 1, Byte: start.Byte + 1}
	tokens, _ := hclsyntax.LexTemplate([]byte(src), c.file, pos)
	if line, deep := tokenNesting(tokens, c.scanLimit); deep {
		c.tooDeepAt(line)
		return nil
	}
	t, diags := hclsyntax.ParseTemplate([]byte(src), c.file, pos)
	if diags.HasErrors() {
		return nil
	}
	return t
}

// asNative returns the HCL expression an argument of either syntax stands
// for: itself for native files, the parsed template for JSON strings.
func (c *checker) asNative(e hcl.Expression) (hclsyntax.Expression, bool) {
	if n, ok := e.(hclsyntax.Expression); ok {
		return n, true
	}
	t := c.jsonTemplate(e)
	return t, t != nil
}

// literalString returns the value of an argument that is a plain string:
// no interpolation, no reference, no function call.
func (c *checker) literalString(e hcl.Expression) (string, bool) {
	n, ok := c.asNative(e)
	if !ok {
		return "", false
	}
	switch n := n.(type) {
	case *hclsyntax.LiteralValueExpr:
		if n.Val.Type() == cty.String && n.Val.IsKnown() && !n.Val.IsNull() {
			return n.Val.AsString(), true
		}
	case *hclsyntax.TemplateExpr:
		var sb strings.Builder
		for _, part := range n.Parts {
			lit, ok := part.(*hclsyntax.LiteralValueExpr)
			if !ok || lit.Val.Type() != cty.String || !lit.Val.IsKnown() || lit.Val.IsNull() {
				return "", false
			}
			sb.WriteString(lit.Val.AsString())
		}
		return sb.String(), true
	}
	return "", false
}

// native checks an expression of the native syntax (or a template from a
// JSON string). It walks the tree itself, rather than with hclsyntax.Walk,
// so that it stops at the nesting limit: left-nested chains such as
// a+a+a+... parse without recursion but produce arbitrarily deep trees.
func (c *checker) native(e hclsyntax.Expression, depth int) {
	if e == nil || !c.enter(depth, e.Range().Start.Line) {
		return
	}
	next := depth + 1
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.AnonSymbolExpr:
	case *hclsyntax.ScopeTraversalExpr:
		c.traversal(e.Traversal, e.SrcRange.Start.Line)
	case *hclsyntax.RelativeTraversalExpr:
		c.native(e.Source, next)
	case *hclsyntax.FunctionCallExpr:
		c.call(e)
		for _, arg := range e.Args {
			c.native(arg, next)
		}
	case *hclsyntax.ConditionalExpr:
		c.native(e.Condition, next)
		c.native(e.TrueResult, next)
		c.native(e.FalseResult, next)
	case *hclsyntax.IndexExpr:
		c.native(e.Collection, next)
		c.native(e.Key, next)
	case *hclsyntax.TupleConsExpr:
		for _, item := range e.Exprs {
			c.native(item, next)
		}
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			c.native(item.KeyExpr, next)
			c.native(item.ValueExpr, next)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		// A bare word key ({path = 1}) is a name, not a reference.
		if e.ForceNonLiteral || hcl.ExprAsKeyword(e.Wrapped) == "" {
			c.native(e.Wrapped, next)
		}
	case *hclsyntax.ForExpr:
		c.native(e.CollExpr, next)
		c.native(e.KeyExpr, next)
		c.native(e.ValExpr, next)
		c.native(e.CondExpr, next)
	case *hclsyntax.SplatExpr:
		c.native(e.Source, next)
		c.native(e.Each, next)
	case *hclsyntax.BinaryOpExpr:
		c.native(e.LHS, next)
		c.native(e.RHS, next)
	case *hclsyntax.UnaryOpExpr:
		c.native(e.Val, next)
	case *hclsyntax.TemplateExpr:
		for _, part := range e.Parts {
			c.native(part, next)
		}
	case *hclsyntax.TemplateJoinExpr:
		c.native(e.Tuple, next)
	case *hclsyntax.TemplateWrapExpr:
		c.native(e.Wrapped, next)
	case *hclsyntax.ParenthesesExpr:
		c.native(e.Expression, next)
	default:
		// Fail closed: an expression this walker does not know could hide
		// a function call.
		c.report(e.Range().Start.Line, "unsupported expression (%T)", e)
	}
}

// traversal refuses references to path other than path.module and
// path.root. path.cwd is the directory terraform runs in on the host; a
// bare "path" would hand the whole object, cwd included, to a function.
func (c *checker) traversal(t hcl.Traversal, line int) {
	if t.RootName() != "path" {
		return
	}
	switch step := stepName(t); step {
	case "module", "root":
	case "cwd":
		c.report(line, "path.cwd is not allowed: it is a directory of the tenantform host; use path.module")
	default:
		c.report(line, "path may only be used as path.module or path.root")
	}
}

// stepName returns the name of the second step of a traversal, whether
// written path.x or path["x"].
func stepName(t hcl.Traversal) string {
	if len(t) < 2 {
		return ""
	}
	switch s := t[1].(type) {
	case hcl.TraverseAttr:
		return s.Name
	case hcl.TraverseIndex:
		if s.Key.IsKnown() && !s.Key.IsNull() && s.Key.Type() == cty.String {
			return s.Key.AsString()
		}
	}
	return ""
}

// call checks one function call (its arguments are walked by the caller).
// Terraform 1.8+ also accepts built-in functions as core::name.
func (c *checker) call(e *hclsyntax.FunctionCallExpr) {
	name := strings.TrimPrefix(e.Name, "core::")
	line := e.NameRange.Start.Line
	if msg, refused := refusedFunctions[name]; refused {
		c.report(line, "%s", msg)
		return
	}
	if !fileFunctions[name] || len(e.Args) == 0 {
		return
	}
	target, shown, ok := c.submittedPath(e.Args[0])
	switch {
	case ok:
		if name == "templatefile" {
			c.templates = append(c.templates, target)
		}
	case shown == "":
		c.report(line, "%s() with a computed path is not allowed: file functions may only read files submitted with the project; %s", name, examplePaths)
	default:
		c.report(line, "%s(%s) is not allowed: file functions may only read files submitted with the project; %s", name, describe(shown), examplePaths)
	}
}

// pathModule and pathRoot stand for ${path.module} and ${path.root}
// while a path is resolved; they cannot occur in a string.
const (
	pathModule = "\x00module"
	pathRoot   = "\x00root"
)

// submittedPath resolves a path argument written as "name", "./dir/name",
// "${path.module}/name" or "${path.root}/name" and returns the submitted
// file it names. When the path is not one, shown is the literal path for
// messages, or "" when the path is computed.
func (c *checker) submittedPath(e hclsyntax.Expression) (target, shown string, ok bool) {
	raw, literal := pathLiteral(e)
	if !literal {
		return "", "", false
	}
	shown = strings.NewReplacer(pathModule, "${path.module}", pathRoot, "${path.root}").Replace(raw)
	p, inside := c.projectPath(raw)
	if !inside || p == "" {
		return "", shown, false
	}
	if _, submitted := c.files[p]; !submitted {
		return "", shown, false
	}
	return p, shown, true
}

// projectPath resolves a literal path (from pathLiteral) to a path
// relative to the project directory. path.module is the directory of the
// module being checked; a relative path is relative to the directory
// terraform runs in, the root module's. It reports false for a path that
// leaves the project after ".." is resolved.
func (c *checker) projectPath(raw string) (string, bool) {
	base, rest := "", raw
	if r, ok := strings.CutPrefix(raw, pathModule); ok {
		base, rest = c.dir, r
	} else if r, ok := strings.CutPrefix(raw, pathRoot); ok {
		rest = r
	}
	if rest != raw {
		if rest != "" && !strings.HasPrefix(rest, "/") {
			return "", false
		}
		rest = strings.TrimPrefix(rest, "/")
	}
	if strings.Contains(rest, "\x00") {
		return "", false
	}
	return resolve(base, rest)
}

// pathLiteral returns the text of a string made of literals and, only at
// its start, path.module or path.root.
func pathLiteral(e hclsyntax.Expression) (string, bool) {
	var parts []hclsyntax.Expression
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		parts = e.Parts
	case *hclsyntax.LiteralValueExpr:
		parts = []hclsyntax.Expression{e}
	default:
		return "", false
	}
	var sb strings.Builder
	for i, part := range parts {
		switch p := part.(type) {
		case *hclsyntax.LiteralValueExpr:
			if p.Val.Type() != cty.String || !p.Val.IsKnown() || p.Val.IsNull() {
				return "", false
			}
			sb.WriteString(p.Val.AsString())
		case *hclsyntax.ScopeTraversalExpr:
			step := stepName(p.Traversal)
			if i != 0 || len(p.Traversal) != 2 || p.Traversal.RootName() != "path" {
				return "", false
			}
			switch step {
			case "module":
				sb.WriteString(pathModule)
			case "root":
				sb.WriteString(pathRoot)
			default:
				return "", false
			}
		default:
			return "", false
		}
	}
	return sb.String(), true
}

// describe is a short rendering of a string argument for messages.
func describe(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}
