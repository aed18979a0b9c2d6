package policy

import "strings"

// Every attribute of every allowed aws resource and data source type is
// classified (attrclasses_table.go), so that no argument naming an
// existing resource is left without a rule:
//
//   - Plain: the tenant's own value. Rules that read it apply (tags,
//     regions, IAM documents, host paths, prices); otherwise it is free,
//     because it names nothing outside the resource (a key inside the
//     resource's own bucket, a route inside the resource's own API, who may
//     invoke the resource's own function).
//   - Reference: names an existing resource, which is then acted on. Each
//     is a row of ownedRefs (or apiGatewayRefs): own-or-nothing at upload,
//     and at plan whether its value is known or not.
//   - Computed: set by the provider only; the configuration cannot set it.
//
// TestEveryAttributeClassified holds the table to the real provider's
// schema (testdata/schema/aws_schema.json, made by its generate.sh): it
// fails when an allowed type has an attribute the table does not classify,
// a class disagrees with the schema or with ownedRefs, or a plain
// attribute looks like a reference without a reviewed reason
// (reviewedPlain).

// typeClasses lists a type's attribute paths ("arg", "block.arg") per
// class, space-separated.
type typeClasses struct {
	Plain, Reference, Computed string
}

// AttributeClass names the class of an attribute path of a type
// ("plain", "reference", "computed"), or "" when the table does not
// classify it. Data sources are keyed "data.<type>".
func AttributeClass(typ, path string) string {
	tc, ok := attributeClasses[typ]
	if !ok {
		return ""
	}
	for class, list := range map[string]string{"plain": tc.Plain, "reference": tc.Reference, "computed": tc.Computed} {
		for _, p := range strings.Fields(list) {
			if p == path {
				return class
			}
		}
	}
	return ""
}

// reviewedPlain are plain attributes whose names look like references
// (…_id, …_arn, bucket, target, source, …), with why each names nothing
// outside the resource or is checked by another rule.
var reviewedPlain = map[string]string{
	"aws_api_gateway_api_key.customer_id":                                                        "a marketplace customer id, free text",
	"aws_api_gateway_authorizer.authorizer_result_ttl_in_seconds":                                "a duration",
	"aws_api_gateway_authorizer.identity_source":                                                 "a request header or parameter",
	"aws_api_gateway_base_path_mapping.stage_name":                                               "a stage of the mapping's own API",
	"aws_api_gateway_deployment.stage_name":                                                      "a stage of the deployment's own API",
	"aws_api_gateway_domain_name.certificate_body":                                               "the tenant's own certificate, imported",
	"aws_api_gateway_domain_name.certificate_chain":                                              "the tenant's own certificate, imported",
	"aws_api_gateway_domain_name.certificate_name":                                               "a name for the imported certificate",
	"aws_api_gateway_domain_name.certificate_private_key":                                        "the tenant's own key, imported",
	"aws_api_gateway_domain_name.domain_name":                                                    "the domain name created (its identity)",
	"aws_api_gateway_domain_name.regional_certificate_name":                                      "a name for the imported certificate",
	"aws_api_gateway_domain_name_access_association.access_association_source_type":              "an enum",
	"aws_api_gateway_integration.cache_namespace":                                                "a cache key namespace of the own API",
	"aws_api_gateway_integration.integration_http_method":                                        "an HTTP method",
	"aws_api_gateway_integration.resource_id":                                                    "a resource of the own API (rest_api_id is own)",
	"aws_api_gateway_integration_response.resource_id":                                           "a resource of the own API (rest_api_id is own)",
	"aws_api_gateway_method.authorizer_id":                                                       "an authorizer of the own API (rest_api_id is own)",
	"aws_api_gateway_method.operation_name":                                                      "free text",
	"aws_api_gateway_method.request_validator_id":                                                "a validator of the own API (rest_api_id is own)",
	"aws_api_gateway_method.resource_id":                                                         "a resource of the own API (rest_api_id is own)",
	"aws_api_gateway_method_response.resource_id":                                                "a resource of the own API (rest_api_id is own)",
	"aws_api_gateway_method_settings.stage_name":                                                 "a stage of the own API (rest_api_id is own)",
	"aws_api_gateway_resource.parent_id":                                                         "a resource of the own API (rest_api_id is own)",
	"aws_api_gateway_rest_api.api_key_source":                                                    "an enum",
	"aws_api_gateway_stage.deployment_id":                                                        "a deployment of the own API (rest_api_id is own)",
	"aws_api_gateway_stage.stage_name":                                                           "the stage's own name",
	"aws_api_gateway_stage.canary_settings.deployment_id":                                        "a deployment of the own API (rest_api_id is own)",
	"aws_apigatewayv2_api.route_key":                                                             "a route of the API being created",
	"aws_apigatewayv2_api_mapping.api_mapping_key":                                               "a path of the own domain name",
	"aws_apigatewayv2_authorizer.authorizer_payload_format_version":                              "a version",
	"aws_apigatewayv2_authorizer.authorizer_result_ttl_in_seconds":                               "a duration",
	"aws_apigatewayv2_authorizer.authorizer_type":                                                "an enum",
	"aws_apigatewayv2_authorizer.identity_sources":                                               "request headers or parameters",
	"aws_apigatewayv2_domain_name.domain_name":                                                   "the domain name created (its identity)",
	"aws_apigatewayv2_integration.integration_method":                                            "an HTTP method",
	"aws_apigatewayv2_integration.integration_subtype":                                           "an AWS service action; its target comes from request_parameters and is reached with the own credentials_arn role, whose permissions the IAM rules check",
	"aws_apigatewayv2_integration.integration_type":                                              "an enum",
	"aws_apigatewayv2_integration.tls_config.server_name_to_verify":                              "a host name to verify",
	"aws_apigatewayv2_integration_response.integration_id":                                       "an integration of the own API (api_id is own)",
	"aws_apigatewayv2_integration_response.integration_response_key":                             "a response key",
	"aws_apigatewayv2_route.authorizer_id":                                                       "an authorizer of the own API (api_id is own)",
	"aws_apigatewayv2_route.operation_name":                                                      "free text",
	"aws_apigatewayv2_route.route_key":                                                           "a route of the own API",
	"aws_apigatewayv2_route.target":                                                              "integrations/<id> of the own API (api_id is own)",
	"aws_apigatewayv2_route.request_parameter.request_parameter_key":                             "a request parameter",
	"aws_apigatewayv2_route_response.route_id":                                                   "a route of the own API (api_id is own)",
	"aws_apigatewayv2_route_response.route_response_key":                                         "a response key",
	"aws_apigatewayv2_stage.deployment_id":                                                       "a deployment of the own API (api_id is own)",
	"aws_apigatewayv2_stage.route_settings.route_key":                                            "a route of the own API",
	"aws_cloudwatch_log_group.log_group_class":                                                   "an enum",
	"aws_dynamodb_table.hash_key":                                                                "an attribute of the table",
	"aws_dynamodb_table.range_key":                                                               "an attribute of the table",
	"aws_dynamodb_table.stream_enabled":                                                          "a flag",
	"aws_dynamodb_table.stream_view_type":                                                        "an enum",
	"aws_dynamodb_table.table_class":                                                             "an enum, priced",
	"aws_dynamodb_table.global_secondary_index.hash_key":                                         "an attribute of the table",
	"aws_dynamodb_table.global_secondary_index.range_key":                                        "an attribute of the table",
	"aws_dynamodb_table.local_secondary_index.range_key":                                         "an attribute of the table",
	"aws_dynamodb_table.replica.region_name":                                                     "a region: regionArgs",
	"aws_dynamodb_table.ttl.attribute_name":                                                      "an attribute of the table",
	"aws_dynamodb_table_item.hash_key":                                                           "an attribute of the own table",
	"aws_dynamodb_table_item.range_key":                                                          "an attribute of the own table",
	"aws_lambda_event_source_mapping.amazon_managed_kafka_event_source_config.consumer_group_id": "a consumer group of the mapped source (event_source_arn is own)",
	"aws_lambda_event_source_mapping.document_db_event_source_config.collection_name":            "a collection of the mapped source (event_source_arn is own)",
	"aws_lambda_event_source_mapping.document_db_event_source_config.database_name":              "a database of the mapped source (event_source_arn is own)",
	"aws_lambda_event_source_mapping.self_managed_kafka_event_source_config.consumer_group_id":   "a consumer group of an external Kafka cluster",
	"aws_lambda_function.function_name":                                                          "the function created (its identity)",
	"aws_lambda_function.replace_security_groups_on_destroy":                                     "a flag",
	"aws_lambda_function.s3_key":                                                                 "a key inside s3_bucket, which is own",
	"aws_lambda_function.source_code_hash":                                                       "a hash",
	"aws_lambda_layer_version.layer_name":                                                        "the layer created (its identity)",
	"aws_lambda_layer_version.s3_key":                                                            "a key inside s3_bucket, which is own",
	"aws_lambda_layer_version.source_code_hash":                                                  "a hash",
	"aws_lambda_permission.event_source_token":                                                   "who may invoke the own function",
	"aws_lambda_permission.principal":                                                            "who may invoke the own function",
	"aws_lambda_permission.principal_org_id":                                                     "who may invoke the own function",
	"aws_lambda_permission.source_account":                                                       "who may invoke the own function",
	"aws_lambda_permission.source_arn":                                                           "who may invoke the own function",
	"aws_lambda_permission.statement_id":                                                         "the statement's own id",
	"aws_lambda_permission.statement_id_prefix":                                                  "the statement's own id",
	"aws_s3_bucket.bucket":                                                                       "the bucket created (its identity)",
	"aws_s3_bucket.bucket_prefix":                                                                "the bucket created (its identity)",
	"aws_s3_bucket.grant.uri":                                                                    "who may access the own bucket",
	"aws_s3_bucket.logging.target_prefix":                                                        "a prefix inside logging.target_bucket, which is own",
	"aws_s3_bucket.server_side_encryption_configuration.rule.bucket_key_enabled":                 "a flag",
	"aws_s3_bucket_cors_configuration.expected_bucket_owner":                                     "an account id the request asserts",
	"aws_s3_bucket_lifecycle_configuration.expected_bucket_owner":                                "an account id the request asserts",
	"aws_s3_bucket_public_access_block.restrict_public_buckets":                                  "a flag",
	"aws_s3_bucket_server_side_encryption_configuration.expected_bucket_owner":                   "an account id the request asserts",
	"aws_s3_bucket_server_side_encryption_configuration.rule.bucket_key_enabled":                 "a flag",
	"aws_s3_bucket_versioning.expected_bucket_owner":                                             "an account id the request asserts",
	"aws_s3_bucket_website_configuration.expected_bucket_owner":                                  "an account id the request asserts",
	"aws_s3_bucket_website_configuration.redirect_all_requests_to.host_name":                     "a public host name redirected to",
	"aws_s3_bucket_website_configuration.routing_rule.redirect.host_name":                        "a public host name redirected to",
	"aws_s3_object.bucket_key_enabled":                                                           "a flag",
	"aws_s3_object.source":                                                                       "a file of the submission: the host-file rules",
	"aws_s3_object.source_hash":                                                                  "a hash",
	"data.aws_availability_zones.exclude_names":                                                  "zones of the region",
	"data.aws_availability_zones.exclude_zone_ids":                                               "zones of the region",
	"data.aws_iam_policy_document.policy_id":                                                     "free text in the document",
	"data.aws_iam_policy_document.source_json":                                                   "a document: the IAM rules where it is used",
	"data.aws_iam_policy_document.source_policy_documents":                                       "documents: the IAM rules where they are used",
	"data.aws_iam_policy_document.statement.not_resources":                                       "document content: the IAM rules where it is used",
	"data.aws_iam_policy_document.statement.resources":                                           "document content: the IAM rules where it is used",
}
