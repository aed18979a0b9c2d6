package policy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

// webStack is what a web product's user writes: a static site in S3, an
// API (API Gateway v2 → Lambda → DynamoDB), the Lambda's IAM role and its
// log group. The code is a submitted file zipped by archive_file.
var webStack = map[string]string{
	"versions.tf": `terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    archive = {
      source  = "registry.terraform.io/hashicorp/archive"
      version = "~> 2.4"
    }
    random = "~> 3.6"
  }
}
`,
	"variables.tf": `variable "app_name" {
  type    = string
  default = "notes"

  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.app_name))
    error_message = "Use lowercase letters, digits and dashes."
  }
}

variable "log_retention_days" {
  type    = number
  default = 14
}
`,
	"storage.tf": `resource "random_id" "suffix" {
  byte_length = 4
}

resource "aws_s3_bucket" "site" {
  bucket = "${var.app_name}-site-${random_id.suffix.hex}"
  tags   = { Component = "site" }
}

resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = false
}

resource "aws_s3_bucket_website_configuration" "site" {
  bucket = aws_s3_bucket.site.id
  index_document {
    suffix = "index.html"
  }
}

resource "aws_s3_bucket_versioning" "site" {
  bucket = aws_s3_bucket.site.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_object" "index" {
  bucket       = aws_s3_bucket.site.id
  key          = "index.html"
  source       = "${path.module}/index.html"
  etag         = filemd5("${path.module}/index.html")
  content_type = "text/html"
}

resource "aws_dynamodb_table" "notes" {
  name         = "${var.app_name}-notes"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}
`,
	"lambda.tf": `data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.app_name}-api"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "api" {
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        Resource = aws_dynamodb_table.notes.arn
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.api.arn}:*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "basic" {
  role       = aws_iam_role.api.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

data "archive_file" "api" {
  type                    = "zip"
  source_content          = file("${path.module}/index.js")
  source_content_filename = "index.js"
  output_path             = "${path.module}/api.zip"
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/lambda/${var.app_name}-api"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "api" {
  function_name    = "${var.app_name}-api"
  role             = aws_iam_role.api.arn
  handler          = "index.handler"
  runtime          = "nodejs20.x"
  filename         = data.archive_file.api.output_path
  source_code_hash = data.archive_file.api.output_base64sha256

  environment {
    variables = {
      TABLE = aws_dynamodb_table.notes.name
    }
  }

  depends_on = [aws_cloudwatch_log_group.api]
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.app_name}-http"
  protocol_type = "HTTP"
  cors_configuration {
    allow_origins = ["https://${aws_s3_bucket_website_configuration.site.website_endpoint}"]
    allow_methods = ["GET", "POST"]
  }
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "notes" {
  for_each  = toset(["GET /notes", "POST /notes"])
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "apigw" {
  statement_id  = "AllowAPIGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
`,
	"outputs.tf": `output "api_url" {
  value = aws_apigatewayv2_stage.default.invoke_url
}

output "site_url" {
  value = "http://${aws_s3_bucket_website_configuration.site.website_endpoint}"
}

output "routes" {
  value = [for r in aws_apigatewayv2_route.notes : r.route_key]
}
`,
	"index.js": `exports.handler = async (event) => {
  return { statusCode: 200, body: JSON.stringify({ ok: true }) };
};
`,
	"index.html": "<!doctype html><h1>Notes</h1>\n",
}

var legitimate = []struct {
	name  string
	files map[string]string
}{
	{"S3 + Lambda + API Gateway v2 + DynamoDB + IAM + logs", webStack},
	{
		name: "terraform_data with variables and outputs",
		files: tf(`variable "greeting" {
  type    = string
  default = "hello"
}

variable "replicas" {
  type    = number
  default = 1
}

resource "terraform_data" "message" {
  input            = "${var.greeting}, world"
  triggers_replace = [var.replicas]
}

output "message" {
  value = terraform_data.message.output
}

output "sensitive_message" {
  value     = terraform_data.message.output
  sensitive = true
}
`),
	},
	{
		name: "random resources and locals with functions",
		files: tf(`resource "random_pet" "name" {
  length = 2
}

resource "random_password" "db" {
  length  = 24
  special = false
}

locals {
  name   = upper(replace(random_pet.name.id, "-", "_"))
  labels = { for k, v in { a = 1, b = 2 } : k => v * 2 if v > 0 }
  flags  = [for s in ["x", "y"] : s == "x" ? true : false]
  first  = try(local.flags[0], null)
}

output "name" { value = local.name }
`),
	},
	{
		name: "aws provider with an allowed region and alias",
		files: tf(`terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  alias  = "west"
  region = "us-west-2"
}

resource "aws_s3_bucket" "replica" {
  provider = aws.west
  bucket   = "replica-bucket"
}

data "aws_region" "west" {
  provider = aws.west
}

data "aws_caller_identity" "me" {}
data "aws_partition" "p" {}

output "arn" {
  value = "arn:${data.aws_partition.p.partition}:s3:::${aws_s3_bucket.replica.id}"
}
`),
	},
	{
		name: "templatefile with a submitted template and a policy file",
		files: with(tf(`resource "aws_s3_bucket" "b" {
  bucket = "b"
}

resource "aws_s3_object" "page" {
  bucket       = aws_s3_bucket.b.id
  key          = "index.html"
  content      = templatefile("${path.module}/page.tftpl", { title = "Hi", items = ["a", "b"] })
  content_type = "text/html"
}

resource "aws_iam_policy" "read" {
  name   = "read"
  policy = file("./policy.json")
}
`),
			"page.tftpl", "<h1>${title}</h1>\n<ul>\n%{ for i in items ~}\n<li>${upper(i)}</li>\n%{ endfor ~}\n</ul>\n",
			"policy.json", `{"Version": "2012-10-17", "Statement": []}`),
	},
	{
		name: "API Gateway v1 REST API",
		files: tf(`resource "aws_api_gateway_rest_api" "api" {
  name = "rest"
}

resource "aws_api_gateway_resource" "items" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "items"
}

resource "aws_api_gateway_method" "get" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  resource_id   = aws_api_gateway_resource.items.id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_deployment" "d" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  triggers = {
    redeploy = sha1(jsonencode([aws_api_gateway_resource.items.id, aws_api_gateway_method.get.id]))
  }
  lifecycle {
    create_before_destroy = true
  }
}
`),
	},
	{
		name: "dynamic blocks, lifecycle conditions and splats",
		files: tf(`variable "indexes" {
  type    = list(object({ name = string, key = string }))
  default = [{ name = "by_owner", key = "owner" }]
}

resource "aws_dynamodb_table" "t" {
  name         = "t"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  dynamic "global_secondary_index" {
    for_each = var.indexes
    iterator = idx
    content {
      name            = idx.value.name
      hash_key        = idx.value.key
      projection_type = "ALL"
    }
  }

  lifecycle {
    prevent_destroy = false
    ignore_changes  = [tags]
    precondition {
      condition     = length(var.indexes) < 5
      error_message = "At most four indexes."
    }
  }
}

output "index_names" {
  value = var.indexes[*].name
}
`),
	},
	{
		name: "archive_file with inline source blocks, resource form and a layer",
		files: tf(`data "archive_file" "layer" {
  type        = "zip"
  output_path = "layer.zip"

  source {
    filename = "nodejs/util.js"
    content  = "module.exports = {}"
  }

  source {
    filename = "nodejs/package.json"
    content  = jsonencode({ name = "util" })
  }
}

resource "aws_lambda_layer_version" "util" {
  layer_name          = "util"
  filename            = data.archive_file.layer.output_path
  compatible_runtimes = ["nodejs20.x"]
}

resource "aws_lambda_function" "f" {
  count         = 2
  function_name = "f-${count.index}"
  role          = aws_iam_role.r.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  filename      = data.archive_file.layer.output_path
  layers        = [aws_lambda_layer_version.util.arn]
}

resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = "{}"
}
`),
	},
	{
		name: "check block with a scoped data source, moved block",
		files: tf(`resource "aws_s3_bucket" "renamed" {
  bucket = "b"
}

moved {
  from = aws_s3_bucket.old
  to   = aws_s3_bucket.renamed
}

check "account" {
  data "aws_caller_identity" "current" {}

  assert {
    condition     = data.aws_caller_identity.current.account_id != ""
    error_message = "No account."
  }
}
`),
	},
	{
		name: "words that only look like refused things",
		files: tf(`resource "aws_s3_bucket" "b" {
  bucket = "provisioner-connection-backend"
  tags = {
    path        = "path.cwd"
    provisioner = "none"
    connection  = "none"
  }
}

output "module_dir" {
  value = path.module
}

output "root_dir" {
  value = "${path.root}/x"
}

output "escaped" {
  value = "$${file(\"/etc/passwd\")}"
}
`),
	},
	{
		name: "terraform_data project in JSON syntax",
		files: tfJSON(`{
  "//": "a terraform_data project",
  "variable": {
    "greeting": { "type": "string", "default": "hello" }
  },
  "resource": {
    "terraform_data": {
      "message": { "input": "${var.greeting}, world" }
    }
  },
  "output": {
    "message": { "value": "${terraform_data.message.output}" }
  }
}`),
	},
	{
		name: "S3 + Lambda + DynamoDB in JSON syntax",
		files: with(tfJSON(`{
  "terraform": {
    "required_providers": {
      "aws": { "source": "hashicorp/aws", "version": "~> 5.0" },
      "archive": { "source": "hashicorp/archive" }
    }
  },
  "provider": {
    "aws": { "alias": "east", "region": "us-east-1" }
  },
  "data": {
    "archive_file": {
      "code": {
        "type": "zip",
        "source": [{ "filename": "index.py", "content": "${file(\"handler.py\")}" }],
        "output_path": "${path.module}/code.zip"
      }
    },
    "aws_iam_policy_document": {
      "assume": {
        "statement": [{
          "actions": ["sts:AssumeRole"],
          "principals": [{ "type": "Service", "identifiers": ["lambda.amazonaws.com"] }]
        }]
      }
    }
  },
  "resource": {
    "aws_iam_role": {
      "fn": { "name": "fn", "assume_role_policy": "${data.aws_iam_policy_document.assume.json}" }
    },
    "aws_dynamodb_table": {
      "items": {
        "name": "items",
        "billing_mode": "PAY_PER_REQUEST",
        "hash_key": "pk",
        "attribute": [{ "name": "pk", "type": "S" }],
        "dynamic": {
          "ttl": { "for_each": [1], "content": { "attribute_name": "expires", "enabled": true } }
        },
        "lifecycle": { "ignore_changes": ["tags"] }
      }
    },
    "aws_lambda_function": {
      "fn": {
        "function_name": "fn",
        "role": "${aws_iam_role.fn.arn}",
        "handler": "index.handler",
        "runtime": "python3.12",
        "filename": "${data.archive_file.code.output_path}",
        "source_code_hash": "${data.archive_file.code.output_base64sha256}"
      }
    },
    "aws_cloudwatch_log_group": {
      "fn": { "name": "/aws/lambda/fn", "retention_in_days": 7 }
    }
  }
}`), "handler.py", "def handler(event, context):\n    return {'ok': True}\n"),
	},
	{
		name: "native and JSON files together, with data files",
		files: map[string]string{
			"main.tf":       `resource "random_string" "s" { length = 8 }`,
			"extra.tf.json": `{"output": {"s": {"value": "${random_string.s.result}"}}}`,
			"README.txt":    "notes",
			"page.html":     "<p>hi</p>",
		},
	},
	{
		name: "JSON values that merely look like blocks",
		files: tfJSON(`{
  "locals": {
    "settings": { "connection": { "timeout": 5 }, "provisioner": ["none"] }
  },
  "resource": {
    "aws_s3_bucket": {
      "b": { "bucket": "b", "tags": { "connection": "none", "path": "path.cwd" } }
    }
  }
}`),
	},
	{
		name: "IAM policy nested as deep as real policies go",
		files: tf(`resource "aws_s3_bucket" "b" {
  bucket = "b"
}

resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.b.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecure"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
      Condition = {
        Bool = { "aws:SecureTransport" = "false" }
        StringNotEquals = {
          "aws:PrincipalTag/ProjectId" = [lower("${var.project}-${var.env}")]
        }
      }
    }]
  })
}

variable "project" { default = "p" }
variable "env" { default = "dev" }
`),
	},
}

func TestCheckAcceptsLegitimateConfiguration(t *testing.T) {
	if len(legitimate) < 12 {
		t.Errorf("got %d legitimate configurations, want at least 12", len(legitimate))
	}
	for _, tc := range legitimate {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.Check(tc.files, policy.DefaultRules())
			if diff := cmp.Diff([]policy.Violation(nil), got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// The web stack is checked against the rules, not against an empty rule
// set that would also accept it: removing one of its types from the
// allow-list must refuse it.
func TestWebStackNeedsItsAllowedTypes(t *testing.T) {
	rules := policy.DefaultRules()
	var kept []string
	for _, typ := range rules.AllowedResourceTypes {
		if typ != "aws_apigatewayv2_*" {
			kept = append(kept, typ)
		}
	}
	rules.AllowedResourceTypes = kept
	got := policy.Check(webStack, rules)
	var refused []string
	for _, v := range got {
		if strings.Contains(v.Message, "aws_apigatewayv2_") {
			refused = append(refused, v.File)
		}
	}
	if len(refused) != 4 {
		t.Errorf("without aws_apigatewayv2_* got %d refusals in %v, want 4 (api, integration, route, stage): %v", len(refused), refused, got)
	}
}
