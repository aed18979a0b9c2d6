package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// A small evaluator of IAM policy documents, TEST ONLY, for the subset the
// documents of aws-setup use: it decides, as IAM's evaluation logic does
// for one account, whether a request is allowed by an identity policy
// and a permissions boundary (an explicit Deny anywhere wins; otherwise
// both must Allow). No well-kept Go library evaluates IAM policies (the
// maintained simulators are TypeScript), and AWS's own simulator needs an
// account.
//
// Supported: Effect; Action and NotAction with * and ? wildcards (case
// insensitive); Resource with wildcards and ${...} policy variables
// taken from the request context (a variable without a value makes the
// statement not apply, as in IAM); Condition operators StringEquals,
// StringNotEquals, StringLike, StringNotLike, their IfExists forms,
// ForAnyValue:/ForAllValues:StringEquals and Null. Anything else is a
// test failure, so a document can never use what the evaluator would
// silently ignore.

// iamRequest is one API call: the action, the resource's ARN and the
// request context (aws:PrincipalTag/..., aws:ResourceTag/...,
// aws:RequestTag/..., aws:TagKeys, aws:RequestedRegion, service keys).
type iamRequest struct {
	Action   string
	Resource string
	Context  map[string][]string
}

type iamPolicy struct {
	Statement []iamStmt
}

type iamStmt struct {
	Sid       string
	Effect    string
	Action    stringOrList
	NotAction stringOrList
	Resource  stringOrList
	Principal any
	Condition map[string]map[string]stringOrList
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

func parseIAMPolicy(t testing.TB, doc string) iamPolicy {
	t.Helper()
	var p iamPolicy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("policy document: %v", err)
	}
	return p
}

type iamEffect int

const (
	notApplicable iamEffect = iota
	allowed
	denied
)

// evaluate returns the policy's decision for the request: denied when a
// Deny statement applies, allowed when an Allow does, notApplicable (an
// implicit deny) otherwise; and the Sid that decided.
func (p iamPolicy) evaluate(t testing.TB, r iamRequest) (iamEffect, string) {
	t.Helper()
	result, sid := notApplicable, ""
	for _, s := range p.Statement {
		if !s.applies(t, r) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return denied, s.Sid
		case "Allow":
			if result == notApplicable {
				result, sid = allowed, s.Sid
			}
		default:
			t.Fatalf("statement %s: Effect %q", s.Sid, s.Effect)
		}
	}
	return result, sid
}

// iamAllowed is IAM's decision for a session whose identity policy is
// identity and whose permissions boundary is boundary (nil: none).
func iamAllowed(t testing.TB, identity iamPolicy, boundary *iamPolicy, r iamRequest) (bool, string) {
	t.Helper()
	e, sid := identity.evaluate(t, r)
	if e != allowed {
		return false, "identity: " + map[iamEffect]string{notApplicable: "no statement allows", denied: "denied by " + sid}[e]
	}
	if boundary != nil {
		be, bsid := boundary.evaluate(t, r)
		if be != allowed {
			return false, "boundary: " + map[iamEffect]string{notApplicable: "no statement allows", denied: "denied by " + bsid}[be]
		}
	}
	return true, sid
}

func (s iamStmt) applies(t testing.TB, r iamRequest) bool {
	t.Helper()
	switch {
	case len(s.Action) > 0 && len(s.NotAction) > 0:
		t.Fatalf("statement %s has both Action and NotAction", s.Sid)
	case len(s.Action) > 0:
		if !anyMatch(s.Action, r.Action, true) {
			return false
		}
	case len(s.NotAction) > 0:
		if anyMatch(s.NotAction, r.Action, true) {
			return false
		}
	default:
		t.Fatalf("statement %s has no Action", s.Sid)
	}
	if len(s.Resource) == 0 {
		if s.Principal == nil {
			t.Fatalf("statement %s has no Resource", s.Sid)
		}
		// A trust policy: the resource is the role it is attached to.
		s.Resource = []string{"*"}
	}
	matched := false
	for _, pattern := range s.Resource {
		if resolved, ok := substitute(pattern, r.Context); ok && globMatch(resolved, r.Resource, false) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !conditionHolds(t, s.Sid, op, key, values, r.Context) {
				return false
			}
		}
	}
	return true
}

var policyVariable = regexp.MustCompile(`\$\{([^}]+)\}`)

// substitute replaces the policy variables of s with their values in the
// request context; false when one has no (single) value.
func substitute(s string, ctx map[string][]string) (string, bool) {
	ok := true
	out := policyVariable.ReplaceAllStringFunc(s, func(v string) string {
		vals := lookup(ctx, policyVariable.FindStringSubmatch(v)[1])
		if len(vals) != 1 {
			ok = false
			return ""
		}
		return vals[0]
	})
	return out, ok
}

// lookup finds a context key; condition key names are case insensitive.
func lookup(ctx map[string][]string, key string) []string {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func conditionHolds(t testing.TB, sid, op, key string, policyValues []string, ctx map[string][]string) bool {
	t.Helper()
	vals := lookup(ctx, key)
	present := len(vals) > 0
	if op == "Null" {
		if len(policyValues) != 1 {
			t.Fatalf("statement %s: Null takes one value", sid)
		}
		return (policyValues[0] == "true") == !present
	}
	set, base := "", op
	if a, b, ok := strings.Cut(op, ":"); ok {
		set, base = a, b
	}
	ifExists := strings.HasSuffix(base, "IfExists")
	base = strings.TrimSuffix(base, "IfExists")
	var match func(policy, value string) bool
	negated := false
	switch base {
	case "StringEquals":
		match = func(p, v string) bool { return p == v }
	case "StringNotEquals":
		match, negated = func(p, v string) bool { return p == v }, true
	case "StringLike":
		match = func(p, v string) bool { return globMatch(p, v, false) }
	case "StringNotLike":
		match, negated = func(p, v string) bool { return globMatch(p, v, false) }, true
	default:
		t.Fatalf("statement %s: the evaluator does not know the condition operator %q", sid, op)
	}
	resolved := make([]string, 0, len(policyValues))
	for _, p := range policyValues {
		if r, ok := substitute(p, ctx); ok {
			resolved = append(resolved, r)
		}
	}
	anyPolicy := func(v string) bool {
		for _, p := range resolved {
			if match(p, v) {
				return true
			}
		}
		return false
	}
	switch set {
	case "ForAnyValue":
		if negated || ifExists {
			t.Fatalf("statement %s: %s is not supported", sid, op)
		}
		for _, v := range vals {
			if anyPolicy(v) {
				return true
			}
		}
		return false
	case "ForAllValues":
		if negated || ifExists {
			t.Fatalf("statement %s: %s is not supported", sid, op)
		}
		for _, v := range vals {
			if !anyPolicy(v) {
				return false
			}
		}
		return true
	case "":
	default:
		t.Fatalf("statement %s: set operator %q", sid, set)
	}
	if !present {
		// IfExists: a missing key makes the condition true; negated
		// operators are true of a missing key, the others false.
		return ifExists || negated
	}
	if len(vals) != 1 {
		t.Fatalf("statement %s: %s on the multivalued key %s needs ForAnyValue or ForAllValues", sid, op, key)
	}
	if negated {
		return !anyPolicy(vals[0])
	}
	return anyPolicy(vals[0])
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if globMatch(p, s, fold) {
			return true
		}
	}
	return false
}

// globMatch matches IAM's wildcards: * any run of characters (including
// ":" and "/"), ? one character.
func globMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

// TestIAMEvaluator: the evaluator's own rules, on small documents.
func TestIAMEvaluator(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Names","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:PrincipalTag/P}-*"},
	 {"Sid":"Tags","Effect":"Allow","Action":["apigateway:GET"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/U":"${aws:PrincipalTag/U}"}}},
	 {"Sid":"IfExists","Effect":"Allow","Action":"logs:Get*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestedRegion":["r1"]}}},
	 {"Sid":"Like","Effect":"Allow","Action":"lambda:Get?","Resource":"*","Condition":{"StringLike":{"lambda:FunctionArn":"arn:f:${aws:PrincipalTag/P}-*"}}},
	 {"Sid":"NoTagSteal","Effect":"Deny","Action":"s3:PutBucketTagging","Resource":"*","Condition":{"Null":{"aws:RequestTag/U":"false"},"StringNotEquals":{"aws:RequestTag/U":"${aws:PrincipalTag/U}"}}},
	 {"Sid":"NoPlatformKeys","Effect":"Deny","Action":"s3:DeleteBucketTagging","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["U"]}}},
	 {"Sid":"OnlyKeys","Effect":"Allow","Action":"sts:TagSession","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["U","P"]}}},
	 {"Sid":"Region","Effect":"Deny","NotAction":["iam:*","logs:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["r1"]}}}
	]}`
	p := parseIAMPolicy(t, doc)
	principal := map[string][]string{"aws:PrincipalTag/P": {"tf-a"}, "aws:PrincipalTag/U": {"alice"}, "aws:RequestedRegion": {"r1"}}
	with := func(extra map[string][]string) map[string][]string {
		out := map[string][]string{}
		for k, v := range principal {
			out[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(out, k)
				continue
			}
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name string
		r    iamRequest
		want iamEffect
	}{
		{"own name", iamRequest{"s3:GetObject", "arn:aws:s3:::tf-a-site/k", principal}, allowed},
		{"action case", iamRequest{"S3:getobject", "arn:aws:s3:::tf-a-site/k", principal}, allowed},
		{"other name", iamRequest{"s3:GetObject", "arn:aws:s3:::tf-b-site/k", principal}, notApplicable},
		{"prefix is not a wildcard", iamRequest{"s3:GetObject", "arn:aws:s3:::tf-aa-site", principal}, notApplicable},
		{"no variable value", iamRequest{"s3:GetObject", "arn:aws:s3:::-site", with(map[string][]string{"aws:PrincipalTag/P": nil})}, notApplicable},
		{"own tag", iamRequest{"apigateway:GET", "arn:api", with(map[string][]string{"aws:ResourceTag/U": {"alice"}})}, allowed},
		{"other tag", iamRequest{"apigateway:GET", "arn:api", with(map[string][]string{"aws:ResourceTag/U": {"bob"}})}, notApplicable},
		{"untagged", iamRequest{"apigateway:GET", "arn:api", principal}, notApplicable},
		{"IfExists absent", iamRequest{"logs:GetLogEvents", "arn:l", with(map[string][]string{"aws:RequestedRegion": nil})}, allowed},
		{"like", iamRequest{"lambda:GetX", "*", with(map[string][]string{"lambda:FunctionArn": {"arn:f:tf-a-fn"}})}, allowed},
		{"? is one character", iamRequest{"lambda:GetXY", "*", with(map[string][]string{"lambda:FunctionArn": {"arn:f:tf-a-fn"}})}, notApplicable},
		{"like other", iamRequest{"lambda:GetX", "*", with(map[string][]string{"lambda:FunctionArn": {"arn:f:tf-b-fn"}})}, notApplicable},
		{"tag for another owner", iamRequest{"s3:PutBucketTagging", "arn:aws:s3:::tf-a-x", with(map[string][]string{"aws:RequestTag/U": {"bob"}})}, denied},
		{"tag for self", iamRequest{"s3:PutBucketTagging", "arn:aws:s3:::tf-a-x", with(map[string][]string{"aws:RequestTag/U": {"alice"}})}, allowed},
		{"tag without the key", iamRequest{"s3:PutBucketTagging", "arn:aws:s3:::tf-a-x", with(map[string][]string{"aws:RequestTag/T": {"x"}})}, allowed},
		{"untag platform key", iamRequest{"s3:DeleteBucketTagging", "arn:aws:s3:::tf-a-x", with(map[string][]string{"aws:TagKeys": {"T", "U"}})}, denied},
		{"untag own key", iamRequest{"s3:DeleteBucketTagging", "arn:aws:s3:::tf-a-x", with(map[string][]string{"aws:TagKeys": {"T"}})}, allowed},
		{"all keys allowed", iamRequest{"sts:TagSession", "r", with(map[string][]string{"aws:TagKeys": {"U", "P"}})}, allowed},
		{"a key too many", iamRequest{"sts:TagSession", "r", with(map[string][]string{"aws:TagKeys": {"U", "X"}})}, notApplicable},
		{"other region", iamRequest{"s3:GetObject", "arn:aws:s3:::tf-a-site/k", with(map[string][]string{"aws:RequestedRegion": {"r2"}})}, denied},
		{"NotAction spares", iamRequest{"iam:GetRole", "arn:aws:s3:::tf-a-site/k", with(map[string][]string{"aws:RequestedRegion": {"r2"}})}, notApplicable},
	} {
		if got, sid := p.evaluate(t, tc.r); got != tc.want {
			t.Errorf("%s: %v (by %q), want %v", tc.name, got, sid, tc.want)
		}
	}
	boundary := parseIAMPolicy(t, `{"Statement":[{"Sid":"B","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	if ok, why := iamAllowed(t, p, &boundary, iamRequest{"s3:PutObject", "arn:aws:s3:::tf-a-site/k", principal}); ok {
		t.Errorf("the boundary did not bound: %s", why)
	}
	if ok, why := iamAllowed(t, p, &boundary, iamRequest{"s3:GetObject", "arn:aws:s3:::tf-a-site/k", principal}); !ok {
		t.Errorf("identity and boundary allow, got %s", why)
	}
}

func (e iamEffect) String() string {
	return [...]string{"implicitly denied", "allowed", "denied"}[e]
}
