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
// names is acted on (a policy written, an item put, a role passed, code
// loaded), so it must be one of the project's own resources: in the
// source, a reference to an identity attribute (identityAttrs) of a
// resource of one of Targets declared in the same module; in the plan, a
// known value that is such an identity of one of the planned resources,
// or an unknown one whose configuration expression refers only to such
// identities.
type ownedRef struct {
	Type string // the resource type carrying the argument
	// Arg is the argument, "block.arg" or "block.inner.arg" for one of
	// a nested block. A list argument (layers) holds references only.
	Arg string
	// Targets are the types whose resources the argument may name. None:
	// it would name a resource of a type tenants cannot create (a KMS
	// key, a certificate, a VPC), so it may not be set at all.
	Targets []string
	// Managed allows, besides references, the literal ARNs listed in
	// Rules.AllowedManagedPolicies.
	Managed bool
	// URL allows, besides references, a literal http:// or https:// URL
	// (an HTTP integration calls a public endpoint, not a resource).
	URL bool
}

// ownedRefs is the table of such arguments over the default allowed
// types. README.md lists it ("Own-or-nothing references"); keep both in
// step. Types an operator adds are not in it: adding a type is trusting
// it. classify.go classifies every other attribute of the allowed types
// as plain or computed.
var ownedRefs = []ownedRef{
	{Type: "aws_s3_bucket_policy", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_versioning", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_public_access_block", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_server_side_encryption_configuration", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_server_side_encryption_configuration", Arg: "rule.apply_server_side_encryption_by_default.kms_master_key_id"},
	{Type: "aws_s3_bucket_cors_configuration", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_website_configuration", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_lifecycle_configuration", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_ownership_controls", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_notification", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket_notification", Arg: "lambda_function.lambda_function_arn", Targets: lambdaFunctions},
	{Type: "aws_s3_bucket_notification", Arg: "queue.queue_arn"},
	{Type: "aws_s3_bucket_notification", Arg: "topic.topic_arn"},
	{Type: "aws_s3_bucket", Arg: "logging.target_bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket", Arg: "replication_configuration.role"},
	{Type: "aws_s3_bucket", Arg: "replication_configuration.rules.destination.bucket", Targets: s3Buckets},
	{Type: "aws_s3_bucket", Arg: "replication_configuration.rules.destination.account_id"},
	{Type: "aws_s3_bucket", Arg: "replication_configuration.rules.destination.replica_kms_key_id"},
	{Type: "aws_s3_bucket", Arg: "server_side_encryption_configuration.rule.apply_server_side_encryption_by_default.kms_master_key_id"},
	{Type: "aws_s3_object", Arg: "bucket", Targets: s3Buckets},
	{Type: "aws_s3_object", Arg: "kms_key_id"},

	{Type: "aws_lambda_function", Arg: "role", Targets: iamRoles},
	{Type: "aws_lambda_function", Arg: "s3_bucket", Targets: s3Buckets},
	{Type: "aws_lambda_function", Arg: "layers", Targets: lambdaLayers},
	{Type: "aws_lambda_function", Arg: "image_uri"},
	{Type: "aws_lambda_function", Arg: "kms_key_arn"},
	{Type: "aws_lambda_function", Arg: "code_signing_config_arn"},
	{Type: "aws_lambda_function", Arg: "dead_letter_config.target_arn"},
	{Type: "aws_lambda_function", Arg: "file_system_config.arn"},
	{Type: "aws_lambda_function", Arg: "vpc_config.subnet_ids"},
	{Type: "aws_lambda_function", Arg: "vpc_config.security_group_ids"},
	{Type: "aws_lambda_function", Arg: "replacement_security_group_ids"},
	{Type: "aws_lambda_function", Arg: "logging_config.log_group", Targets: logGroups},
	{Type: "aws_lambda_layer_version", Arg: "s3_bucket", Targets: s3Buckets},
	{Type: "aws_lambda_permission", Arg: "function_name", Targets: lambdaFunctions},
	{Type: "aws_lambda_alias", Arg: "function_name", Targets: []string{"aws_lambda_function"}},
	{Type: "aws_lambda_function_url", Arg: "function_name", Targets: lambdaFunctions},
	{Type: "aws_lambda_event_source_mapping", Arg: "function_name", Targets: lambdaFunctions},
	{Type: "aws_lambda_event_source_mapping", Arg: "event_source_arn", Targets: []string{"aws_dynamodb_table"}},
	{Type: "aws_lambda_event_source_mapping", Arg: "destination_config.on_failure.destination_arn"},
	{Type: "aws_lambda_event_source_mapping", Arg: "kms_key_arn"},
	{Type: "aws_lambda_event_source_mapping", Arg: "queues"},
	{Type: "aws_lambda_event_source_mapping", Arg: "source_access_configuration.uri"},
	{Type: "aws_lambda_event_source_mapping", Arg: "topics"},

	{Type: "aws_dynamodb_table", Arg: "restore_source_name", Targets: dynamoDBTables},
	{Type: "aws_dynamodb_table", Arg: "restore_source_table_arn", Targets: dynamoDBTables},
	{Type: "aws_dynamodb_table", Arg: "import_table.s3_bucket_source.bucket", Targets: s3Buckets},
	{Type: "aws_dynamodb_table", Arg: "import_table.s3_bucket_source.bucket_owner"},
	{Type: "aws_dynamodb_table", Arg: "server_side_encryption.kms_key_arn"},
	{Type: "aws_dynamodb_table", Arg: "replica.kms_key_arn"},
	{Type: "aws_dynamodb_table_item", Arg: "table_name", Targets: dynamoDBTables},

	{Type: "aws_iam_role", Arg: "managed_policy_arns", Targets: []string{"aws_iam_policy"}, Managed: true},
	{Type: "aws_iam_role_policy", Arg: "role", Targets: iamRoles},
	{Type: "aws_iam_role_policy_attachment", Arg: "role", Targets: iamRoles},
	{Type: "aws_iam_role_policy_attachment", Arg: "policy_arn", Targets: []string{"aws_iam_policy"}, Managed: true},

	{Type: "aws_cloudwatch_log_group", Arg: "kms_key_id"},

	{Type: "aws_api_gateway_integration", Arg: "credentials", Targets: iamRoles},
	{Type: "aws_api_gateway_integration", Arg: "uri", Targets: lambdaFunctions, URL: true},
	{Type: "aws_api_gateway_integration", Arg: "connection_id"},
	{Type: "aws_api_gateway_authorizer", Arg: "authorizer_credentials", Targets: iamRoles},
	{Type: "aws_api_gateway_authorizer", Arg: "authorizer_uri", Targets: lambdaFunctions},
	{Type: "aws_api_gateway_authorizer", Arg: "provider_arns"},
	{Type: "aws_api_gateway_stage", Arg: "access_log_settings.destination_arn", Targets: logGroups},
	{Type: "aws_api_gateway_stage", Arg: "client_certificate_id", Targets: []string{"aws_api_gateway_client_certificate"}},
	{Type: "aws_api_gateway_domain_name", Arg: "certificate_arn"},
	{Type: "aws_api_gateway_domain_name", Arg: "regional_certificate_arn"},
	{Type: "aws_api_gateway_domain_name", Arg: "ownership_verification_certificate_arn"},
	{Type: "aws_api_gateway_domain_name", Arg: "mutual_tls_authentication.truststore_uri"},
	{Type: "aws_api_gateway_base_path_mapping", Arg: "domain_name", Targets: []string{"aws_api_gateway_domain_name"}},
	{Type: "aws_api_gateway_base_path_mapping", Arg: "api_id", Targets: []string{"aws_api_gateway_rest_api"}},
	{Type: "aws_api_gateway_base_path_mapping", Arg: "domain_name_id"},
	{Type: "aws_api_gateway_domain_name_access_association", Arg: "domain_name_arn", Targets: []string{"aws_api_gateway_domain_name"}},
	{Type: "aws_api_gateway_domain_name_access_association", Arg: "access_association_source"},
	{Type: "aws_api_gateway_rest_api", Arg: "endpoint_configuration.vpc_endpoint_ids"},
	{Type: "aws_api_gateway_rest_api", Arg: "body"},
	{Type: "aws_api_gateway_usage_plan", Arg: "api_stages.api_id", Targets: []string{"aws_api_gateway_rest_api"}},
	{Type: "aws_api_gateway_usage_plan_key", Arg: "key_id", Targets: []string{"aws_api_gateway_api_key"}},
	{Type: "aws_api_gateway_usage_plan_key", Arg: "usage_plan_id", Targets: []string{"aws_api_gateway_usage_plan"}},
	{Type: "aws_api_gateway_vpc_link", Arg: "target_arns"},
	{Type: "aws_apigatewayv2_api", Arg: "credentials_arn", Targets: iamRoles},
	{Type: "aws_apigatewayv2_api", Arg: "target", Targets: lambdaFunctions, URL: true},
	{Type: "aws_apigatewayv2_api", Arg: "body"},
	{Type: "aws_apigatewayv2_stage", Arg: "client_certificate_id", Targets: []string{"aws_api_gateway_client_certificate"}},
	{Type: "aws_apigatewayv2_integration", Arg: "credentials_arn", Targets: iamRoles},
	{Type: "aws_apigatewayv2_integration", Arg: "integration_uri", Targets: lambdaFunctions, URL: true},
	{Type: "aws_apigatewayv2_integration", Arg: "connection_id"},
	{Type: "aws_apigatewayv2_authorizer", Arg: "authorizer_credentials_arn", Targets: iamRoles},
	{Type: "aws_apigatewayv2_authorizer", Arg: "authorizer_uri", Targets: lambdaFunctions},
	{Type: "aws_apigatewayv2_stage", Arg: "access_log_settings.destination_arn", Targets: logGroups},
	{Type: "aws_apigatewayv2_api_mapping", Arg: "domain_name", Targets: []string{"aws_apigatewayv2_domain_name"}},
	{Type: "aws_apigatewayv2_domain_name", Arg: "domain_name_configuration.certificate_arn"},
	{Type: "aws_apigatewayv2_domain_name", Arg: "domain_name_configuration.ownership_verification_certificate_arn"},
	{Type: "aws_apigatewayv2_domain_name", Arg: "mutual_tls_authentication.truststore_uri"},
	{Type: "aws_apigatewayv2_vpc_link", Arg: "subnet_ids"},
	{Type: "aws_apigatewayv2_vpc_link", Arg: "security_group_ids"},
}

var (
	s3Buckets       = []string{"aws_s3_bucket"}
	lambdaFunctions = []string{"aws_lambda_function", "aws_lambda_alias"}
	lambdaLayers    = []string{"aws_lambda_layer_version"}
	iamRoles        = []string{"aws_iam_role"}
	dynamoDBTables  = []string{"aws_dynamodb_table"}
	logGroups       = []string{"aws_cloudwatch_log_group"}
)

// identityAttrs are, per type, the attributes that name a resource of
// it: a naming argument must equal (known) or come from (unknown) one of
// them. Any other attribute (a description, a tag, a TTL attribute name)
// is the tenant's to choose and could spell anything.
var identityAttrs = map[string][]string{
	"aws_s3_bucket":                      {"id", "bucket", "arn"},
	"aws_lambda_function":                {"id", "function_name", "arn", "qualified_arn", "invoke_arn", "qualified_invoke_arn"},
	"aws_lambda_alias":                   {"id", "arn", "invoke_arn"},
	"aws_lambda_layer_version":           {"id", "arn"},
	"aws_iam_role":                       {"id", "name", "arn"},
	"aws_iam_policy":                     {"id", "arn"},
	"aws_dynamodb_table":                 {"id", "name", "arn", "stream_arn"},
	"aws_cloudwatch_log_group":           {"id", "name", "arn"},
	"aws_api_gateway_rest_api":           {"id", "arn", "execution_arn"},
	"aws_api_gateway_domain_name":        {"id", "domain_name", "arn", "domain_name_id"},
	"aws_api_gateway_client_certificate": {"id", "arn"},
	"aws_api_gateway_api_key":            {"id", "arn"},
	"aws_api_gateway_usage_plan":         {"id", "arn"},
	"aws_apigatewayv2_api":               {"id", "arn", "execution_arn"},
	"aws_apigatewayv2_domain_name":       {"id", "domain_name", "arn"},
}

// isIdentity reports whether attr names a resource of typ.
func isIdentity(typ, attr string) bool {
	for _, a := range identityAttrs[typ] {
		if a == attr {
			return true
		}
	}
	return false
}

// apiGatewayRefs are the arguments of every aws_api_gateway_* and
// aws_apigatewayv2_* type that name the API they change, and the resource
// types that create such an API (a v1 resource or method names its REST
// API, a v2 route or stage its HTTP API).
var apiGatewayRefs = []ownedRef{
	{Type: "aws_api_gateway_*", Arg: "rest_api_id", Targets: []string{"aws_api_gateway_rest_api"}},
	{Type: "aws_apigatewayv2_*", Arg: "api_id", Targets: []string{"aws_apigatewayv2_api"}},
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
