#!/bin/sh
# Regenerates aws_schema.json: the attributes and nested blocks of every
# resource and data source type of the real hashicorp/aws provider that
# tenantform's default allow-lists admit, from `terraform providers schema
# -json` in a directory initialised from a filesystem mirror.
#
#   ./generate.sh            # mirror at /opt/tf-plugins
#   TF_PROVIDER_MIRROR=/path ./generate.sh
#   OUT=/tmp/x ./generate.sh   # write /tmp/x/aws_schema.json instead
#
# Only names and flags are kept (required, optional, computed; nesting of
# blocks): classification_test.go checks that the classification table in
# classify.go covers every one of them.
set -eu
cd "$(dirname "$0")"
mirror="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
version="${AWS_PROVIDER_VERSION:-5.100.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$mirror" >"$work/cli.tfrc"
cat >"$work/main.tf" <<TF
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "$version"
    }
  }
}
TF
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
unset TF_PLUGIN_CACHE_DIR
(cd "$work" && terraform init -input=false -no-color >/dev/null && terraform providers schema -json >schema.json)
jq -S --arg v "$version" '
  def block: {
    attributes: ((.attributes // {}) | map_values({required: (.required // false), optional: (.optional // false), computed: (.computed // false)})),
    blocks: ((.block_types // {}) | map_values(.block | block))
  };
  def allowed_resource: test("^(aws_s3_bucket|aws_s3_bucket_(policy|versioning|public_access_block|server_side_encryption_configuration|cors_configuration|website_configuration|lifecycle_configuration|ownership_controls|notification)|aws_s3_object|aws_lambda_(function|permission|alias|function_url|event_source_mapping|layer_version)|aws_api_gateway_.*|aws_apigatewayv2_.*|aws_dynamodb_table|aws_dynamodb_table_item|aws_iam_role|aws_iam_role_policy|aws_iam_policy|aws_iam_role_policy_attachment|aws_cloudwatch_log_group)$");
  def allowed_data: test("^(aws_caller_identity|aws_region|aws_partition|aws_availability_zones|aws_iam_policy_document)$");
  .provider_schemas["registry.terraform.io/hashicorp/aws"] as $p
  | {
      provider_version: $v,
      resources: ($p.resource_schemas | with_entries(select(.key | allowed_resource)) | map_values(.block | block)),
      data_sources: ($p.data_source_schemas | with_entries(select(.key | allowed_data)) | map_values(.block | block))
    }' "$work/schema.json" >"${OUT:-.}/aws_schema.json"
echo "${OUT:-.}/aws_schema.json"
