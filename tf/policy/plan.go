package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// The plan check is the second of tenantform's three lines of isolation
// (source policy, plan policy, AWS ABAC). It reads `terraform show -json`
// of the saved plan, before admission, and decides what only values
// decide: tags computed from variables, computed regions, policy
// documents, which bucket or role a naming argument ends up naming, the
// resource count and values that leave the price open. It applies the
// rules of rules.go, the ones the source check applies.

// PlanContext is what the plan check needs besides the plan.
type PlanContext struct {
	// Rules are the project's rules (regions, managed policies): the
	// same the source check used.
	Rules Rules
	// Tags are the platform tags the engine injected for this project
	// (package tf's PlatformTags): every taggable AWS resource must carry
	// exactly these values.
	Tags map[string]string
	// MaxResources is how many managed resources the project may have
	// after apply (the user's quota less what their other projects hold).
	// Zero or less: not checked here.
	MaxResources int
	// Priced reports whether the cost estimator knows a type's price
	// (free types included). A type it does not know is CostUnknown,
	// never $0. Nil: prices are not checked here.
	Priced func(resourceType string) bool
}

// CheckPlan returns every violation of a plan, sorted by resource address,
// or nil. Each names the resource address and carries a Reason.
func CheckPlan(plan *tfjson.Plan, pc PlanContext) []Violation {
	if plan == nil {
		return nil
	}
	pk := &planChecker{pc: pc, owned: ownedValues(plan), config: newPlanConfig(plan)}
	count := 0
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		pk.rc = rc
		pk.typeAllowed(rc)
		if rc.Mode != tfjson.ManagedResourceMode || !existsAfter(rc.Change.Actions) {
			continue
		}
		count++
		pk.resource(rc)
	}
	pk.providerRegions(plan)
	if pc.MaxResources > 0 && count > pc.MaxResources {
		pk.out = append(pk.out, Violation{Address: "(plan)", Reason: ReasonQuota,
			Message: fmt.Sprintf("the plan leaves %d resources, more than the %d this project may have", count, pc.MaxResources)})
	}
	sort.SliceStable(pk.out, func(i, j int) bool {
		if pk.out[i].Address != pk.out[j].Address {
			return pk.out[i].Address < pk.out[j].Address
		}
		return pk.out[i].Message < pk.out[j].Message
	})
	out := slices.Compact(pk.out)
	if len(out) > MaxViolations {
		out = out[:MaxViolations]
	}
	return out
}

// typeAllowed re-checks the type allow-lists on what terraform plans,
// modules included: the source check decides them, this catches what it
// could not see.
func (pk *planChecker) typeAllowed(rc *tfjson.ResourceChange) {
	kind := "resource"
	if rc.Mode == tfjson.DataResourceMode {
		kind = "data"
	}
	if rc.Change.Actions.Delete() {
		return
	}
	c := checker{rules: pk.pc.Rules}
	if why := c.typeRefusal(kind, rc.Type); why != "" {
		pk.report(ReasonPolicy, "%s %q is not allowed: %s", kindNouns[kind], rc.Type, why)
	}
}

// providerRegions checks the region of every aws provider configuration
// in the plan's configuration (a literal, as the source check requires;
// the generated one is the project's region).
func (pk *planChecker) providerRegions(plan *tfjson.Plan) {
	if plan.Config == nil {
		return
	}
	for _, key := range sortedKeysOf(plan.Config.ProviderConfigs) {
		pcfg := plan.Config.ProviderConfigs[key]
		if pcfg == nil || pcfg.Name != "aws" {
			continue
		}
		expr := pcfg.Expressions["region"]
		if expr == nil || expr.ExpressionData == nil {
			continue
		}
		region, ok := expr.ConstantValue.(string)
		addr := "provider." + key
		switch {
		case !ok:
			pk.out = append(pk.out, Violation{Address: addr, Reason: ReasonPolicy, Message: "the provider's region must be a literal: a computed region could be any region"})
		case !slices.Contains(pk.pc.Rules.AllowedRegions, region):
			pk.out = append(pk.out, Violation{Address: addr, Reason: ReasonPolicy, Message: fmt.Sprintf("region %q is not allowed: use one of %s", region, strings.Join(pk.pc.Rules.AllowedRegions, ", "))})
		}
	}
}

// existsAfter reports whether a change leaves the resource in place.
func existsAfter(a tfjson.Actions) bool {
	return !a.Delete() && !a.Forget() && !a.Read()
}

type planChecker struct {
	pc     PlanContext
	owned  map[string]map[string]bool // resource type → its known string values
	config planConfig
	out    []Violation
	rc     *tfjson.ResourceChange
	cfg    *tfjson.ConfigResource // rc's configuration, nil when not found
}

func (pk *planChecker) report(reason, format string, args ...any) {
	pk.out = append(pk.out, Violation{Address: pk.rc.Address, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// resource applies every rule to one planned resource.
func (pk *planChecker) resource(rc *tfjson.ResourceChange) {
	pk.rc = rc
	pk.cfg = pk.config.resource(rc)
	after, _ := rc.Change.After.(map[string]any)
	unknown, _ := rc.Change.AfterUnknown.(map[string]any)
	v := values{after: after, unknown: unknown}
	if strings.HasPrefix(rc.Type, "aws_") {
		pk.tags(v)
		pk.regions(rc.Type, v)
	}
	for _, arg := range trustPolicyArgs[rc.Type] {
		for _, doc := range v.strings(arg) {
			pk.trustPolicy(arg, doc)
		}
		if v.isUnknown(arg) {
			pk.unknownDocument(arg, true)
		}
	}
	for _, arg := range permissionPolicyArgs[rc.Type] {
		for _, doc := range v.strings(arg) {
			pk.permissionPolicy(arg, doc)
		}
		if v.isUnknown(arg) {
			pk.unknownDocument(arg, false)
		}
	}
	pk.ownedRefs(rc.Type, v)
	if boundary := pk.pc.Rules.PermissionsBoundaryARN; rc.Type == "aws_iam_role" && boundary != "" {
		if got := v.strings("permissions_boundary"); len(got) != 1 || got[0] != boundary {
			pk.report(ReasonPolicy, "permissions_boundary must be the platform's boundary %s: every role a tenant creates carries it", boundary)
		}
	}
	pk.namePrefix(rc, v) // nameprefix.go
	pk.namePrefixTag(v)
	pk.cost(rc.Type, v)
}

// values are a resource's planned attributes and which are unknown.
type values struct {
	after, unknown map[string]any
}

// isUnknown reports whether the attribute at path ("a", "block.a",
// "block.inner.a") is unknown, wholly or in one of its nested blocks, or
// one of its elements when it is a list or set.
func (v values) isUnknown(path string) bool {
	return unknownAt(v.unknown, strings.Split(path, "."))
}

func unknownAt(u any, path []string) bool {
	switch x := u.(type) {
	case bool:
		return x
	case []any:
		for _, item := range x {
			if unknownAt(item, path) {
				return true
			}
		}
	case map[string]any:
		if len(path) == 0 {
			// A map or object with some unknown values is not unknown:
			// its known values are in after (tags_all).
			return false
		}
		return unknownAt(x[path[0]], path[1:])
	}
	return false
}

// strings returns the known string values at path ("a", "block.a",
// "block.inner.a"): one per nested block, and every element of a list.
func (v values) strings(path string) []string {
	var out []string
	collectStrings(map[string]any(v.after), strings.Split(path, "."), &out)
	return out
}

func collectStrings(val any, path []string, out *[]string) {
	switch x := val.(type) {
	case string:
		if len(path) == 0 {
			*out = append(*out, x)
		}
	case []any:
		for _, item := range x {
			collectStrings(item, path, out)
		}
	case map[string]any:
		if len(path) > 0 {
			collectStrings(x[path[0]], path[1:], out)
		}
	}
}

func (v values) stringList(name string) []string {
	return v.strings(name)
}

// tags checks tags_all, the tags AWS will hold: every platform tag with
// the platform's value, and no other spelling of a platform key. A
// resource type without tags_all is not taggable.
func (pk *planChecker) tags(v values) {
	_, hasAll := v.after[tagsAllArg]
	if !hasAll && !v.isUnknown(tagsAllArg) {
		return
	}
	if v.isUnknown(tagsAllArg) {
		// A tag value is unknown until apply: the keys still are known
		// in tags, and may not spell a platform key.
		tags, ok := v.after[tagsArg].(map[string]any)
		if v.isUnknown(tagsArg) && !ok {
			pk.report(ReasonPolicy, "tags are unknown until apply, so the platform's tags on this resource cannot be verified; use tags whose keys are known at plan time")
			return
		}
		// Keys whose value is unknown are in after_unknown only.
		unknownTags, _ := v.unknown[tagsArg].(map[string]any)
		for _, m := range []map[string]any{tags, unknownTags} {
			for _, k := range sortedKeysOf(m) {
				if p, isPlatform := platformTagKey(k); isPlatform {
					pk.report(ReasonPolicy, "tags sets %s, a platform tag (%s)", k, p)
				}
			}
		}
		return
	}
	all, _ := v.after[tagsAllArg].(map[string]any)
	for _, key := range sortedKeysOf(pk.pc.Tags) {
		want := pk.pc.Tags[key]
		got, ok := all[key].(string)
		switch {
		case !ok:
			pk.report(ReasonPolicy, "tags_all lacks the platform tag %s", key)
		case got != want:
			pk.report(ReasonPolicy, "tags_all sets the platform tag %s to %q instead of %q", key, got, want)
		}
	}
	for k := range all {
		if p, isPlatform := platformTagKey(k); isPlatform && p != k {
			pk.report(ReasonPolicy, "tags_all sets %s, another spelling of the platform tag %s", k, p)
		}
	}
}

// regions checks every region argument of regionArgs: known and allowed.
// A region the configuration does not set is the provider's (aws 5.x
// computes aws_s3_bucket's region from the provider configuration, which
// providerRegions checks), so only a region the tenant's expression
// leaves unknown is refused.
func (pk *planChecker) regions(typ string, v values) {
	for _, r := range regionArgsOf(typ) {
		if v.isUnknown(r.Arg) && !configSets(pk.cfg, r.Arg) {
			continue
		}
		if v.isUnknown(r.Arg) {
			pk.report(ReasonPolicy, "%s is unknown until apply: a region must be known at plan time", r.Arg)
			continue
		}
		for _, region := range v.strings(r.Arg) {
			if region != "" && !slices.Contains(pk.pc.Rules.AllowedRegions, region) {
				pk.report(ReasonPolicy, "%s %q is not allowed: use one of %s", r.Arg, region, strings.Join(pk.pc.Rules.AllowedRegions, ", "))
			}
		}
	}
}

func managedPolicyAllowed(allowed []string, arn string) bool {
	for _, p := range allowed {
		for _, part := range []string{"aws", "aws-us-gov", "aws-cn"} {
			if strings.ReplaceAll(p, "${partition}", part) == arn {
				return true
			}
		}
	}
	return false
}

// cost blocks a plan whose price is open-ended: a type the estimator
// has no price for, or an argument that decides the price left unknown
// until apply (the estimator would price it at its cheapest).
func (pk *planChecker) cost(typ string, v values) {
	if pk.pc.Priced != nil && !pk.pc.Priced(typ) {
		pk.report(ReasonCostUnknown, "tenantform has no price for %s, so the project's cost cannot be bounded", typ)
	}
	for _, ca := range costArgs[typ] {
		if !v.isUnknown(ca.Arg) || ca.Irrelevant != nil && ca.Irrelevant(v) {
			continue
		}
		if !configSets(pk.cfg, ca.Arg) {
			// The provider's default or a value it computes from other
			// arguments: the estimator prices the default.
			continue
		}
		pk.report(ReasonCostUnknown, "%s is unknown until apply, so the cost is open-ended; set it to a value known at plan time", ca.Arg)
	}
}

// policyDocument is an IAM policy document, with the forms AWS accepts
// for its fields (a string or a list).
type policyDocument struct {
	Statement statements `json:"Statement"`
}

type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	var one statement
	if err := json.Unmarshal(b, &one); err == nil {
		*s = statements{one}
		return nil
	}
	var many []statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

type statement struct {
	Effect       string          `json:"Effect"`
	Action       stringOrList    `json:"Action"`
	NotAction    stringOrList    `json:"NotAction"`
	Principal    json.RawMessage `json:"Principal"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func parsePolicy(doc string) (policyDocument, error) {
	var p policyDocument
	err := json.Unmarshal([]byte(doc), &p)
	return p, err
}

// trustPolicy allows only AWS services as principals: a role trusted by an
// account, a user, a federated identity or "*" could be assumed from
// outside the project.
func (pk *planChecker) trustPolicy(arg, doc string) {
	p, err := parsePolicy(doc)
	if err != nil {
		pk.report(ReasonPolicy, "%s is not a valid policy document: %v", arg, err)
		return
	}
	for i, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if len(st.NotPrincipal) > 0 {
			pk.report(ReasonPolicy, "%s statement %d uses NotPrincipal: only AWS services may assume a tenant role", arg, i+1)
		}
		if why := principalRefusal(st.Principal, pk.ownRole); why != "" {
			pk.report(ReasonPolicy, "%s statement %d: %s", arg, i+1, why)
		}
	}
}

// principalRefusal says why a trust policy principal is refused, or "".
// Only AWS services may assume a tenant role, and the project's own roles
// (ownRole; nil: none can be shown to be own).
func principalRefusal(raw json.RawMessage, ownRole func(string) bool) string {
	if len(raw) == 0 {
		return ""
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return fmt.Sprintf("principal %q is not allowed: only AWS services (Service principals) and this project's own roles may assume a tenant role", star)
	}
	var m map[string]stringOrList
	if err := json.Unmarshal(raw, &m); err != nil {
		return "the principal is not valid"
	}
	for _, kind := range sortedKeysOf(m) {
		if kind == "AWS" && ownRole != nil && allOwn(m[kind], ownRole) {
			continue
		}
		if kind != "Service" {
			return fmt.Sprintf("%s principals (%s) are not allowed: only AWS services and this project's own roles may assume a tenant role", kind, strings.Join(m[kind], ", "))
		}
		for _, svc := range m[kind] {
			if !strings.HasSuffix(svc, ".amazonaws.com") || strings.Contains(svc, "*") {
				return fmt.Sprintf("service principal %q is not allowed: name an AWS service such as lambda.amazonaws.com", svc)
			}
		}
	}
	return ""
}

func allOwn(arns []string, own func(string) bool) bool {
	for _, a := range arns {
		if !own(a) {
			return false
		}
	}
	return len(arns) > 0
}

// ownRole reports whether arn is the ARN of one of the plan's roles.
func (pk *planChecker) ownRole(arn string) bool {
	return strings.HasPrefix(arn, "arn:") && pk.owned["aws_iam_role"][arn]
}

// permissionPolicy refuses "*" actions, NotAction grants and IAM, STS or
// Organizations actions beyond allowedControlActions.
func (pk *planChecker) permissionPolicy(arg, doc string) {
	p, err := parsePolicy(doc)
	if err != nil {
		pk.report(ReasonPolicy, "%s is not a valid policy document: %v", arg, err)
		return
	}
	for i, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if len(st.NotAction) > 0 {
			pk.report(ReasonPolicy, "%s statement %d allows NotAction, i.e. every other action: list the actions instead", arg, i+1)
		}
		for _, action := range st.Action {
			if why := actionRefusal(action); why != "" {
				pk.report(ReasonPolicy, "%s statement %d: %s", arg, i+1, why)
			}
		}
	}
}

// actionRefusal says why a permission policy may not allow an action, or
// "". The source check applies it to literal actions, the plan check to
// every known one.
func actionRefusal(action string) string {
	a := strings.ToLower(strings.TrimSpace(action))
	if a == "*" || a == "*:*" {
		return fmt.Sprintf("action %q is not allowed: a tenant role may only be given the actions it needs", action)
	}
	service, _, _ := strings.Cut(a, ":")
	if strings.Contains(service, "*") {
		return fmt.Sprintf("action %q is not allowed: name the service", action)
	}
	if !slices.Contains(controlServices, service) {
		return ""
	}
	for _, ok := range allowedControlActions {
		if strings.EqualFold(ok, action) {
			return ""
		}
	}
	return fmt.Sprintf("action %q is not allowed: IAM, STS and Organizations control identities and accounts; tenant roles may only use %s", action, strings.Join(allowedControlActions, ", "))
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
