package policy

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The rules of this file read the values of a resource's arguments where
// the source alone decides them: literal tag keys, prevent_destroy, a
// literal region, count or for_each, and which resource a naming argument
// refers to. What only values decide is left to the plan check.

// lifecycle refuses prevent_destroy = true (or any value that is not the
// literal false): every project has a time to live, and a resource that
// refuses to be destroyed would keep its project in Destroying forever,
// counting against the user's quota and costing money.
func (c *checker) lifecycle(blk *block) {
	for _, lc := range c.nestedBodies(blk.body, "lifecycle") {
		a := lc.attr("prevent_destroy")
		if a == nil {
			continue
		}
		if v, ok := c.literalValue(a.expr); ok && v.Type() == cty.Bool && v.False() {
			continue
		}
		c.report(a.line, "lifecycle { prevent_destroy } is not allowed: every project is destroyed when it expires or is deleted, and nothing may outlive its time to live")
	}
}

// removedBlock allows removed blocks that destroy what they remove (the
// default) and refuses destroy = false, which would forget resources
// without destroying them: they would keep running, and costing, outside
// of any project tenantform knows about.
func (c *checker) removedBlock(blk *block) {
	c.walkBody(blk.body, 1, true)
	for _, lc := range c.nestedBodies(blk.body, "lifecycle") {
		a := lc.attr("destroy")
		if a == nil {
			continue
		}
		if v, ok := c.literalValue(a.expr); ok && v.Type() == cty.Bool && v.True() {
			continue
		}
		c.report(a.line, "removed blocks must destroy what they remove (lifecycle { destroy = true }): destroy = false would leave resources running in AWS that no project tracks")
	}
}

// repetition bounds a literal count or for_each: a resource repeated
// beyond the user's quota is refused before terraform spends memory and
// time planning it.
func (c *checker) repetition(blk *block) {
	limit := orDefault(c.rules.MaxResources, DefaultMaxResources)
	if a := blk.body.attr("count"); a != nil {
		if v, ok := c.literalValue(a.expr); ok && v.Type() == cty.Number {
			// Int64 saturates, so a count too big for it is caught too.
			if n, _ := v.AsBigFloat().Int64(); n > int64(limit) {
				c.report(a.line, "count = %s is more than the %d resources this project may have", v.AsBigFloat().Text('g', 10), limit)
			}
		}
	}
	if a := blk.body.attr("for_each"); a != nil {
		if n, ok := c.literalSize(a.expr); ok && n > limit {
			c.report(a.line, "for_each over %d elements is more than the %d resources this project may have", n, limit)
		}
	}
}

// literalSize returns the number of elements of a literal list, set
// (toset of a literal list) or map.
func (c *checker) literalSize(e hcl.Expression) (int, bool) {
	if items, ok := jsonObject(e); ok {
		return len(items), true
	}
	if items, ok := jsonArray(e); ok {
		return len(items), true
	}
	n, ok := c.asNative(e)
	if !ok {
		return 0, false
	}
	if w, ok := n.(*hclsyntax.TemplateWrapExpr); ok {
		n = w.Wrapped
	}
	switch n := n.(type) {
	case *hclsyntax.TupleConsExpr:
		return len(n.Exprs), true
	case *hclsyntax.ObjectConsExpr:
		return len(n.Items), true
	case *hclsyntax.FunctionCallExpr:
		if name := strings.TrimPrefix(n.Name, "core::"); (name == "toset" || name == "tomap") && len(n.Args) == 1 {
			return c.literalSize(n.Args[0])
		}
	}
	return 0, false
}

// literalValue evaluates an argument that needs no variables or functions.
func (c *checker) literalValue(e hcl.Expression) (cty.Value, bool) {
	if _, native := e.(hclsyntax.Expression); !native && !isContainer(e) {
		if _, isString := jsonString(e); !isString {
			// A JSON number or boolean.
			v, diags := e.Value(nil)
			if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
				return cty.NilVal, false
			}
			return v, true
		}
	}
	n, ok := c.asNative(e)
	if !ok {
		return cty.NilVal, false
	}
	if w, ok := n.(*hclsyntax.TemplateWrapExpr); ok {
		n = w.Wrapped
	}
	if len(n.Variables()) > 0 {
		return cty.NilVal, false
	}
	switch n.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.UnaryOpExpr:
	default:
		return cty.NilVal, false
	}
	v, diags := n.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

// resourceTags refuses platform tag keys written in a resource's tags
// (the aws provider lets resource tags win over default_tags) and any
// tags_all, which the provider computes.
func (c *checker) resourceTags(typ string, b *body) {
	if !strings.HasPrefix(typ, "aws_") {
		return
	}
	if a := b.attr(tagsAllArg); a != nil {
		c.report(a.line, "tags_all may not be set: the aws provider computes it from default_tags and tags")
	}
	if a := b.attr(tagsArg); a != nil {
		c.platformKeys(a.expr, "tags")
	}
}

// platformKeys reports every literal object key of e, at any depth (tags
// = merge(var.x, { UserId = "..." }) included), that spells a platform
// tag key. Computed keys are left to the plan check of tags_all.
func (c *checker) platformKeys(e hcl.Expression, where string) {
	if items, ok := jsonObject(e); ok {
		for _, kv := range items {
			if key, ok := jsonString(kv.Key); ok {
				c.platformKey(key, kv.Key.Range().Start.Line, where)
			}
			c.platformKeys(kv.Value, where)
		}
		return
	}
	n, ok := c.asNative(e)
	if !ok {
		return
	}
	c.nativeKeys(n, where, 0)
}

func (c *checker) nativeKeys(n hclsyntax.Expression, where string, depth int) {
	if depth > c.maxDepth {
		return // reported by the walker
	}
	if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok {
		for _, item := range obj.Items {
			key := item.KeyExpr
			if k, ok := key.(*hclsyntax.ObjectConsKeyExpr); ok && !k.ForceNonLiteral {
				if name := hcl.ExprAsKeyword(k.Wrapped); name != "" {
					c.platformKey(name, k.Range().Start.Line, where)
					continue
				}
				key = k.Wrapped
			}
			if s, ok := c.literalString(key); ok {
				c.platformKey(s, key.Range().Start.Line, where)
			}
		}
	}
	for _, child := range tagChildren(n) {
		c.nativeKeys(child, where, depth+1)
	}
}

// tagChildren are the sub-expressions of a tags value that may hold more
// tag objects: merge arguments, both sides of a conditional, the values of
// an object (nested maps are refused by AWS anyway, but cost nothing to
// look at) and the value of a for expression.
func tagChildren(n hclsyntax.Expression) []hclsyntax.Expression {
	switch n := n.(type) {
	case *hclsyntax.FunctionCallExpr:
		return n.Args
	case *hclsyntax.ConditionalExpr:
		return []hclsyntax.Expression{n.TrueResult, n.FalseResult}
	case *hclsyntax.ParenthesesExpr:
		return []hclsyntax.Expression{n.Expression}
	case *hclsyntax.TemplateWrapExpr:
		return []hclsyntax.Expression{n.Wrapped}
	case *hclsyntax.ForExpr:
		return []hclsyntax.Expression{n.KeyExpr, n.ValExpr}
	case *hclsyntax.TupleConsExpr:
		return n.Exprs
	case *hclsyntax.ObjectConsExpr:
		var out []hclsyntax.Expression
		for _, item := range n.Items {
			out = append(out, item.ValueExpr)
		}
		return out
	}
	return nil
}

func (c *checker) platformKey(key string, line int, where string) {
	if p, ok := platformTagKey(key); ok {
		c.report(line, "%s may not set the %s tag: tenantform sets %s on every resource of the project (%s), and they identify its owner to AWS and to the platform", where, p, p, strings.Join(PlatformTagKeys, ", "))
	}
}

// defaultTags checks the tenant's default_tags block: one tags argument,
// an object of literal keys and literal string values (package tf merges
// it beneath the platform's tags, platform keys winning), and no platform
// key.
func (c *checker) defaultTags(blk *block) {
	for _, a := range blk.body.attrs {
		if a.name != "tags" {
			c.report(a.line, "default_tags may only set tags")
			continue
		}
		if _, ok := LiteralTags(a.expr); !ok {
			c.report(a.line, "default_tags tags must be an object of literal strings, such as { Team = \"web\" }: tenantform merges them with its own tags before terraform runs; use each resource's tags for computed values")
		}
		c.platformKeys(a.expr, "default_tags")
	}
	for _, nested := range blk.body.blocks {
		c.report(nested.line, "unexpected %s block in default_tags", nested.typ)
	}
}

// LiteralTags returns the tags of an object expression whose keys and
// values are all literal strings, in either syntax.
func LiteralTags(e hcl.Expression) (map[string]string, bool) {
	out := map[string]string{}
	if items, ok := jsonObject(e); ok {
		for _, kv := range items {
			k, ok1 := literalOf(kv.Key)
			v, ok2 := literalOf(kv.Value)
			if !ok1 || !ok2 {
				return nil, false
			}
			out[k] = v
		}
		return out, true
	}
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, false
	}
	for _, item := range obj.Items {
		key := item.KeyExpr
		k := ""
		if ck, ok := key.(*hclsyntax.ObjectConsKeyExpr); ok {
			if ck.ForceNonLiteral {
				return nil, false
			}
			k = hcl.ExprAsKeyword(ck.Wrapped)
			key = ck.Wrapped
		}
		if k == "" {
			s, ok := literalOf(key)
			if !ok {
				return nil, false
			}
			k = s
		}
		v, ok := literalOf(item.ValueExpr)
		if !ok {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

// literalOf returns the value of an expression that is a plain string in
// either syntax: no interpolation, reference or function call.
func literalOf(e hcl.Expression) (string, bool) {
	if s, ok := jsonString(e); ok {
		if strings.Contains(s, "${") || strings.Contains(s, "%{") {
			return "", false
		}
		return s, true
	}
	switch n := e.(type) {
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

// resourceRegions checks the literal regions of a resource (regionArgs).
func (c *checker) resourceRegions(typ string, b *body) {
	for _, r := range regionArgsOf(typ) {
		for _, a := range c.argsAt(b, r.Arg) {
			c.region(a, "region")
		}
	}
}

// argsAt returns the arguments at "arg", "block.arg" or
// "block.inner.arg" of a body, one per nested block carrying it.
func (c *checker) argsAt(b *body, arg string) []*attribute {
	first, rest, nested := strings.Cut(arg, ".")
	if !nested {
		if a := b.attr(arg); a != nil {
			return []*attribute{a}
		}
		return nil
	}
	var out []*attribute
	for _, nb := range c.nestedBodies(b, first) {
		out = append(out, c.argsAt(nb, rest)...)
	}
	return out
}

// ownedReferences holds every naming argument of ownedRefs to a reference
// to an identity attribute (identityAttrs: its name, id or ARN, not any
// attribute) of a resource of its target types declared in the same
// module. An argument with no target types may not be set.
func (c *checker) ownedReferences(typ string, b *body) {
	for _, ref := range ownedRefsOf(typ) {
		for _, a := range c.argsAt(b, ref.Arg) {
			if len(ref.Targets) == 0 {
				c.report(a.line, "%s.%s may not be set: it names a resource of a type tenants cannot create, so it could only be another tenant's or the platform's", typ, ref.Arg)
				continue
			}
			if s, ok := c.literalString(a.expr); ok && (ref.Managed && c.managedPolicyAllowed(s) || ref.URL && isHTTPURL(s)) {
				continue
			}
			for _, item := range listItems(a.expr) {
				c.ownedReference(typ, ref, a.line, item, b)
			}
		}
	}
	c.checkedDynamicBlocks(typ, b)
}

// ownedReference checks one value of a naming argument.
func (c *checker) ownedReference(typ string, ref ownedRef, line int, e hcl.Expression, b *body) {
	target, attr, ok := c.resourceRefAttr(e)
	if !ok {
		target, attr, ok = c.eachRefAttr(e, b)
	}
	switch {
	case !ok:
		c.report(line, "%s.%s must refer to a resource of this project (%s), such as %s.<name>.%s: a literal or a variable could name another tenant's resource%s%s", typ, ref.Arg, strings.Join(ref.Targets, " or "), ref.Targets[0], refAttr(ref), managedHint(ref, c.rules.AllowedManagedPolicies), urlHint(ref))
	case !slices.Contains(ref.Targets, target):
		c.report(line, "%s.%s must refer to a resource of type %s, not %s", typ, ref.Arg, strings.Join(ref.Targets, " or "), target)
	case attr != "" && !isIdentity(target, attr):
		c.report(line, "%s.%s refers to %s.%s, which is not what names a %s: use its %s (any other attribute could spell another tenant's resource)", typ, ref.Arg, target, attr, target, strings.Join(identityAttrs[target], ", "))
	case attr == "":
		c.report(line, "%s.%s must refer to an attribute of %s naming it (%s), not the whole resource", typ, ref.Arg, target, strings.Join(identityAttrs[target], ", "))
	}
}

// listItems returns the elements of a tuple expression (layers = [a, b]),
// or the expression itself.
func listItems(e hcl.Expression) []hcl.Expression {
	if t, ok := e.(*hclsyntax.TupleConsExpr); ok {
		out := make([]hcl.Expression, len(t.Exprs))
		for i, x := range t.Exprs {
			out[i] = x
		}
		return out
	}
	if items, ok := jsonArray(e); ok {
		return items
	}
	return []hcl.Expression{e}
}

func urlHint(ref ownedRef) string {
	if !ref.URL {
		return ""
	}
	return ", or an http:// or https:// URL"
}

// checkedDynamicBlocks refuses a dynamic block generating a nested block
// the checks read (a naming argument, a region, a price-deciding size):
// the plan's configuration does not show a dynamic block's expressions,
// and its values unknown at plan look like those the provider computes.
func (c *checker) checkedDynamicBlocks(typ string, b *body) {
	var paths []string
	for _, r := range ownedRefsOf(typ) {
		paths = append(paths, r.Arg)
	}
	for _, r := range regionArgsOf(typ) {
		paths = append(paths, r.Arg)
	}
	for _, ca := range costArgs[typ] {
		paths = append(paths, ca.Arg)
	}
	c.dynamicIn(typ, b, paths)
}

func (c *checker) dynamicIn(typ string, b *body, paths []string) {
	for _, p := range paths {
		first, rest, nested := strings.Cut(p, ".")
		if !nested {
			continue
		}
		for _, blk := range b.blocks {
			if blk.typ == "dynamic" && blk.label(0) == first {
				c.report(blk.labelLine(0), "%s: dynamic %q is not allowed: its %s is checked at plan, and a generated block hides where the value comes from; write the %s block out", typ, first, rest, first)
			}
		}
		for _, nb := range c.nestedBodies(b, first) {
			c.dynamicIn(typ, nb, []string{rest})
		}
	}
}

func refAttr(ref ownedRef) string {
	switch {
	case strings.HasSuffix(ref.Arg, "_arn") || ref.Arg == "role" && ref.Type == "aws_lambda_function" || ref.Arg == "credentials" || ref.Arg == "layers" || ref.Arg == "policy_arn":
		return "arn"
	case strings.HasSuffix(ref.Arg, "uri"):
		return "invoke_arn"
	case ref.Arg == "table_name" || ref.Arg == "function_name" || ref.Arg == "restore_source_name" || ref.Arg == "log_group":
		return "name"
	case ref.Arg == "domain_name":
		return "domain_name"
	}
	return "id"
}

func managedHint(ref ownedRef, allowed []string) string {
	if !ref.Managed || len(allowed) == 0 {
		return ""
	}
	return ", or one of the AWS managed policies " + strings.Join(allowed, ", ")
}

func (c *checker) managedPolicyAllowed(arn string) bool {
	return managedPolicyAllowed(c.rules.AllowedManagedPolicies, arn)
}

// eachRefAttr accepts each.value.<attr> in a resource whose for_each is
// itself a reference to a resource of the module (for_each =
// aws_s3_bucket.sites), and returns that resource's type and attr.
func (c *checker) eachRefAttr(e hcl.Expression, b *body) (string, string, bool) {
	n, ok := c.asNative(e)
	if !ok {
		return "", "", false
	}
	if w, ok := n.(*hclsyntax.TemplateWrapExpr); ok {
		n = w.Wrapped
	}
	st, ok := n.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) < 2 || st.Traversal.RootName() != "each" {
		return "", "", false
	}
	if step, ok := st.Traversal[1].(hcl.TraverseAttr); !ok || step.Name != "value" {
		return "", "", false
	}
	fe := b.attr("for_each")
	if fe == nil {
		return "", "", false
	}
	typ, forAttr, ok := c.resourceRefAttr(fe.expr)
	if !ok || forAttr != "" {
		// for_each over one resource's attribute, not over instances.
		return "", "", false
	}
	return typ, firstAttr(st.Traversal[2:]), true
}

// eachRef is eachRefAttr without the attribute.
func (c *checker) eachRef(e hcl.Expression, b *body) (string, bool) {
	typ, _, ok := c.eachRefAttr(e, b)
	return typ, ok
}

// resourceRef returns the type of the managed resource an argument refers
// to, when it is a reference to a resource declared in the module (with
// an optional instance key and attribute: aws_s3_bucket.site.id,
// aws_s3_bucket.site[0].arn, "${aws_iam_role.x.arn}").
func (c *checker) resourceRef(e hcl.Expression) (string, bool) {
	typ, _, ok := c.resourceRefAttr(e)
	return typ, ok
}

// resourceRefAttr is resourceRef with the attribute referred to ("" for
// the whole resource or its instances).
func (c *checker) resourceRefAttr(e hcl.Expression) (string, string, bool) {
	n, ok := c.asNative(e)
	if !ok {
		return "", "", false
	}
	attr := ""
	for {
		switch x := n.(type) {
		case *hclsyntax.TemplateWrapExpr:
			n = x.Wrapped
			continue
		case *hclsyntax.RelativeTraversalExpr:
			if a := firstAttr(x.Traversal); a != "" {
				attr = a
			}
			n = x.Source
			continue
		case *hclsyntax.IndexExpr:
			n = x.Collection
			continue
		case *hclsyntax.SplatExpr:
			if rt, ok := x.Each.(*hclsyntax.RelativeTraversalExpr); ok {
				if a := firstAttr(rt.Traversal); a != "" {
					attr = a
				}
			}
			n = x.Source
			continue
		}
		break
	}
	st, ok := n.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) < 2 {
		return "", "", false
	}
	typ := st.Traversal.RootName()
	name, ok := st.Traversal[1].(hcl.TraverseAttr)
	if !ok || !c.project.declares(c.dir, typ, name.Name) {
		return "", "", false
	}
	if a := firstAttr(st.Traversal[2:]); a != "" {
		attr = a
	}
	return typ, attr, true
}

// firstAttr returns the first attribute name of a traversal, skipping
// instance keys and splats.
func firstAttr(t hcl.Traversal) string {
	for _, step := range t {
		if a, ok := step.(hcl.TraverseAttr); ok {
			return a.Name
		}
	}
	return ""
}
