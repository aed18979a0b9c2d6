package main

import (
	"fmt"
	"strings"
	"testing"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// The documents of aws-setup, evaluated (iameval_test.go) against the API
// calls each supported type needs to be created, read, updated, tagged and
// deleted: one line per action, from the AWS Service Authorization
// Reference (actions, resource types, condition keys) and the calls
// hashicorp/aws 5.x makes for each resource. A session of one project is
// allowed every line on its own resources, and denied every line on
// another project's and on resources without its name prefix (or tags,
// for API Gateway).

const evalAccount = "111122223333"

// evalProject is one project as the documents see it: the session tags
// tenantform sets on AssumeRole, and the names and tags of its resources.
type evalProject struct {
	user, project string
	// prefix is the name prefix; unprefixed projects use "" (a
	// resource named without it).
	prefix string
	path   string
	tagged bool
}

func ownedBy(user, project string) evalProject {
	return evalProject{user: user, project: project, prefix: policy.NamePrefix(user, project), path: policy.IAMPath(user, project), tagged: true}
}

// unprefixed is a resource named without any project's prefix, under the
// root IAM path and without the platform tags: what a tenant could reach
// if names were free.
var unprefixed = evalProject{prefix: "", path: "/", tagged: false}

// sessionContext is the request context of a tenant session of p.
func sessionContext(p evalProject) map[string][]string {
	return map[string][]string{
		"aws:PrincipalTag/UserId":     {p.user},
		"aws:PrincipalTag/ProjectId":  {p.project},
		"aws:PrincipalTag/Project":    {tf.ProjectTag(p.user, p.project)},
		"aws:PrincipalTag/NamePrefix": {policy.NamePrefixTag(p.user, p.project)},
		"aws:RequestedRegion":         {"us-east-1"},
	}
}

// resourceTags are the aws:ResourceTag keys of target's resources, for
// the services that evaluate them.
func resourceTags(target evalProject) map[string][]string {
	if !target.tagged {
		return nil
	}
	return map[string][]string{
		"aws:ResourceTag/UserId":    {target.user},
		"aws:ResourceTag/ProjectId": {target.project},
		"aws:ResourceTag/ManagedBy": {tf.ManagedByTag},
	}
}

// requestTags are the tags a create or tag call sends for target (the
// engine's default_tags: the platform tags and, in role mode, NamePrefix).
func requestTags(target evalProject) map[string][]string {
	if !target.tagged {
		return map[string][]string{"aws:RequestTag/Team": {"web"}, "aws:TagKeys": {"Team"}}
	}
	return map[string][]string{
		"aws:RequestTag/UserId":     {target.user},
		"aws:RequestTag/ProjectId":  {target.project},
		"aws:RequestTag/ManagedBy":  {tf.ManagedByTag},
		"aws:RequestTag/NamePrefix": {strings.TrimSuffix(target.prefix, "-")},
		"aws:TagKeys":               {"UserId", "ProjectId", "ManagedBy", "NamePrefix"},
	}
}

// actionLine is one API call of a resource's life.
type actionLine struct {
	typ, phase, action string
	// arn builds the resource ARN of the call for a target project.
	arn func(target evalProject) string
	// ctx adds condition keys of the call for a target project.
	ctx func(target evalProject) map[string][]string
}

func bucketARN(t evalProject) string { return "arn:aws:s3:::" + t.prefix + "site" }
func objectARN(t evalProject) string { return bucketARN(t) + "/index.html" }
func tableARN(t evalProject) string {
	return "arn:aws:dynamodb:us-east-1:" + evalAccount + ":table/" + t.prefix + "items"
}
func functionARN(t evalProject) string {
	return "arn:aws:lambda:us-east-1:" + evalAccount + ":function:" + t.prefix + "api"
}
func layerARN(t evalProject) string {
	return "arn:aws:lambda:us-east-1:" + evalAccount + ":layer:" + t.prefix + "deps"
}
func logGroupARN(t evalProject) string {
	return "arn:aws:logs:us-east-1:" + evalAccount + ":log-group:/aws/lambda/" + t.prefix + "api"
}
func roleARN(t evalProject) string {
	return "arn:aws:iam::" + evalAccount + ":role" + t.path + "exec"
}
func iamPolicyARN(t evalProject) string {
	return "arn:aws:iam::" + evalAccount + ":policy" + t.path + "access"
}
func apiARN(evalProject) string { return "arn:aws:apigateway:us-east-1::/apis/a1b2c3" }

func fixed(arn string) func(evalProject) string { return func(evalProject) string { return arn } }

func noCtx(evalProject) map[string][]string { return nil }

// merged joins context builders.
func merged(fs ...func(evalProject) map[string][]string) func(evalProject) map[string][]string {
	return func(t evalProject) map[string][]string {
		out := map[string][]string{}
		for _, f := range fs {
			for k, v := range f(t) {
				out[k] = v
			}
		}
		return out
	}
}

func functionArnCtx(t evalProject) map[string][]string {
	return map[string][]string{"lambda:FunctionArn": {functionARN(t)}}
}

func passedTo(service string) func(evalProject) map[string][]string {
	return func(evalProject) map[string][]string {
		return map[string][]string{"iam:PassedToService": {service}}
	}
}

func withBoundary(evalProject) map[string][]string {
	return map[string][]string{"iam:PermissionsBoundary": {"arn:aws:iam::" + evalAccount + ":policy/tenantform-tenant-boundary"}}
}

// untagOwnKey is an untag of a tenant's own tag key.
func untagOwnKey(evalProject) map[string][]string {
	return map[string][]string{"aws:TagKeys": {"Team"}}
}

// tenantTag is a tag call setting only a tenant's own key (a tag added
// to one resource later): not another owner's, so not refused.
func tenantTag(evalProject) map[string][]string {
	return map[string][]string{"aws:RequestTag/Team": {"web"}, "aws:TagKeys": {"Team"}}
}

// lifecycle is the table: every supported resource type, every call.
func lifecycle() []actionLine {
	var lines []actionLine
	add := func(typ, phase string, arn func(evalProject) string, ctx func(evalProject) map[string][]string, actions ...string) {
		for _, a := range actions {
			lines = append(lines, actionLine{typ, phase, a, arn, ctx})
		}
	}
	// aws_s3_bucket and its configuration resources. S3 evaluates no
	// aws:ResourceTag on buckets, so no line carries one.
	add("aws_s3_bucket", "create", bucketARN, noCtx, "s3:CreateBucket")
	add("aws_s3_bucket", "create", bucketARN, requestTags, "s3:PutBucketTagging")
	add("aws_s3_bucket", "read", bucketARN, noCtx, "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketPolicy",
		"s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration",
		"s3:GetBucketRequestPayment", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
		"s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketPublicAccessBlock",
		"s3:GetBucketOwnershipControls", "s3:GetBucketNotification")
	add("aws_s3_bucket", "update", bucketARN, noCtx, "s3:PutBucketPolicy", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
		"s3:PutBucketPublicAccessBlock", "s3:PutBucketCORS", "s3:PutBucketWebsite", "s3:PutLifecycleConfiguration",
		"s3:PutBucketOwnershipControls", "s3:PutBucketNotification")
	add("aws_s3_bucket", "tag", bucketARN, requestTags, "s3:PutBucketTagging")
	add("aws_s3_bucket", "delete", bucketARN, noCtx, "s3:ListBucketVersions", "s3:DeleteBucketPolicy", "s3:DeleteBucketWebsite", "s3:DeleteBucket")
	add("aws_s3_object", "create", objectARN, noCtx, "s3:PutObject")
	add("aws_s3_object", "read", objectARN, noCtx, "s3:GetObject", "s3:GetObjectTagging")
	add("aws_s3_object", "tag", objectARN, noCtx, "s3:PutObjectTagging")
	add("aws_s3_object", "delete", objectARN, noCtx, "s3:DeleteObject", "s3:DeleteObjectVersion")

	// aws_dynamodb_table, aws_dynamodb_table_item.
	add("aws_dynamodb_table", "create", tableARN, requestTags, "dynamodb:CreateTable")
	add("aws_dynamodb_table", "create", tableARN, noCtx, "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups")
	add("aws_dynamodb_table", "read", tableARN, noCtx, "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
		"dynamodb:DescribeContinuousBackups", "dynamodb:ListTagsOfResource")
	add("aws_dynamodb_table", "update", tableARN, noCtx, "dynamodb:UpdateTable")
	add("aws_dynamodb_table", "tag", tableARN, requestTags, "dynamodb:TagResource")
	add("aws_dynamodb_table", "tag", tableARN, tenantTag, "dynamodb:TagResource")
	add("aws_dynamodb_table", "tag", tableARN, untagOwnKey, "dynamodb:UntagResource")
	add("aws_dynamodb_table", "delete", tableARN, noCtx, "dynamodb:DeleteTable")
	add("aws_dynamodb_table_item", "create", tableARN, noCtx, "dynamodb:PutItem")
	add("aws_dynamodb_table_item", "read", tableARN, noCtx, "dynamodb:GetItem")
	add("aws_dynamodb_table_item", "delete", tableARN, noCtx, "dynamodb:DeleteItem")

	// aws_lambda_function and what hangs off it.
	add("aws_lambda_function", "create", functionARN, requestTags, "lambda:CreateFunction")
	add("aws_lambda_function", "create", roleARN, passedTo("lambda.amazonaws.com"), "iam:PassRole")
	add("aws_lambda_function", "read", functionARN, noCtx, "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig",
		"lambda:ListVersionsByFunction", "lambda:GetFunctionConcurrency", "lambda:ListTags")
	add("aws_lambda_function", "update", functionARN, noCtx, "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion")
	add("aws_lambda_function", "tag", functionARN, requestTags, "lambda:TagResource")
	add("aws_lambda_function", "tag", functionARN, tenantTag, "lambda:TagResource")
	add("aws_lambda_function", "tag", functionARN, untagOwnKey, "lambda:UntagResource")
	add("aws_lambda_function", "delete", functionARN, noCtx, "lambda:DeleteFunction")
	add("aws_lambda_permission", "create", functionARN, noCtx, "lambda:AddPermission")
	add("aws_lambda_permission", "read", functionARN, noCtx, "lambda:GetPolicy")
	add("aws_lambda_permission", "delete", functionARN, noCtx, "lambda:RemovePermission")
	add("aws_lambda_alias", "create", functionARN, noCtx, "lambda:CreateAlias")
	add("aws_lambda_alias", "read", func(t evalProject) string { return functionARN(t) + ":live" }, noCtx, "lambda:GetAlias")
	add("aws_lambda_alias", "delete", func(t evalProject) string { return functionARN(t) + ":live" }, noCtx, "lambda:DeleteAlias")
	add("aws_lambda_function_url", "create", functionARN, noCtx, "lambda:CreateFunctionUrlConfig")
	add("aws_lambda_function_url", "read", functionARN, noCtx, "lambda:GetFunctionUrlConfig")
	add("aws_lambda_function_url", "delete", functionARN, noCtx, "lambda:DeleteFunctionUrlConfig")
	add("aws_lambda_layer_version", "create", layerARN, noCtx, "lambda:PublishLayerVersion")
	add("aws_lambda_layer_version", "read", func(t evalProject) string { return layerARN(t) + ":1" }, noCtx, "lambda:GetLayerVersion")
	add("aws_lambda_layer_version", "delete", func(t evalProject) string { return layerARN(t) + ":1" }, noCtx, "lambda:DeleteLayerVersion")
	add("aws_lambda_event_source_mapping", "create", fixed("*"), functionArnCtx, "lambda:CreateEventSourceMapping")
	esm := fixed("arn:aws:lambda:us-east-1:" + evalAccount + ":event-source-mapping:5f0c2d8e-0000-4000-8000-000000000000")
	add("aws_lambda_event_source_mapping", "read", esm, functionArnCtx, "lambda:GetEventSourceMapping")
	add("aws_lambda_event_source_mapping", "update", esm, functionArnCtx, "lambda:UpdateEventSourceMapping")
	add("aws_lambda_event_source_mapping", "delete", esm, functionArnCtx, "lambda:DeleteEventSourceMapping")

	// aws_cloudwatch_log_group (Lambda's /aws/lambda/<function>).
	add("aws_cloudwatch_log_group", "create", logGroupARN, requestTags, "logs:CreateLogGroup")
	add("aws_cloudwatch_log_group", "create", logGroupARN, noCtx, "logs:PutRetentionPolicy")
	add("aws_cloudwatch_log_group", "read", logGroupARN, noCtx, "logs:ListTagsForResource")
	add("aws_cloudwatch_log_group", "update", logGroupARN, noCtx, "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy")
	add("aws_cloudwatch_log_group", "tag", logGroupARN, requestTags, "logs:TagResource")
	add("aws_cloudwatch_log_group", "tag", logGroupARN, tenantTag, "logs:TagResource")
	add("aws_cloudwatch_log_group", "tag", logGroupARN, untagOwnKey, "logs:UntagResource")
	add("aws_cloudwatch_log_group", "delete", logGroupARN, noCtx, "logs:DeleteLogGroup")

	// aws_iam_role, aws_iam_role_policy, aws_iam_role_policy_attachment,
	// aws_iam_policy: under the project's IAM path.
	add("aws_iam_role", "create", roleARN, merged(requestTags, withBoundary), "iam:CreateRole")
	add("aws_iam_role", "read", roleARN, noCtx, "iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags")
	add("aws_iam_role", "update", roleARN, noCtx, "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription")
	add("aws_iam_role", "tag", roleARN, requestTags, "iam:TagRole")
	add("aws_iam_role", "tag", roleARN, tenantTag, "iam:TagRole")
	add("aws_iam_role", "tag", roleARN, untagOwnKey, "iam:UntagRole")
	add("aws_iam_role", "delete", roleARN, noCtx, "iam:ListInstanceProfilesForRole", "iam:DeleteRole")
	add("aws_iam_role_policy", "create", roleARN, noCtx, "iam:PutRolePolicy")
	add("aws_iam_role_policy", "read", roleARN, noCtx, "iam:GetRolePolicy")
	add("aws_iam_role_policy", "delete", roleARN, noCtx, "iam:DeleteRolePolicy")
	add("aws_iam_role_policy_attachment", "create", roleARN, noCtx, "iam:AttachRolePolicy")
	add("aws_iam_role_policy_attachment", "delete", roleARN, noCtx, "iam:DetachRolePolicy")
	add("aws_iam_policy", "create", iamPolicyARN, requestTags, "iam:CreatePolicy")
	add("aws_iam_policy", "read", iamPolicyARN, noCtx, "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags")
	add("aws_iam_policy", "update", iamPolicyARN, noCtx, "iam:CreatePolicyVersion", "iam:DeletePolicyVersion")
	add("aws_iam_policy", "tag", iamPolicyARN, requestTags, "iam:TagPolicy")
	add("aws_iam_policy", "delete", iamPolicyARN, noCtx, "iam:DeletePolicy")

	// aws_apigatewayv2_api (and its routes, stages, integrations, which
	// are sub-paths of the API): ids, not names, so tags.
	add("aws_apigatewayv2_api", "create", fixed("arn:aws:apigateway:us-east-1::/apis"), requestTags, "apigateway:POST")
	add("aws_apigatewayv2_api", "read", apiARN, resourceTags, "apigateway:GET")
	add("aws_apigatewayv2_api", "update", apiARN, resourceTags, "apigateway:PATCH")
	add("aws_apigatewayv2_api", "tag", fixed("arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Fapis%2Fa1b2c3"), merged(resourceTags, requestTags), "apigateway:POST")
	add("aws_apigatewayv2_api", "delete", apiARN, resourceTags, "apigateway:DELETE")
	add("aws_apigatewayv2_route", "create", fixed("arn:aws:apigateway:us-east-1::/apis/a1b2c3/routes"), merged(resourceTags, requestTags), "apigateway:POST")
	return lines
}

func awsSetupPolicies(t *testing.T) (trust, identity, boundary iamPolicy) {
	t.Helper()
	files := awsSetupFiles(t, "--account-id", evalAccount, "--external-id", "example-external-id")
	return parseIAMPolicy(t, files[trustFile]), parseIAMPolicy(t, files[permissionFile]), parseIAMPolicy(t, files[boundaryFile])
}

// TestAWSSetupEvaluatedPerType: a project's session may make every call
// of every supported type on its own resources, and none on another
// user's project, on another project of the same user, or on resources
// without its prefix, path or tags.
func TestAWSSetupEvaluatedPerType(t *testing.T) {
	_, identity, _ := awsSetupPolicies(t)
	alice := ownedBy("alice", "web")
	targets := map[string]evalProject{
		"another user's project":        ownedBy("bob", "web"),
		"another project of the user":   ownedBy("alice", "api"),
		"ids that join alike (a-b + c)": ownedBy("alice-web", "x"),
		"unprefixed and untagged":       unprefixed,
	}
	types := map[string]bool{}
	for _, line := range lifecycle() {
		types[line.typ] = true
		name := fmt.Sprintf("%s %s %s", line.typ, line.phase, line.action)
		req := func(target evalProject) iamRequest {
			ctx := sessionContext(alice)
			for k, v := range line.ctx(target) {
				ctx[k] = v
			}
			return iamRequest{Action: line.action, Resource: line.arn(target), Context: ctx}
		}
		if ok, why := iamAllowed(t, identity, nil, req(alice)); !ok {
			t.Errorf("%s on the project's own %s: %s", name, line.arn(alice), why)
		}
		for what, target := range targets {
			r := req(target)
			if line.arn(target) == line.arn(alice) && !line.typ_isTagScoped() && sameCtx(line.ctx(target), line.ctx(alice)) {
				// A call whose ARN and keys do not depend on the owner
				// (there is none in the table): nothing to tell apart.
				t.Fatalf("%s: the line cannot tell projects apart", name)
			}
			if ok, why := iamAllowed(t, identity, nil, r); ok {
				t.Errorf("%s on %s (%s) is allowed by %s", name, what, r.Resource, why)
			}
		}
	}
	// Every allowed AWS type the plan policy names is in the table or
	// is a configuration sub-resource of one (same ARN and calls).
	subResources := map[string]string{
		"aws_s3_bucket_policy": "aws_s3_bucket", "aws_s3_bucket_versioning": "aws_s3_bucket",
		"aws_s3_bucket_public_access_block": "aws_s3_bucket", "aws_s3_bucket_server_side_encryption_configuration": "aws_s3_bucket",
		"aws_s3_bucket_cors_configuration": "aws_s3_bucket", "aws_s3_bucket_website_configuration": "aws_s3_bucket",
		"aws_s3_bucket_lifecycle_configuration": "aws_s3_bucket", "aws_s3_bucket_ownership_controls": "aws_s3_bucket",
		"aws_s3_bucket_notification": "aws_s3_bucket",
	}
	for _, typ := range policy.DefaultRules().AllowedResourceTypes {
		if !strings.HasPrefix(typ, "aws_") || strings.HasSuffix(typ, "*") {
			continue
		}
		if !types[typ] && !types[subResources[typ]] {
			t.Errorf("%s has no line in the table", typ)
		}
	}
}

func (l actionLine) typ_isTagScoped() bool { return strings.HasPrefix(l.typ, "aws_apigateway") }

func sameCtx(a, b map[string][]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestAWSSetupRefusesTheseToo: calls a tenant session must not make on its
// own resources either.
func TestAWSSetupRefusesTheseToo(t *testing.T) {
	_, identity, _ := awsSetupPolicies(t)
	alice := ownedBy("alice", "web")
	bob := ownedBy("bob", "web")
	with := func(extra map[string][]string) map[string][]string {
		ctx := sessionContext(alice)
		for k, v := range extra {
			ctx[k] = v
		}
		return ctx
	}
	for name, r := range map[string]iamRequest{
		"tag its table as bob's":                 {"dynamodb:TagResource", tableARN(alice), with(map[string][]string{"aws:RequestTag/UserId": {"bob"}, "aws:TagKeys": {"UserId"}})},
		"tag its role with bob's prefix":         {"iam:TagRole", roleARN(alice), with(map[string][]string{"aws:RequestTag/NamePrefix": {policy.NamePrefixTag("bob", "web")}, "aws:TagKeys": {"NamePrefix"}})},
		"create a role with bob's prefix tag":    {"iam:CreateRole", roleARN(alice), with(merged(requestTags, withBoundary)(bob))},
		"create a role without the boundary":     {"iam:CreateRole", roleARN(alice), with(requestTags(alice))},
		"remove the boundary":                    {"iam:DeleteRolePermissionsBoundary", roleARN(alice), with(nil)},
		"untag a platform tag":                   {"lambda:UntagResource", functionARN(alice), with(map[string][]string{"aws:TagKeys": {"ProjectId"}})},
		"create an API tagged as bob's":          {"apigateway:POST", "arn:aws:apigateway:us-east-1::/apis", with(requestTags(bob))},
		"pass its role to another service":       {"iam:PassRole", roleARN(alice), with(map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}})},
		"act in another region":                  {"s3:GetObject", objectARN(alice), with(map[string][]string{"aws:RequestedRegion": {"eu-west-1"}})},
		"touch the platform role":                {"iam:PutRolePolicy", "arn:aws:iam::" + evalAccount + ":role/tenantform-platform", with(nil)},
		"a bucket in another account":            {"s3:GetObject", "arn:aws:s3:::" + policy.NamePrefix("alice", "web") + "x/k", with(nil)},
		"a table of its name in another account": {"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:999999999999:table/" + policy.NamePrefix("alice", "web") + "items", with(nil)},
	} {
		ok, why := iamAllowed(t, identity, nil, r)
		if name == "a bucket in another account" {
			// S3 ARNs hold no account: a bucket name is global, and the
			// prefix is the project's wherever the bucket is.
			if !ok {
				t.Errorf("%s: %s", name, why)
			}
			continue
		}
		if ok {
			t.Errorf("%s: allowed by %s", name, why)
		}
	}
}

// TestAWSSetupBoundary: a role a tenant creates, with any identity policy
// the tenant writes (here: everything), reaches through its permissions
// boundary only its project's names and APIs. Its principal tags are its
// own tags, which the engine sets.
func TestAWSSetupBoundary(t *testing.T) {
	_, _, boundary := awsSetupPolicies(t)
	everything := parseIAMPolicy(t, `{"Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}`)
	alice, bob := ownedBy("alice", "web"), ownedBy("bob", "web")
	for _, tc := range []struct {
		action string
		arn    func(evalProject) string
		ctx    func(evalProject) map[string][]string
	}{
		{"s3:GetObject", objectARN, noCtx},
		{"s3:PutObject", objectARN, noCtx},
		{"s3:ListBucket", bucketARN, noCtx},
		{"dynamodb:GetItem", tableARN, noCtx},
		{"dynamodb:PutItem", tableARN, noCtx},
		{"dynamodb:Query", func(t evalProject) string { return tableARN(t) + "/index/byDate" }, noCtx},
		{"lambda:InvokeFunction", functionARN, noCtx},
		{"logs:CreateLogStream", logGroupARN, noCtx},
		{"logs:PutLogEvents", func(t evalProject) string { return logGroupARN(t) + ":log-stream:2025/01/01/abc" }, noCtx},
		{"apigateway:GET", apiARN, resourceTags},
	} {
		own := iamRequest{tc.action, tc.arn(alice), merged(sessionContext, tc.ctx)(alice)}
		if ok, why := iamAllowed(t, everything, &boundary, own); !ok {
			t.Errorf("%s on its own %s: %s", tc.action, own.Resource, why)
		}
		for _, other := range []evalProject{bob, unprefixed} {
			ctx := sessionContext(alice)
			for k, v := range tc.ctx(other) {
				ctx[k] = v
			}
			r := iamRequest{tc.action, tc.arn(other), ctx}
			if ok, why := iamAllowed(t, everything, &boundary, r); ok {
				t.Errorf("%s on %s is allowed by %s", tc.action, r.Resource, why)
			}
		}
	}
	for _, action := range []string{"iam:CreateRole", "iam:PassRole", "sts:AssumeRole", "organizations:LeaveOrganization"} {
		if ok, why := iamAllowed(t, everything, &boundary, iamRequest{action, "*", sessionContext(alice)}); ok {
			t.Errorf("%s allowed by %s", action, why)
		}
	}
}

// TestAWSSetupTrust: the platform role's trust policy accepts the session
// tags tenantform sends (aws.SessionTagKeys) and no others. (The
// evaluator does not check Principal; TestAWSSetupDocuments does.)
func TestAWSSetupTrust(t *testing.T) {
	trust, _, _ := awsSetupPolicies(t)
	tags := map[string][]string{
		"aws:RequestTag/UserId":     {"alice"},
		"aws:RequestTag/ProjectId":  {"web"},
		"aws:RequestTag/Project":    {tf.ProjectTag("alice", "web")},
		"aws:RequestTag/NamePrefix": {policy.NamePrefixTag("alice", "web")},
		"aws:TagKeys":               tfaws.SessionTagKeys,
	}
	role := "arn:aws:iam::" + evalAccount + ":role/tenantform-platform"
	if e, sid := trust.evaluate(t, iamRequest{"sts:TagSession", role, tags}); e != allowed {
		t.Errorf("the session tags tenantform sends are refused: %v %s", e, sid)
	}
	if e, _ := trust.evaluate(t, iamRequest{"sts:AssumeRole", role, map[string][]string{"sts:ExternalId": {"example-external-id"}}}); e != allowed {
		t.Errorf("AssumeRole with the external id refused")
	}
	if e, _ := trust.evaluate(t, iamRequest{"sts:AssumeRole", role, map[string][]string{"sts:ExternalId": {"guess"}}}); e == allowed {
		t.Errorf("AssumeRole with another external id allowed")
	}
	extra := map[string][]string{}
	for k, v := range tags {
		extra[k] = v
	}
	extra["aws:RequestTag/Admin"] = []string{"true"}
	extra["aws:TagKeys"] = append(append([]string(nil), tfaws.SessionTagKeys...), "Admin")
	if e, _ := trust.evaluate(t, iamRequest{"sts:TagSession", role, extra}); e == allowed {
		t.Error("a session tag outside the set was accepted")
	}
	delete(tags, "aws:RequestTag/NamePrefix")
	if e, _ := trust.evaluate(t, iamRequest{"sts:TagSession", role, tags}); e == allowed {
		t.Error("a session without NamePrefix was accepted")
	}
}
