package policy

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Some allowed types read or write files on the machine terraform runs on,
// through arguments rather than functions. Those arguments are held to the
// submitted files and to the archives the configuration builds itself.

// uploadArgs are arguments naming a local file whose content is uploaded
// to AWS, where the tenant could read it back.
var uploadArgs = map[string]string{
	"aws_lambda_function":      "filename",
	"aws_lambda_layer_version": "filename",
	"aws_s3_object":            "source",
}

// uploadPath allows a submitted file or the output of an archive_file.
func (c *checker) uploadPath(typ string, b *body) {
	arg := uploadArgs[typ]
	a := b.attr(arg)
	if a == nil {
		return
	}
	if n, ok := c.asNative(a.expr); ok {
		if isArchiveOutput(n) {
			return
		}
		if _, _, submitted := c.submittedPath(n); submitted {
			return
		}
	}
	c.report(a.line, "%s.%s must be an archive_file's output_path (e.g. data.archive_file.code.output_path) or a submitted file: any other path would upload a file of the tenantform host", typ, arg)
}

// isArchiveOutput recognises data.archive_file.NAME.output_path and
// archive_file.NAME.output_path, with an optional instance key, written
// bare or as "${...}".
func isArchiveOutput(e hclsyntax.Expression) bool {
	if w, ok := e.(*hclsyntax.TemplateWrapExpr); ok {
		e = w.Wrapped
	}
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return false
	}
	var names []string
	for _, step := range st.Traversal {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			names = append(names, s.Name)
		case hcl.TraverseAttr:
			names = append(names, s.Name)
		case hcl.TraverseIndex:
			// an instance key (count or for_each) does not change the path
		default:
			return false
		}
	}
	switch len(names) {
	case 4:
		return names[0] == "data" && names[1] == "archive_file" && names[3] == "output_path"
	case 3:
		return names[0] == "archive_file" && names[2] == "output_path"
	}
	return false
}

// archiveFile holds archive_file to inline content: source_file and
// source_dir would zip (and then upload) files of the host, and
// output_path is where the zip is written on the host.
func (c *checker) archiveFile(b *body) {
	for _, arg := range []string{"source_file", "source_dir"} {
		if a := b.attr(arg); a != nil {
			c.report(a.line, "archive_file may not set %s: it reads files of the tenantform host; zip inline content with source_content or source { content = ... }, e.g. content = file(\"index.js\")", arg)
		}
	}
	for _, src := range c.nestedBodies(b, "source") {
		for _, a := range src.attrs {
			if a.name != "content" && a.name != "filename" {
				c.report(a.line, "archive_file source blocks may only set content and filename, not %s", a.name)
			}
		}
	}
	if a := b.attr("output_path"); a != nil && !c.archiveOutputOK(a.expr) {
		c.report(a.line, "archive_file output_path must be a new plain file name ending in \".zip\", e.g. \"lambda.zip\" or \"${path.module}/lambda.zip\": the archive is written on the tenantform host")
	}
}

// archiveOutputOK accepts a plain .zip name in the project directory that
// does not overwrite a submitted file, a reserved file or a hidden one.
func (c *checker) archiveOutputOK(e hcl.Expression) bool {
	n, ok := c.asNative(e)
	if !ok {
		return false
	}
	raw, literal := pathLiteral(n)
	if !literal {
		return false
	}
	name, found := strings.CutPrefix(raw, pathModule+"/")
	if !found {
		name, _ = strings.CutPrefix(raw, "./")
	}
	if _, exists := c.files[name]; exists {
		return false
	}
	return name != "" && len(name) <= maxNameLength && plainChars(name) &&
		!strings.HasPrefix(name, ".") && !strings.Contains(name, "..") &&
		!strings.HasPrefix(strings.ToLower(name), reservedPrefix) &&
		strings.HasSuffix(name, ".zip")
}

// nestedBodies returns the bodies of the nested blocks called name. In a
// .tf.json body such blocks are a property holding an object or an array
// of objects.
func (c *checker) nestedBodies(b *body, name string) []*body {
	var out []*body
	for _, blk := range b.blocks {
		if blk.typ == name {
			out = append(out, blk.body)
		}
	}
	a := b.attr(name)
	if a == nil || !b.json {
		return out
	}
	values := []hcl.Expression{a.expr}
	if items, ok := jsonArray(a.expr); ok {
		values = items
	}
	for _, v := range values {
		items, ok := jsonObject(v)
		if !ok {
			continue
		}
		nested := &body{json: true}
		for _, kv := range items {
			key, _ := jsonString(kv.Key)
			nested.attrs = append(nested.attrs, &attribute{name: key, line: kv.Key.Range().Start.Line, expr: kv.Value})
		}
		out = append(out, nested)
	}
	return out
}
