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

// archiveFile holds archive_file to the project's own files: source_file
// must be a submitted file and source_dir a directory of them (never the
// project directory itself, which holds .terraform, tenantform's files and
// saved plans), after ".." is resolved. output_path is where the zip is
// written on the host.
func (c *checker) archiveFile(b *body) {
	if a := b.attr("source_file"); a != nil {
		if n, ok := c.asNative(a.expr); !ok || !c.submitted(n) {
			c.report(a.line, "archive_file source_file must name a file of the project, e.g. \"${path.module}/src/index.js\": any other path would zip a file of the tenantform host")
		}
	}
	if a := b.attr("source_dir"); a != nil {
		if !c.sourceDirOK(a.expr) {
			c.report(a.line, "archive_file source_dir must name a directory of the project other than the project directory itself, e.g. \"${path.module}/src\": any other directory would zip files of the tenantform host")
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
		c.report(a.line, "archive_file output_path must be a new file name ending in \".zip\" inside the project, e.g. \"${path.module}/lambda.zip\": the archive is written on the tenantform host")
	}
}

func (c *checker) submitted(n hclsyntax.Expression) bool {
	_, _, ok := c.submittedPath(n)
	return ok
}

// sourceDirOK accepts a literal path to a directory holding submitted
// files, other than the project directory.
func (c *checker) sourceDirOK(e hcl.Expression) bool {
	n, ok := c.asNative(e)
	if !ok {
		return false
	}
	raw, literal := pathLiteral(n)
	if !literal {
		return false
	}
	dir, inside := c.projectPath(raw)
	if !inside || dir == "" {
		return false
	}
	for name := range c.files {
		if strings.HasPrefix(name, dir+"/") {
			return true
		}
	}
	return false
}

// archiveOutputOK accepts a .zip path inside the project that overwrites
// no submitted file and no name tenantform reserves.
func (c *checker) archiveOutputOK(e hcl.Expression) bool {
	n, ok := c.asNative(e)
	if !ok {
		return false
	}
	raw, literal := pathLiteral(n)
	if !literal {
		return false
	}
	p, inside := c.projectPath(raw)
	if !inside || p == "" {
		return false
	}
	if _, exists := c.files[p]; exists {
		return false
	}
	kind, msg := classify(p)
	return msg == "" && kind == dataFile && strings.HasSuffix(p, ".zip")
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
