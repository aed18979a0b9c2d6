package policy

import "strings"

// This file holds the rules both stages apply: the source check (Check,
// on the files) and the plan check (CheckPlan, on terraform's plan JSON).
// A rule is written here once, as data, and each stage reads it.

// PlatformTagKeys are the tags tenantform puts on every AWS resource of a
// project through the aws provider's default_tags (package tf injects
// them; AWS ABAC in deploy/aws keys on UserId and ProjectId). A tenant may
// neither set nor change them. AWS matches tag keys in IAM conditions
// without regard to case, so neither may any spelling of them.
var PlatformTagKeys = []string{"Project", "Environment", "ManagedBy", "UserId", "ProjectId", "CreatedAt"}

// platformTagKey returns the platform key k spells, in any case.
func platformTagKey(k string) (string, bool) {
	for _, p := range PlatformTagKeys {
		if strings.EqualFold(p, k) {
			return p, true
		}
	}
	return "", false
}

// tagArgs are the arguments of aws resources that hold tags. tags_all is
// computed by the provider (default_tags merged with tags): the plan check
// reads it, a tenant may never set it.
const (
	tagsArg    = "tags"
	tagsAllArg = "tags_all"
)

// ownedRef is an argument that names an existing resource. Whatever it
// names is acted on (a policy written, an item put, a role passed), so it
// must be one of the project's own resources: in the source, a reference
// to a resource of one of Targets declared in the same module; in the
// plan, a value that one of the planned resources of those types has.
type ownedRef struct {
	Type string // the resource type carrying the argument
	// Arg is the argument, "block.arg" for one of a nested block.
	Arg     string
	Targets []string
	// Managed allows, besides references, the literal ARNs listed in
	// Rules.AllowedManagedPolicies.
	Managed bool
}

// ownedRefs is the table of such arguments over the default allowed
// types. README.md lists it ("Own-or-nothing references"); keep both in
// step. Types an operator adds are not in it: adding a type is trusting
// it.
var ownedRefs = []ownedRef{
	{"aws_s3_bucket_policy", "bucket", s3Buckets, false},
	{"aws_s3_bucket_versioning", "bucket", s3Buckets, false},
	{"aws_s3_bucket_public_access_block", "bucket", s3Buckets, false},
	{"aws_s3_bucket_server_side_encryption_configuration", "bucket", s3Buckets, false},
	{"aws_s3_bucket_cors_configuration", "bucket", s3Buckets, false},
	{"aws_s3_bucket_website_configuration", "bucket", s3Buckets, false},
	{"aws_s3_bucket_lifecycle_configuration", "bucket", s3Buckets, false},
	{"aws_s3_bucket_ownership_controls", "bucket", s3Buckets, false},
	{"aws_s3_bucket_notification", "bucket", s3Buckets, false},
	{"aws_s3_bucket_notification", "lambda_function.lambda_function_arn", lambdaFunctions, false},
	{"aws_s3_object", "bucket", s3Buckets, false},

	{"aws_lambda_function", "role", iamRoles, false},
	{"aws_lambda_permission", "function_name", lambdaFunctions, false},
	{"aws_lambda_alias", "function_name", []string{"aws_lambda_function"}, false},
	{"aws_lambda_function_url", "function_name", lambdaFunctions, false},
	{"aws_lambda_event_source_mapping", "function_name", lambdaFunctions, false},
	{"aws_lambda_event_source_mapping", "event_source_arn", []string{"aws_dynamodb_table"}, false},

	{"aws_dynamodb_table_item", "table_name", []string{"aws_dynamodb_table"}, false},

	{"aws_iam_role_policy", "role", iamRoles, false},
	{"aws_iam_role_policy_attachment", "role", iamRoles, false},
	{"aws_iam_role_policy_attachment", "policy_arn", []string{"aws_iam_policy"}, true},

	{"aws_api_gateway_integration", "credentials", iamRoles, false},
	{"aws_api_gateway_authorizer", "authorizer_credentials", iamRoles, false},
	{"aws_apigatewayv2_integration", "credentials_arn", iamRoles, false},
	{"aws_apigatewayv2_authorizer", "authorizer_credentials_arn", iamRoles, false},
}

var (
	s3Buckets       = []string{"aws_s3_bucket"}
	lambdaFunctions = []string{"aws_lambda_function", "aws_lambda_alias"}
	iamRoles        = []string{"aws_iam_role"}
)

// apiGatewayRefs are the arguments of every aws_api_gateway_* and
// aws_apigatewayv2_* type that name the API they change, and the resource
// types that create such an API (a v1 resource or method names its REST
// API, a v2 route or stage its HTTP API).
var apiGatewayRefs = []ownedRef{
	{"aws_api_gateway_*", "rest_api_id", []string{"aws_api_gateway_rest_api"}, false},
	{"aws_apigatewayv2_*", "api_id", []string{"aws_apigatewayv2_api"}, false},
}

// ownedRefsOf returns the rows of the table for a resource type.
func ownedRefsOf(typ string) []ownedRef {
	var out []ownedRef
	for _, r := range ownedRefs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	for _, r := range apiGatewayRefs {
		if matchesAny([]string{r.Type}, typ) && typ != "aws_api_gateway_rest_api" && typ != "aws_apigatewayv2_api" {
			out = append(out, ownedRef{Type: typ, Arg: r.Arg, Targets: r.Targets})
		}
	}
	return out
}

// regionArg is an argument naming a region in which AWS creates
// something: aws provider 6 gives every resource a region argument, and a
// DynamoDB global table names its replicas' regions.
type regionArg struct {
	Type string // "*" for every aws_ type
	Arg  string // "block.arg" for one of a nested block
}

var regionArgs = []regionArg{
	{"*", "region"},
	{"aws_dynamodb_table", "replica.region_name"},
}

func regionArgsOf(typ string) []regionArg {
	var out []regionArg
	for _, r := range regionArgs {
		if r.Type == typ || r.Type == "*" && strings.HasPrefix(typ, "aws_") {
			out = append(out, r)
		}
	}
	return out
}

// alwaysRefused are types no operator setting can allow: each one escapes
// the project by its nature.
var alwaysRefused = map[string]string{
	"external":                "it runs a program on the tenantform host",
	"http":                    "it makes requests from the tenantform host",
	"local_file":              "it reads and writes files of the tenantform host",
	"local_sensitive_file":    "it reads and writes files of the tenantform host",
	"terraform_remote_state":  "it reads the state of other configurations",
	"aws_api_gateway_account": "it changes a setting shared by every project in the AWS account",
}

// typeHints explain the refusal of types tenants are likely to try.
var typeHints = map[string]string{
	"null_resource": "it exists to run provisioners; use terraform_data for plain values",
}

// dataSourceHint is why a data source outside the allow-list is refused.
const dataSourceHint = "data sources may only read what belongs to no tenant (caller identity, region, partition, availability zones, policy documents, archives of the project's own files); reading other objects would read other tenants' ones: refer to your own resources instead"

// Trust and permission policies. The plan check reads these arguments as
// IAM policy documents (JSON strings in the plan).
var (
	// trustPolicyArgs hold who may assume a role.
	trustPolicyArgs = map[string][]string{
		"aws_iam_role": {"assume_role_policy"},
	}
	// permissionPolicyArgs hold what a role or policy allows.
	permissionPolicyArgs = map[string][]string{
		"aws_iam_role_policy": {"policy"},
		"aws_iam_policy":      {"policy"},
		"aws_iam_role":        {"inline_policy.policy"},
	}
)

// allowedControlActions are the only IAM, STS and Organizations actions a
// tenant's permission policy may grant: these services control identities
// and accounts, so any other action of theirs could reach past the
// project. Matched without regard to case, as IAM does.
var allowedControlActions = []string{"sts:GetCallerIdentity"}

// controlServices are the services whose actions allowedControlActions
// bounds.
var controlServices = []string{"iam", "sts", "organizations"}

// DefaultManagedPolicies are the AWS managed policies a tenant role may
// have attached: the execution roles the guide's services need.
func DefaultManagedPolicies() []string {
	return []string{
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
	}
}

// costArg is an argument that decides a resource's price. When the
// configuration sets it to a value unknown at plan time, the price is
// open-ended: the plan check blocks with CostUnknown rather than guess the
// cheapest value. An argument the configuration leaves out is the
// provider's default (Lambda's 512 MB of ephemeral storage) or computed
// from others, and is priced as such.
type costArg struct {
	Arg string
	// Irrelevant, when set, reports that the argument does not decide
	// the price of this resource (capacities of an on-demand table).
	Irrelevant func(v values) bool
}

var costArgs = map[string][]costArg{
	"aws_dynamodb_table": {
		{Arg: "billing_mode"},
		{Arg: "read_capacity", Irrelevant: onDemand},
		{Arg: "write_capacity", Irrelevant: onDemand},
	},
	"aws_lambda_function": {
		{Arg: "memory_size"}, {Arg: "ephemeral_storage.size"}, {Arg: "reserved_concurrent_executions"},
	},
	"aws_api_gateway_stage": {
		{Arg: "cache_cluster_enabled"}, {Arg: "cache_cluster_size"},
	},
	"aws_cloudwatch_log_group": {{Arg: "retention_in_days"}},
}

// onDemand reports a DynamoDB table billed per request, whose
// capacities price nothing.
func onDemand(v values) bool {
	mode := v.strings("billing_mode")
	return len(mode) == 1 && strings.EqualFold(mode[0], "PAY_PER_REQUEST")
}
