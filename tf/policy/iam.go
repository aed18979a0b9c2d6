package policy

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// IAM documents at source level: what the literals of a policy decide.
// The rules are the plan check's (actionRefusal, principalRefusal); a
// document computed from values is left to the plan, which admits a
// document unknown until apply only when its unknown parts are identities
// of the project's own resources. For that to mean anything, a computed
// value in a document must be such a reference as it is: the plan's
// configuration names what an expression refers to, not what it does
// with it (replace(aws_s3_bucket.b.id, "/.*/", "*") would be an action
// "*" computed from an identity). computedParts enforces it.

// iamDocuments checks the literal actions and principals written in a
// resource's policy arguments (jsonencode({...}) or a JSON string).
func (c *checker) iamDocuments(typ string, b *body) {
	for _, arg := range permissionPolicyArgs[typ] {
		for _, a := range c.argsAt(b, arg) {
			c.policyLiterals(a.expr, false, arg)
		}
	}
	for _, arg := range trustPolicyArgs[typ] {
		for _, a := range c.argsAt(b, arg) {
			c.policyLiterals(a.expr, true, arg)
		}
	}
}

// policyLiterals walks a policy expression for "Action" (and "NotAction")
// and, in trust policies, "Principal" (and "NotPrincipal") object keys.
func (c *checker) policyLiterals(e hcl.Expression, trust bool, arg string) {
	if n, ok := c.asNative(e); ok {
		c.computedParts(n, arg, 0)
	}
	if s, ok := c.literalString(e); ok {
		if trimmed := strings.TrimSpace(s); strings.HasPrefix(trimmed, "{") {
			c.policyJSON(trimmed, trust, arg, e.Range().Start.Line)
		}
		return
	}
	n, ok := c.asNative(e)
	if !ok {
		return
	}
	c.policyNative(n, trust, arg, 0)
}

func (c *checker) policyNative(n hclsyntax.Expression, trust bool, arg string, depth int) {
	if depth > c.maxDepth {
		return
	}
	if obj, ok := n.(*hclsyntax.ObjectConsExpr); ok && !denies(obj) {
		for _, item := range obj.Items {
			key := objectKey(item.KeyExpr)
			line := item.KeyExpr.Range().Start.Line
			switch {
			case key == "NotAction" && !trust:
				c.report(line, "%s allows NotAction, i.e. every other action: list the actions instead", arg)
			case key == "Action" && !trust:
				for _, action := range literalStrings(item.ValueExpr) {
					if why := actionRefusal(action); why != "" {
						c.report(line, "%s: %s", arg, why)
					}
				}
			case key == "NotPrincipal" && trust:
				c.report(line, "%s uses NotPrincipal: only AWS services may assume a tenant role", arg)
			case key == "Principal" && trust:
				c.principalLiteral(item.ValueExpr, arg, line)
			}
		}
	}
	for _, child := range tagChildren(n) {
		c.policyNative(child, trust, arg, depth+1)
	}
}

// denies reports a statement whose Effect is literally "Deny": what it
// names is taken away, not granted.
func denies(obj *hclsyntax.ObjectConsExpr) bool {
	for _, item := range obj.Items {
		if objectKey(item.KeyExpr) == "Effect" {
			v, _ := literalOf(item.ValueExpr)
			return v == "Deny"
		}
	}
	return false
}

// principalLiteral refuses a literal "*" principal and principal kinds
// other than Service, except AWS principals that are references to the
// ARNs of the module's own roles.
func (c *checker) principalLiteral(e hclsyntax.Expression, arg string, line int) {
	if s, ok := literalOf(e); ok {
		c.report(line, "%s: principal %q is not allowed: only AWS services (Service principals) and this project's own roles may assume a tenant role", arg, s)
		return
	}
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return
	}
	for _, item := range obj.Items {
		kind := objectKey(item.KeyExpr)
		if kind == "AWS" && c.ownRoleARNs(item.ValueExpr) {
			continue
		}
		if kind != "" && kind != "Service" {
			c.report(item.KeyExpr.Range().Start.Line, "%s: %s principals are not allowed: only AWS services and this project's own roles (aws_iam_role.<name>.arn) may assume a tenant role", arg, kind)
		}
	}
}

// ownRoleARNs reports whether e is a reference, or a list of references,
// to the arn of roles the module declares.
func (c *checker) ownRoleARNs(e hclsyntax.Expression) bool {
	items := listItems(e)
	for _, item := range items {
		typ, attr, ok := c.resourceRefAttr(item)
		if !ok || typ != "aws_iam_role" || attr != "arn" {
			return false
		}
	}
	return len(items) > 0
}

// computedParts refuses, in a policy document, every computed value that
// is not a plain reference: a function of a reference (other than
// jsonencode), a conditional, an operation, a for expression, a computed
// object key. Values without references are known at plan and checked
// there.
func (c *checker) computedParts(n hclsyntax.Expression, arg string, depth int) {
	if depth > c.maxDepth || len(n.Variables()) == 0 {
		return
	}
	line := n.Range().Start.Line
	switch x := n.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, item := range x.Items {
			if objectKey(item.KeyExpr) == "" {
				c.report(item.KeyExpr.Range().Start.Line, "%s: the keys of a policy document must be literal", arg)
			}
			c.computedParts(item.ValueExpr, arg, depth+1)
		}
	case *hclsyntax.TupleConsExpr:
		for _, item := range x.Exprs {
			c.computedParts(item, arg, depth+1)
		}
	case *hclsyntax.FunctionCallExpr:
		if x.Name != "jsonencode" {
			c.report(line, "%s: %s() of a computed value in a policy document is not allowed: refer to a resource's name, id or ARN as it is", arg, x.Name)
			return
		}
		for _, a := range x.Args {
			c.computedParts(a, arg, depth+1)
		}
	case *hclsyntax.TemplateExpr:
		for _, part := range x.Parts {
			c.computedParts(part, arg, depth+1)
		}
	case *hclsyntax.TemplateWrapExpr:
		c.computedParts(x.Wrapped, arg, depth+1)
	case *hclsyntax.ParenthesesExpr:
		c.computedParts(x.Expression, arg, depth+1)
	case *hclsyntax.ScopeTraversalExpr, *hclsyntax.RelativeTraversalExpr, *hclsyntax.IndexExpr, *hclsyntax.SplatExpr:
		// A reference: the plan check decides what it may be.
	default:
		c.report(line, "%s: a computed value in a policy document may only be a reference (to a resource's name, id or ARN, or an aws_iam_policy_document's json), not an expression computing one", arg)
	}
}

// policyJSON checks a policy written as a literal JSON string.
func (c *checker) policyJSON(doc string, trust bool, arg string, line int) {
	p, err := parsePolicy(doc)
	if err != nil {
		return // terraform or AWS will say; the plan check reports it too
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if trust {
			if len(st.NotPrincipal) > 0 {
				c.report(line, "%s uses NotPrincipal: only AWS services may assume a tenant role", arg)
			}
			if why := principalRefusal(st.Principal, nil); why != "" {
				c.report(line, "%s: %s", arg, why)
			}
			continue
		}
		if len(st.NotAction) > 0 {
			c.report(line, "%s allows NotAction, i.e. every other action: list the actions instead", arg)
		}
		for _, action := range st.Action {
			if why := actionRefusal(action); why != "" {
				c.report(line, "%s: %s", arg, why)
			}
		}
	}
}

// policyDocumentData checks the statements of data "aws_iam_policy_document"
// that have no principals, i.e. permission policies: their literal actions
// follow actionRefusal, and not_actions is refused. Statements with
// principals may be trust or resource policies, which only their use
// tells apart; the plan check sees the rendered document where it is used.
func (c *checker) policyDocumentData(b *body) {
	for _, a := range b.attrs {
		if n, ok := c.asNative(a.expr); ok {
			c.computedParts(n, a.name, 0)
		}
	}
	for _, st := range c.nestedBodies(b, "statement") {
		c.documentDataParts(st, 0)
		if len(c.nestedBodies(st, "principals")) > 0 || len(c.nestedBodies(st, "not_principals")) > 0 {
			continue
		}
		if e := st.attr("effect"); e != nil {
			if v, ok := c.literalString(e.expr); ok && v != "Allow" {
				continue
			}
		}
		if a := st.attr("not_actions"); a != nil {
			c.report(a.line, "not_actions allows every other action: list the actions instead")
		}
		if a := st.attr("actions"); a != nil {
			for _, action := range c.literalList(a.expr) {
				if why := actionRefusal(action); why != "" {
					c.report(a.line, "%s", why)
				}
			}
		}
	}
}

// objectKey returns the literal key of an object constructor item.
func objectKey(e hclsyntax.Expression) string {
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		if !k.ForceNonLiteral {
			if name := hcl.ExprAsKeyword(k.Wrapped); name != "" {
				return name
			}
		}
		e = k.Wrapped
	}
	s, _ := literalOf(e)
	return s
}

// literalStrings returns the literal strings of a string or a tuple.
func literalStrings(e hclsyntax.Expression) []string {
	if s, ok := literalOf(e); ok {
		return []string{s}
	}
	var out []string
	if t, ok := e.(*hclsyntax.TupleConsExpr); ok {
		for _, item := range t.Exprs {
			if s, ok := literalOf(item); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// literalList is literalStrings for either syntax.
func (c *checker) literalList(e hcl.Expression) []string {
	if items, ok := jsonArray(e); ok {
		var out []string
		for _, item := range items {
			if s, ok := literalOf(item); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if n, ok := c.asNative(e); ok {
		return literalStrings(n)
	}
	return nil
}

// documentDataParts applies computedParts to every argument of a
// statement of an aws_iam_policy_document and of its nested blocks.
func (c *checker) documentDataParts(b *body, depth int) {
	if depth > 3 {
		return
	}
	for _, a := range b.attrs {
		if n, ok := c.asNative(a.expr); ok {
			c.computedParts(n, a.name, 0)
		}
	}
	for _, blk := range b.blocks {
		c.documentDataParts(blk.body, depth+1)
	}
}
