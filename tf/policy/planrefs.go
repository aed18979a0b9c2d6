package policy

import (
	"fmt"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// The own-or-nothing rule (ownedRefs) on the plan. A known value must be
// an identity (identityAttrs) of one of the plan's resources of a target
// type. A value unknown until apply is untrusted: the plan's
// configuration must show it computed only from such identities of
// resources the same module declares. A terraform_data output, a random
// value, a variable or another attribute of an own resource (a role's
// description) could spell any other tenant's name at apply.

// ownedValues collects, per resource type, the known identity values of
// the plan's managed resources, before and after: the names, ids and ARNs
// of what the project owns.
func ownedValues(plan *tfjson.Plan) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		for _, state := range []any{rc.Change.Before, rc.Change.After} {
			m, _ := state.(map[string]any)
			for _, attr := range identityAttrs[rc.Type] {
				if s, ok := m[attr].(string); ok && s != "" {
					if out[rc.Type] == nil {
						out[rc.Type] = map[string]bool{}
					}
					out[rc.Type][s] = true
				}
			}
		}
	}
	return out
}

// ownedRefs applies the ownedRefs table to one planned resource.
func (pk *planChecker) ownedRefs(typ string, v values) {
	for _, ref := range ownedRefsOf(typ) {
		for _, val := range v.strings(ref.Arg) {
			if val == "" {
				// Unset, as the provider reads it back from AWS on every
				// plan after the first: it names nothing.
				continue
			}
			if ref.Managed && managedPolicyAllowed(pk.pc.Rules.AllowedManagedPolicies, val) {
				continue
			}
			if ref.URL && isHTTPURL(val) {
				continue
			}
			if len(ref.Targets) == 0 {
				pk.report(ReasonPolicy, "%s = %q names a resource of a type tenants cannot create, so it could only be another tenant's or the platform's: leave %s unset", ref.Arg, val, ref.Arg)
				continue
			}
			if pk.ownedBy(ref.Targets, val) {
				continue
			}
			pk.report(ReasonPolicy, "%s = %q is not %s (%s)", ref.Arg, val, ownWhat(ref), strings.Join(ref.Targets, " or "))
		}
		if v.isUnknown(ref.Arg) {
			if why := pk.unknownRefRefusal(ref); why != "" {
				pk.report(ReasonPolicy, "%s is unknown until apply and %s: it could name another tenant's resource; refer to the %s of a %s of this project", ref.Arg, why, strings.Join(identityAttrsOfAll(ref.Targets), ", "), strings.Join(ref.Targets, " or "))
			}
		}
	}
}

func ownWhat(ref ownedRef) string {
	if ref.Arg == "role" || strings.HasSuffix(ref.Arg, "credentials") || strings.HasSuffix(ref.Arg, "credentials_arn") {
		return "a role this project creates (a role passed to a service must be the project's own)"
	}
	return "a resource of this project"
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

func identityAttrsOfAll(types []string) []string {
	var out []string
	for _, t := range types {
		for _, a := range identityAttrs[t] {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return []string{"identity"}
	}
	return out
}

func (pk *planChecker) ownedBy(types []string, val string) bool {
	for _, t := range types {
		if pk.owned[t][val] {
			return true
		}
	}
	return false
}

// unknownRefRefusal says why an unknown value of a naming argument cannot
// be shown to name one of the project's own resources, or "".
func (pk *planChecker) unknownRefRefusal(ref ownedRef) string {
	if pk.cfg == nil {
		return "the plan has no configuration to show what it is computed from"
	}
	exprs := exprsAt(pk.cfg, ref.Arg)
	if len(exprs) == 0 {
		// The configuration does not set it: the provider computes it
		// (a bucket's region, a function's default log group). The
		// source check refuses dynamic blocks of these arguments, whose
		// expressions the configuration section would not show.
		return ""
	}
	if len(ref.Targets) == 0 {
		return "names a resource of a type tenants cannot create"
	}
	module := moduleKey(pk.rc.ModuleAddress)
	for _, e := range exprs {
		if why := pk.identityExpr(module, e, ref.Targets); why != "" {
			return why
		}
	}
	return ""
}

// identityExpr says why an expression is not computed only from
// identities of resources of targets declared in module, or "".
func (pk *planChecker) identityExpr(module string, e *tfjson.Expression, targets []string) string {
	refs := mostSpecific(e.References)
	if len(refs) == 0 {
		if e.ConstantValue != nil {
			return ""
		}
		return "is computed from no resource of this project"
	}
	for _, r := range refs {
		if why := pk.identityRef(module, r, targets); why != "" {
			return why
		}
	}
	return ""
}

// identityRef checks one reference of a configuration expression.
func (pk *planChecker) identityRef(module, r string, targets []string) string {
	segs := refSegments(r)
	switch segs[0] {
	case "count":
		return "" // count.index: an instance number, names nothing
	case "each":
		return pk.eachRef(module, segs, targets)
	case "var", "local", "module", "data", "path", "terraform", "self":
		return fmt.Sprintf("is computed from %s, not from a resource's name, id or ARN", r)
	}
	if len(segs) < 2 || !pk.config.declares(module, segs[0], segs[1]) {
		return fmt.Sprintf("is computed from %s, which this module does not declare", r)
	}
	if !slices.Contains(targets, segs[0]) {
		return fmt.Sprintf("is computed from %s, not from a %s", r, strings.Join(targets, " or "))
	}
	if len(segs) < 3 || !isIdentity(segs[0], segs[2]) {
		attr := "(the whole resource)"
		if len(segs) >= 3 {
			attr = segs[2]
		}
		return fmt.Sprintf("is computed from %s: %s is not an identity of %s (%s)", r, attr, segs[0], strings.Join(identityAttrs[segs[0]], ", "))
	}
	return ""
}

// eachRef accepts each.value.<identity> in a resource whose for_each
// refers to whole resources of a target type, and each.value where
// for_each is made of identities.
func (pk *planChecker) eachRef(module string, segs, targets []string) string {
	if len(segs) < 2 || segs[1] != "value" || pk.cfg.ForEachExpression == nil || pk.cfg.ForEachExpression.ExpressionData == nil {
		return "is computed from each." + strings.Join(segs[1:], ".") + ", not from a resource's name, id or ARN"
	}
	refs := mostSpecific(pk.cfg.ForEachExpression.References)
	if len(refs) == 0 {
		return "is computed from a for_each of no resource of this project"
	}
	for _, r := range refs {
		fs := refSegments(r)
		if len(segs) == 2 {
			if why := pk.identityRef(module, r, targets); why != "" {
				return "comes from for_each, which " + why
			}
			continue
		}
		// each.value.<attr>: for_each is whole resources.
		if len(fs) != 2 || !pk.config.declares(module, fs[0], fs[1]) || !slices.Contains(targets, fs[0]) {
			return fmt.Sprintf("is computed from each.value.%s, and for_each is not a %s of this module", segs[2], strings.Join(targets, " or "))
		}
		if !isIdentity(fs[0], segs[2]) {
			return fmt.Sprintf("is computed from each.value.%s: %s is not an identity of %s (%s)", segs[2], segs[2], fs[0], strings.Join(identityAttrs[fs[0]], ", "))
		}
	}
	return ""
}

// mostSpecific drops each reference another one extends: terraform lists
// aws_iam_role.r.arn together with aws_iam_role.r.
func mostSpecific(refs []string) []string {
	var out []string
	for _, r := range refs {
		extended := false
		for _, o := range refs {
			if o != r && (strings.HasPrefix(o, r+".") || strings.HasPrefix(o, r+"[")) {
				extended = true
				break
			}
		}
		if !extended && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// refSegments splits a reference into its names, without instance keys:
// `aws_s3_bucket.b["k"].arn` → [aws_s3_bucket b arn].
func refSegments(r string) []string {
	return strings.Split(moduleKey(r), ".")
}

// maxDocumentDepth bounds how many aws_iam_policy_document data sources
// an unknown document is followed through (source_policy_documents).
const maxDocumentDepth = 8

// unknownDocument checks an IAM document unknown until apply: the
// known-document checks cannot read it, so it passes only when its
// configuration shows that every unknown part is an identity (name, id,
// ARN) of a resource of this module, directly or through an
// aws_iam_policy_document data source whose inputs are such identities.
// The source check makes sure those identities are used as they are, not
// transformed. A trust document may use only its own roles' identities.
func (pk *planChecker) unknownDocument(arg string, trust bool) {
	if pk.cfg == nil {
		pk.report(ReasonPolicy, "%s is unknown until apply and the plan has no configuration to show what it is computed from: the document cannot be checked", arg)
		return
	}
	exprs := exprsAt(pk.cfg, arg)
	if len(exprs) == 0 {
		return // not set: the provider's (an inline_policy read back)
	}
	module := moduleKey(pk.rc.ModuleAddress)
	for _, e := range exprs {
		if why := pk.documentExpr(module, e, trust, 0); why != "" {
			pk.report(ReasonPolicy, "%s is unknown until apply and %s: a document is checked when known, or when its only unknown parts are names, ids or ARNs of this project's resources%s", arg, why, trustHint(trust))
			return
		}
	}
}

func trustHint(trust bool) string {
	if trust {
		return " (in a trust policy, its own roles)"
	}
	return ""
}

func (pk *planChecker) documentExpr(module string, e *tfjson.Expression, trust bool, depth int) string {
	if e == nil || e.ExpressionData == nil {
		return ""
	}
	for _, r := range mostSpecific(e.References) {
		if why := pk.documentRef(module, r, trust, depth); why != "" {
			return why
		}
	}
	for _, blk := range e.NestedBlocks {
		for _, k := range sortedKeysOf(blk) {
			if why := pk.documentExpr(module, blk[k], trust, depth); why != "" {
				return why
			}
		}
	}
	return ""
}

func (pk *planChecker) documentRef(module, r string, trust bool, depth int) string {
	segs := refSegments(r)
	switch {
	case segs[0] == "count":
		return ""
	case segs[0] == "data" && len(segs) >= 4 && segs[1] == "aws_iam_policy_document" && (segs[3] == "json" || segs[3] == "minified_json"):
		ds := pk.config.dataSource(module, segs[1], segs[2])
		if ds == nil || depth >= maxDocumentDepth {
			return fmt.Sprintf("is computed from %s, which this module does not declare", r)
		}
		for _, k := range sortedKeysOf(ds.Expressions) {
			if why := pk.documentExpr(module, ds.Expressions[k], trust, depth+1); why != "" {
				return why
			}
		}
		return ""
	case len(segs) >= 3 && pk.config.declares(module, segs[0], segs[1]) && isIdentity(segs[0], segs[2]):
		if trust && segs[0] != "aws_iam_role" {
			return fmt.Sprintf("is computed from %s, which is not one of this project's roles", r)
		}
		return ""
	}
	return fmt.Sprintf("is computed from %s, which is not the name, id or ARN of a resource of this module", r)
}
