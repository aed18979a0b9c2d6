package policy

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// IAM documents at source level: what the literals of a policy decide.
// The rules are the plan check's (actionRefusal, principalRefusal); a
// document computed from values is left to the plan.

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
// other than Service.
func (c *checker) principalLiteral(e hclsyntax.Expression, arg string, line int) {
	if s, ok := literalOf(e); ok {
		c.report(line, "%s: principal %q is not allowed: only AWS services (Service principals) may assume a tenant role", arg, s)
		return
	}
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return
	}
	for _, item := range obj.Items {
		if kind := objectKey(item.KeyExpr); kind != "" && kind != "Service" {
			c.report(item.KeyExpr.Range().Start.Line, "%s: %s principals are not allowed: only AWS services may assume a tenant role", arg, kind)
		}
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
			if why := principalRefusal(st.Principal); why != "" {
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
	for _, st := range c.nestedBodies(b, "statement") {
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
