// The classes of every attribute of the allowed aws types (attrclasses.go).
// First written from testdata/schema/aws_schema.json (provider-only
// attributes computed, ownedRefs rows reference, the rest plain), then
// reviewed by hand; TestEveryAttributeClassified holds it to the schema.

package policy

var attributeClasses = map[string]typeClasses{
	"aws_api_gateway_api_key": {
		Plain:     "customer_id description enabled id name tags tags_all value",
		Reference: "",
		Computed:  "arn created_date last_updated_date",
	},
	"aws_api_gateway_authorizer": {
		Plain:     "authorizer_result_ttl_in_seconds id identity_source identity_validation_expression name type",
		Reference: "authorizer_credentials authorizer_uri provider_arns rest_api_id",
		Computed:  "arn",
	},
	"aws_api_gateway_base_path_mapping": {
		Plain:     "base_path id stage_name",
		Reference: "api_id domain_name domain_name_id",
		Computed:  "",
	},
	"aws_api_gateway_client_certificate": {
		Plain:     "description id tags tags_all",
		Reference: "",
		Computed:  "arn created_date expiration_date pem_encoded_certificate",
	},
	"aws_api_gateway_deployment": {
		Plain:     "canary_settings.percent_traffic canary_settings.stage_variable_overrides canary_settings.use_stage_cache description id stage_description stage_name triggers variables",
		Reference: "rest_api_id",
		Computed:  "created_date execution_arn invoke_url",
	},
	"aws_api_gateway_documentation_part": {
		Plain:     "id location.method location.name location.path location.status_code location.type properties",
		Reference: "rest_api_id",
		Computed:  "documentation_part_id",
	},
	"aws_api_gateway_documentation_version": {
		Plain:     "description id version",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_domain_name": {
		Plain:     "certificate_body certificate_chain certificate_name certificate_private_key domain_name endpoint_configuration.ip_address_type endpoint_configuration.types id mutual_tls_authentication.truststore_version policy regional_certificate_name security_policy tags tags_all",
		Reference: "certificate_arn mutual_tls_authentication.truststore_uri ownership_verification_certificate_arn regional_certificate_arn",
		Computed:  "arn certificate_upload_date cloudfront_domain_name cloudfront_zone_id domain_name_id regional_domain_name regional_zone_id",
	},
	"aws_api_gateway_domain_name_access_association": {
		Plain:     "access_association_source_type tags",
		Reference: "access_association_source domain_name_arn",
		Computed:  "arn id tags_all",
	},
	"aws_api_gateway_gateway_response": {
		Plain:     "id response_parameters response_templates response_type status_code",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_integration": {
		Plain:     "cache_key_parameters cache_namespace connection_type content_handling http_method id integration_http_method passthrough_behavior request_parameters request_templates resource_id timeout_milliseconds tls_config.insecure_skip_verification type",
		Reference: "connection_id credentials rest_api_id uri",
		Computed:  "",
	},
	"aws_api_gateway_integration_response": {
		Plain:     "content_handling http_method id resource_id response_parameters response_templates selection_pattern status_code",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_method": {
		Plain:     "api_key_required authorization authorization_scopes authorizer_id http_method id operation_name request_models request_parameters request_validator_id resource_id",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_method_response": {
		Plain:     "http_method id resource_id response_models response_parameters status_code",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_method_settings": {
		Plain:     "id method_path settings.cache_data_encrypted settings.cache_ttl_in_seconds settings.caching_enabled settings.data_trace_enabled settings.logging_level settings.metrics_enabled settings.require_authorization_for_cache_control settings.throttling_burst_limit settings.throttling_rate_limit settings.unauthorized_cache_control_header_strategy stage_name",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_model": {
		Plain:     "content_type description id name schema",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_request_validator": {
		Plain:     "id name validate_request_body validate_request_parameters",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_resource": {
		Plain:     "id parent_id path_part",
		Reference: "rest_api_id",
		Computed:  "path",
	},
	"aws_api_gateway_rest_api": {
		Plain:     "api_key_source binary_media_types description disable_execute_api_endpoint endpoint_configuration.ip_address_type endpoint_configuration.types fail_on_warnings id minimum_compression_size name parameters policy put_rest_api_mode tags tags_all",
		Reference: "body endpoint_configuration.vpc_endpoint_ids",
		Computed:  "arn created_date execution_arn root_resource_id",
	},
	"aws_api_gateway_rest_api_policy": {
		Plain:     "id policy",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_rest_api_put": {
		Plain:     "body fail_on_warnings parameters timeouts.create triggers",
		Reference: "rest_api_id",
		Computed:  "",
	},
	"aws_api_gateway_stage": {
		Plain:     "access_log_settings.format cache_cluster_enabled cache_cluster_size canary_settings.deployment_id canary_settings.percent_traffic canary_settings.stage_variable_overrides canary_settings.use_stage_cache deployment_id description documentation_version id stage_name tags tags_all variables xray_tracing_enabled",
		Reference: "access_log_settings.destination_arn client_certificate_id rest_api_id",
		Computed:  "arn execution_arn invoke_url web_acl_arn",
	},
	"aws_api_gateway_usage_plan": {
		Plain:     "api_stages.stage api_stages.throttle.burst_limit api_stages.throttle.path api_stages.throttle.rate_limit description id name product_code quota_settings.limit quota_settings.offset quota_settings.period tags tags_all throttle_settings.burst_limit throttle_settings.rate_limit",
		Reference: "api_stages.api_id",
		Computed:  "arn",
	},
	"aws_api_gateway_usage_plan_key": {
		Plain:     "id key_type",
		Reference: "key_id usage_plan_id",
		Computed:  "name value",
	},
	"aws_api_gateway_vpc_link": {
		Plain:     "description id name tags tags_all",
		Reference: "target_arns",
		Computed:  "arn",
	},
	"aws_apigatewayv2_api": {
		Plain:     "api_key_selection_expression cors_configuration.allow_credentials cors_configuration.allow_headers cors_configuration.allow_methods cors_configuration.allow_origins cors_configuration.expose_headers cors_configuration.max_age description disable_execute_api_endpoint fail_on_warnings id ip_address_type name protocol_type route_key route_selection_expression tags tags_all version",
		Reference: "body credentials_arn target",
		Computed:  "api_endpoint arn execution_arn",
	},
	"aws_apigatewayv2_api_mapping": {
		Plain:     "api_mapping_key id stage",
		Reference: "api_id domain_name",
		Computed:  "",
	},
	"aws_apigatewayv2_authorizer": {
		Plain:     "authorizer_payload_format_version authorizer_result_ttl_in_seconds authorizer_type enable_simple_responses id identity_sources jwt_configuration.audience jwt_configuration.issuer name timeouts.delete",
		Reference: "api_id authorizer_credentials_arn authorizer_uri",
		Computed:  "",
	},
	"aws_apigatewayv2_deployment": {
		Plain:     "description id triggers",
		Reference: "api_id",
		Computed:  "auto_deployed",
	},
	"aws_apigatewayv2_domain_name": {
		Plain:     "domain_name domain_name_configuration.endpoint_type domain_name_configuration.ip_address_type domain_name_configuration.security_policy id mutual_tls_authentication.truststore_version tags tags_all timeouts.create timeouts.update",
		Reference: "domain_name_configuration.certificate_arn domain_name_configuration.ownership_verification_certificate_arn mutual_tls_authentication.truststore_uri",
		Computed:  "api_mapping_selection_expression arn domain_name_configuration.hosted_zone_id domain_name_configuration.target_domain_name",
	},
	"aws_apigatewayv2_integration": {
		Plain:     "connection_type content_handling_strategy description id integration_method integration_subtype integration_type passthrough_behavior payload_format_version request_parameters request_templates response_parameters.mappings response_parameters.status_code template_selection_expression timeout_milliseconds tls_config.server_name_to_verify",
		Reference: "api_id connection_id credentials_arn integration_uri",
		Computed:  "integration_response_selection_expression",
	},
	"aws_apigatewayv2_integration_response": {
		Plain:     "content_handling_strategy id integration_id integration_response_key response_templates template_selection_expression",
		Reference: "api_id",
		Computed:  "",
	},
	"aws_apigatewayv2_model": {
		Plain:     "content_type description id name schema",
		Reference: "api_id",
		Computed:  "",
	},
	"aws_apigatewayv2_route": {
		Plain:     "api_key_required authorization_scopes authorization_type authorizer_id id model_selection_expression operation_name request_models request_parameter.request_parameter_key request_parameter.required route_key route_response_selection_expression target",
		Reference: "api_id",
		Computed:  "",
	},
	"aws_apigatewayv2_route_response": {
		Plain:     "id model_selection_expression response_models route_id route_response_key",
		Reference: "api_id",
		Computed:  "",
	},
	"aws_apigatewayv2_stage": {
		Plain:     "access_log_settings.format auto_deploy default_route_settings.data_trace_enabled default_route_settings.detailed_metrics_enabled default_route_settings.logging_level default_route_settings.throttling_burst_limit default_route_settings.throttling_rate_limit deployment_id description id name route_settings.data_trace_enabled route_settings.detailed_metrics_enabled route_settings.logging_level route_settings.route_key route_settings.throttling_burst_limit route_settings.throttling_rate_limit stage_variables tags tags_all",
		Reference: "access_log_settings.destination_arn api_id client_certificate_id",
		Computed:  "arn execution_arn invoke_url",
	},
	"aws_apigatewayv2_vpc_link": {
		Plain:     "id name tags tags_all",
		Reference: "security_group_ids subnet_ids",
		Computed:  "arn",
	},
	"aws_cloudwatch_log_group": {
		Plain:     "id log_group_class name name_prefix retention_in_days skip_destroy tags tags_all",
		Reference: "kms_key_id",
		Computed:  "arn",
	},
	"aws_dynamodb_table": {
		Plain:     "attribute.name attribute.type billing_mode deletion_protection_enabled global_secondary_index.hash_key global_secondary_index.name global_secondary_index.non_key_attributes global_secondary_index.on_demand_throughput.max_read_request_units global_secondary_index.on_demand_throughput.max_write_request_units global_secondary_index.projection_type global_secondary_index.range_key global_secondary_index.read_capacity global_secondary_index.write_capacity hash_key id import_table.input_compression_type import_table.input_format import_table.input_format_options.csv.delimiter import_table.input_format_options.csv.header_list import_table.s3_bucket_source.key_prefix local_secondary_index.name local_secondary_index.non_key_attributes local_secondary_index.projection_type local_secondary_index.range_key name on_demand_throughput.max_read_request_units on_demand_throughput.max_write_request_units point_in_time_recovery.enabled point_in_time_recovery.recovery_period_in_days range_key read_capacity replica.point_in_time_recovery replica.propagate_tags replica.region_name restore_date_time restore_to_latest_time server_side_encryption.enabled stream_enabled stream_view_type table_class tags tags_all timeouts.create timeouts.delete timeouts.update ttl.attribute_name ttl.enabled write_capacity",
		Reference: "import_table.s3_bucket_source.bucket import_table.s3_bucket_source.bucket_owner replica.kms_key_arn restore_source_name restore_source_table_arn server_side_encryption.kms_key_arn",
		Computed:  "arn replica.arn replica.stream_arn replica.stream_label stream_arn stream_label",
	},
	"aws_dynamodb_table_item": {
		Plain:     "hash_key id item range_key",
		Reference: "table_name",
		Computed:  "",
	},
	"aws_iam_policy": {
		Plain:     "description id name name_prefix path policy tags tags_all",
		Reference: "",
		Computed:  "arn attachment_count policy_id",
	},
	"aws_iam_role": {
		Plain:     "assume_role_policy description force_detach_policies id inline_policy.name inline_policy.policy max_session_duration name name_prefix path permissions_boundary tags tags_all",
		Reference: "managed_policy_arns",
		Computed:  "arn create_date unique_id",
	},
	"aws_iam_role_policy": {
		Plain:     "id name name_prefix policy",
		Reference: "role",
		Computed:  "",
	},
	"aws_iam_role_policy_attachment": {
		Plain:     "id",
		Reference: "policy_arn role",
		Computed:  "",
	},
	"aws_lambda_alias": {
		Plain:     "description function_version id name routing_config.additional_version_weights",
		Reference: "function_name",
		Computed:  "arn invoke_arn",
	},
	"aws_lambda_event_source_mapping": {
		Plain:     "amazon_managed_kafka_event_source_config.consumer_group_id batch_size bisect_batch_on_function_error document_db_event_source_config.collection_name document_db_event_source_config.database_name document_db_event_source_config.full_document enabled filter_criteria.filter.pattern function_response_types id maximum_batching_window_in_seconds maximum_record_age_in_seconds maximum_retry_attempts metrics_config.metrics parallelization_factor provisioned_poller_config.maximum_pollers provisioned_poller_config.minimum_pollers scaling_config.maximum_concurrency self_managed_event_source.endpoints self_managed_kafka_event_source_config.consumer_group_id source_access_configuration.type starting_position starting_position_timestamp tags tags_all tumbling_window_in_seconds",
		Reference: "destination_config.on_failure.destination_arn event_source_arn function_name kms_key_arn queues source_access_configuration.uri topics",
		Computed:  "arn function_arn last_modified last_processing_result state state_transition_reason uuid",
	},
	"aws_lambda_function": {
		Plain:     "architectures description environment.variables ephemeral_storage.size file_system_config.local_mount_path filename function_name handler id image_config.command image_config.entry_point image_config.working_directory logging_config.application_log_level logging_config.log_format logging_config.system_log_level memory_size package_type publish replace_security_groups_on_destroy reserved_concurrent_executions runtime s3_key s3_object_version skip_destroy snap_start.apply_on source_code_hash tags tags_all timeout timeouts.create timeouts.delete timeouts.update tracing_config.mode vpc_config.ipv6_allowed_for_dual_stack",
		Reference: "code_signing_config_arn dead_letter_config.target_arn file_system_config.arn image_uri kms_key_arn layers logging_config.log_group replacement_security_group_ids role s3_bucket vpc_config.security_group_ids vpc_config.subnet_ids",
		Computed:  "arn code_sha256 invoke_arn last_modified qualified_arn qualified_invoke_arn signing_job_arn signing_profile_version_arn snap_start.optimization_status source_code_size version vpc_config.vpc_id",
	},
	"aws_lambda_function_url": {
		Plain:     "authorization_type cors.allow_credentials cors.allow_headers cors.allow_methods cors.allow_origins cors.expose_headers cors.max_age id invoke_mode qualifier timeouts.create",
		Reference: "function_name",
		Computed:  "function_arn function_url url_id",
	},
	"aws_lambda_layer_version": {
		Plain:     "compatible_architectures compatible_runtimes description filename id layer_name license_info s3_key s3_object_version skip_destroy source_code_hash",
		Reference: "s3_bucket",
		Computed:  "arn code_sha256 created_date layer_arn signing_job_arn signing_profile_version_arn source_code_size version",
	},
	"aws_lambda_permission": {
		Plain:     "action event_source_token function_url_auth_type id principal principal_org_id qualifier source_account source_arn statement_id statement_id_prefix",
		Reference: "function_name",
		Computed:  "",
	},
	"aws_s3_bucket": {
		Plain:     "acceleration_status acl bucket bucket_prefix cors_rule.allowed_headers cors_rule.allowed_methods cors_rule.allowed_origins cors_rule.expose_headers cors_rule.max_age_seconds force_destroy grant.id grant.permissions grant.type grant.uri id lifecycle_rule.abort_incomplete_multipart_upload_days lifecycle_rule.enabled lifecycle_rule.expiration.date lifecycle_rule.expiration.days lifecycle_rule.expiration.expired_object_delete_marker lifecycle_rule.id lifecycle_rule.noncurrent_version_expiration.days lifecycle_rule.noncurrent_version_transition.days lifecycle_rule.noncurrent_version_transition.storage_class lifecycle_rule.prefix lifecycle_rule.tags lifecycle_rule.transition.date lifecycle_rule.transition.days lifecycle_rule.transition.storage_class logging.target_prefix object_lock_configuration.object_lock_enabled object_lock_configuration.rule.default_retention.days object_lock_configuration.rule.default_retention.mode object_lock_configuration.rule.default_retention.years object_lock_enabled policy replication_configuration.rules.delete_marker_replication_status replication_configuration.rules.destination.access_control_translation.owner replication_configuration.rules.destination.metrics.minutes replication_configuration.rules.destination.metrics.status replication_configuration.rules.destination.replication_time.minutes replication_configuration.rules.destination.replication_time.status replication_configuration.rules.destination.storage_class replication_configuration.rules.filter.prefix replication_configuration.rules.filter.tags replication_configuration.rules.id replication_configuration.rules.prefix replication_configuration.rules.priority replication_configuration.rules.source_selection_criteria.sse_kms_encrypted_objects.enabled replication_configuration.rules.status request_payer server_side_encryption_configuration.rule.apply_server_side_encryption_by_default.sse_algorithm server_side_encryption_configuration.rule.bucket_key_enabled tags tags_all timeouts.create timeouts.delete timeouts.read timeouts.update versioning.enabled versioning.mfa_delete website.error_document website.index_document website.redirect_all_requests_to website.routing_rules",
		Reference: "logging.target_bucket replication_configuration.role replication_configuration.rules.destination.account_id replication_configuration.rules.destination.bucket replication_configuration.rules.destination.replica_kms_key_id server_side_encryption_configuration.rule.apply_server_side_encryption_by_default.kms_master_key_id",
		Computed:  "arn bucket_domain_name bucket_regional_domain_name hosted_zone_id region website_domain website_endpoint",
	},
	"aws_s3_bucket_cors_configuration": {
		Plain:     "cors_rule.allowed_headers cors_rule.allowed_methods cors_rule.allowed_origins cors_rule.expose_headers cors_rule.id cors_rule.max_age_seconds expected_bucket_owner id",
		Reference: "bucket",
		Computed:  "",
	},
	"aws_s3_bucket_lifecycle_configuration": {
		Plain:     "expected_bucket_owner rule.abort_incomplete_multipart_upload.days_after_initiation rule.expiration.date rule.expiration.days rule.expiration.expired_object_delete_marker rule.filter.and.object_size_greater_than rule.filter.and.object_size_less_than rule.filter.and.prefix rule.filter.and.tags rule.filter.object_size_greater_than rule.filter.object_size_less_than rule.filter.prefix rule.filter.tag.key rule.filter.tag.value rule.id rule.noncurrent_version_expiration.newer_noncurrent_versions rule.noncurrent_version_expiration.noncurrent_days rule.noncurrent_version_transition.newer_noncurrent_versions rule.noncurrent_version_transition.noncurrent_days rule.noncurrent_version_transition.storage_class rule.prefix rule.status rule.transition.date rule.transition.days rule.transition.storage_class timeouts.create timeouts.update transition_default_minimum_object_size",
		Reference: "bucket",
		Computed:  "id",
	},
	"aws_s3_bucket_notification": {
		Plain:     "eventbridge id lambda_function.events lambda_function.filter_prefix lambda_function.filter_suffix lambda_function.id queue.events queue.filter_prefix queue.filter_suffix queue.id topic.events topic.filter_prefix topic.filter_suffix topic.id",
		Reference: "bucket lambda_function.lambda_function_arn queue.queue_arn topic.topic_arn",
		Computed:  "",
	},
	"aws_s3_bucket_ownership_controls": {
		Plain:     "id rule.object_ownership",
		Reference: "bucket",
		Computed:  "",
	},
	"aws_s3_bucket_policy": {
		Plain:     "id policy",
		Reference: "bucket",
		Computed:  "",
	},
	"aws_s3_bucket_public_access_block": {
		Plain:     "block_public_acls block_public_policy id ignore_public_acls restrict_public_buckets",
		Reference: "bucket",
		Computed:  "",
	},
	"aws_s3_bucket_server_side_encryption_configuration": {
		Plain:     "expected_bucket_owner id rule.apply_server_side_encryption_by_default.sse_algorithm rule.bucket_key_enabled",
		Reference: "bucket rule.apply_server_side_encryption_by_default.kms_master_key_id",
		Computed:  "",
	},
	"aws_s3_bucket_versioning": {
		Plain:     "expected_bucket_owner id mfa versioning_configuration.mfa_delete versioning_configuration.status",
		Reference: "bucket",
		Computed:  "",
	},
	"aws_s3_bucket_website_configuration": {
		Plain:     "error_document.key expected_bucket_owner id index_document.suffix redirect_all_requests_to.host_name redirect_all_requests_to.protocol routing_rule.condition.http_error_code_returned_equals routing_rule.condition.key_prefix_equals routing_rule.redirect.host_name routing_rule.redirect.http_redirect_code routing_rule.redirect.protocol routing_rule.redirect.replace_key_prefix_with routing_rule.redirect.replace_key_with routing_rules",
		Reference: "bucket",
		Computed:  "website_domain website_endpoint",
	},
	"aws_s3_object": {
		Plain:     "acl bucket_key_enabled cache_control checksum_algorithm content content_base64 content_disposition content_encoding content_language content_type etag force_destroy id key metadata object_lock_legal_hold_status object_lock_mode object_lock_retain_until_date override_provider.default_tags.tags server_side_encryption source source_hash storage_class tags tags_all website_redirect",
		Reference: "bucket kms_key_id",
		Computed:  "arn checksum_crc32 checksum_crc32c checksum_crc64nvme checksum_sha1 checksum_sha256 version_id",
	},
	"data.aws_availability_zones": {
		Plain:     "all_availability_zones exclude_names exclude_zone_ids filter.name filter.values id state timeouts.read",
		Reference: "",
		Computed:  "group_names names zone_ids",
	},
	"data.aws_caller_identity": {
		Plain:     "id",
		Reference: "",
		Computed:  "account_id arn user_id",
	},
	"data.aws_iam_policy_document": {
		Plain:     "id override_json override_policy_documents policy_id source_json source_policy_documents statement.actions statement.condition.test statement.condition.values statement.condition.variable statement.effect statement.not_actions statement.not_principals.identifiers statement.not_principals.type statement.not_resources statement.principals.identifiers statement.principals.type statement.resources statement.sid version",
		Reference: "",
		Computed:  "json minified_json",
	},
	"data.aws_partition": {
		Plain:     "id",
		Reference: "",
		Computed:  "dns_suffix partition reverse_dns_prefix",
	},
	"data.aws_region": {
		Plain:     "endpoint id name",
		Reference: "",
		Computed:  "description",
	},
}
