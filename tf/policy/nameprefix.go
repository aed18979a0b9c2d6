package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// Names are the AWS line where tags cannot serve. S3 general purpose
// buckets ignore aws:ResourceTag unless ABAC is enabled per bucket, which
// stops PutBucketTagging (what hashicorp/aws 5.x tags buckets with), so
// a tag-conditioned policy cannot protect a bucket. In role mode
// (Rules.RequireNamePrefix) every named resource of a project therefore
// carries the project's name prefix, and IAM roles and policies its IAM
// path, and the platform role's policy (tenantform aws-setup) allows each
// session only the ARNs with its own prefix and path.
//
// The prefix is "tf-" and 16 hex digits of SHA-256(userId "/" projectId),
// then "-": 20 characters, the same for every service, leaving 43 for the
// tenant's part of a bucket name (63), 44 of a Lambda function name (64)
// and 17 of a bucket_prefix (the provider adds 26). Ids joined whole would
// be ambiguous ("a-b"+"c" and "a"+"b-c") and too long for S3 (two 40
// character ids); "/" cannot occur in an id, so the hash input is
// unambiguous, and 64 bits make finding another project's prefix by
// choosing ids a search no tenant can afford. IAM keeps the ids whole,
// since a path holds 512 characters and "/" separates them:
// /tenantform/<userId>/<projectId>/.
//
// IAM cannot compute a hash, so the session carries the prefix as the
// NamePrefix session tag (without the trailing "-"), and in role mode
// the engine adds the same tag to every resource through default_tags,
// so that a tenant role's own tags scope its permissions boundary.

// NamePrefixTagKey is the session tag (and, in role mode, the resource
// tag) holding NamePrefixTag.
const NamePrefixTagKey = "NamePrefix"

// NamePrefix is the prefix every AWS name of the project starts with in
// role mode: "tf-" + 16 hex digits + "-".
func NamePrefix(userID, projectID string) string {
	return NamePrefixTag(userID, projectID) + "-"
}

// NamePrefixTag is NamePrefix without its trailing "-": the value of the
// NamePrefix session and resource tag.
func NamePrefixTag(userID, projectID string) string {
	sum := sha256.Sum256([]byte(userID + "/" + projectID))
	return "tf-" + hex.EncodeToString(sum[:8])
}

// IAMPath is the path of every IAM role and policy of the project in
// role mode.
func IAMPath(userID, projectID string) string {
	return "/tenantform/" + userID + "/" + projectID + "/"
}

// nameRule says which argument names a resource of a type, and which
// argument may give only its prefix (the provider then adds a unique
// suffix, so the name is unknown at plan).
type nameRule struct {
	arg, prefixArg string
	// also are other prefixes a name may start with, each followed by the
	// project's prefix: Lambda writes to /aws/lambda/<function name>.
	also []string
	// iamPath: the type is named by its IAM path instead.
	iamPath bool
}

// nameRules covers every allowed type whose ARN is built from a name the
// tenant chooses. API Gateway's ARNs hold generated ids and its actions
// evaluate tags, so it keeps the tag conditions; sub-resources (bucket
// policies, objects, permissions, aliases) live under an ARN named here.
var nameRules = map[string]nameRule{
	"aws_s3_bucket":            {arg: "bucket", prefixArg: "bucket_prefix"},
	"aws_dynamodb_table":       {arg: "name"},
	"aws_lambda_function":      {arg: "function_name"},
	"aws_lambda_layer_version": {arg: "layer_name"},
	"aws_cloudwatch_log_group": {arg: "name", prefixArg: "name_prefix", also: []string{"/aws/lambda/"}},
	"aws_iam_role":             {iamPath: true},
	"aws_iam_policy":           {iamPath: true},
}

// namePrefix checks, in role mode, that a resource being created carries
// the project's name prefix or IAM path. Names are fixed at creation (a
// change replaces the resource), so updates are not checked again.
func (pk *planChecker) namePrefix(rc *tfjson.ResourceChange, v values) {
	if !pk.pc.Rules.RequireNamePrefix || !rc.Change.Actions.Create() && !rc.Change.Actions.Replace() {
		return
	}
	rule, ok := nameRules[rc.Type]
	if !ok {
		return
	}
	userID, projectID := pk.pc.Tags["UserId"], pk.pc.Tags["ProjectId"]
	if userID == "" || projectID == "" {
		pk.report(ReasonPolicy, "cannot check the name: the project's UserId and ProjectId tags are not known")
		return
	}
	prefix := NamePrefix(userID, projectID)
	if rule.iamPath {
		want := IAMPath(userID, projectID)
		if got := v.strings("path"); len(got) != 1 || got[0] != want {
			pk.report(ReasonPolicy, "path must be %q: in role mode every IAM role and policy of this project lives under its IAM path", want)
		}
		return
	}
	if names := v.strings(rule.arg); len(names) == 1 {
		if !hasNamePrefix(names[0], prefix, rule.also) {
			pk.report(ReasonPolicy, "%s %q must start with %q, this project's name prefix%s", rule.arg, names[0], prefix, alsoText(prefix, rule.also))
		}
		return
	}
	if rule.prefixArg != "" {
		if ps := v.strings(rule.prefixArg); len(ps) == 1 && hasNamePrefix(ps[0], prefix, rule.also) {
			return
		}
		pk.report(ReasonPolicy, "%s is not known until apply: set %s to %q, or %s or a %s starting with it, so the name carries this project's name prefix", rule.arg, rule.prefixArg, prefix, rule.arg, rule.prefixArg)
		return
	}
	pk.report(ReasonPolicy, "%s is not known until apply: it must start with %q, this project's name prefix; give it from literals and variables", rule.arg, prefix)
}

func hasNamePrefix(name, prefix string, also []string) bool {
	if strings.HasPrefix(name, prefix) {
		return true
	}
	for _, a := range also {
		if strings.HasPrefix(name, a+prefix) {
			return true
		}
	}
	return false
}

func alsoText(prefix string, also []string) string {
	var b strings.Builder
	for _, a := range also {
		fmt.Fprintf(&b, " (or %q)", a+prefix)
	}
	return b.String()
}

// namePrefixTag checks, in role mode, that no resource sets the
// NamePrefix tag to another value than the project's: a role tagged with
// another project's prefix would get that project's names through its
// permissions boundary. (AWS refuses such a tag too: see aws-setup.)
func (pk *planChecker) namePrefixTag(v values) {
	if !pk.pc.Rules.RequireNamePrefix {
		return
	}
	want := NamePrefixTag(pk.pc.Tags["UserId"], pk.pc.Tags["ProjectId"])
	for _, arg := range []string{"tags", "tags_all"} {
		tags, _ := v.after[arg].(map[string]any)
		if got, ok := tags[NamePrefixTagKey]; ok && got != want {
			pk.report(ReasonPolicy, "%s sets the %s tag to %v: tenantform sets it to %q on every resource of this project", arg, NamePrefixTagKey, got, want)
			return
		}
	}
}
