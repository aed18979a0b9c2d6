package policy_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

// isolationCases are the classes of issue "tenant isolation, second line"
// that the source alone decides: each is refused with file and line.
var isolationCases = []hostileCase{
	{
		name: "json: a duplicate resource key is a second set of blocks, checked too",
		files: tfJSON(`{
  "resource": { "terraform_data": { "ok": {} } },
  "resource": { "null_resource": { "hidden": {} } }
}`),
		want: []want{{"main.tf.json", 3, `resource type "null_resource" is not allowed`}},
	},
	{
		name: "json: a duplicate provider key is a second provider block, checked too",
		files: tfJSON(`{
  "provider": { "aws": { "alias": "a", "region": "us-east-1" } },
  "provider": { "aws": { "alias": "b", "region": "eu-west-3", "access_key": "AKIA" } }
}`),
		want: []want{
			{"main.tf.json", 3, `provider "aws" may not set access_key`},
			{"main.tf.json", 3, `the provider's region "eu-west-3" is not allowed`},
		},
	},
	{
		name: "platform tags in resource tags, in any case and inside merge",
		files: tf(`resource "aws_s3_bucket" "b" {
  bucket = "b"
  tags = merge(var.extra, {
    UserId    = "someone-else"
    "managedby" = "nobody"
    Team      = "web"
  })
}
variable "extra" { default = {} }`),
		want: []want{
			{"main.tf", 4, "tags may not set the UserId tag"},
			{"main.tf", 5, "tags may not set the ManagedBy tag"},
		},
	},
	{
		name: "tags_all written by a tenant",
		files: tf(`resource "aws_s3_bucket" "b" {
  bucket   = "b"
  tags_all = { Team = "x" }
}`),
		want: []want{{"main.tf", 3, "tags_all may not be set"}},
	},
	{
		name: "json: platform tag in tags and in the provider's default_tags",
		files: tfJSON(`{
  "provider": { "aws": { "region": "us-east-1", "default_tags": { "tags": { "ProjectId": "p2" } } } },
  "resource": { "aws_s3_bucket": { "b": { "bucket": "b", "tags": { "CreatedAt": "2000-01-01" } } } }
}`),
		want: []want{
			{"main.tf.json", 2, "default_tags may not set the ProjectId tag"},
			{"main.tf.json", 3, "tags may not set the CreatedAt tag"},
		},
	},
	{
		name: "computed default_tags cannot be merged beneath the platform's",
		files: tf(`provider "aws" {
  default_tags {
    tags = var.tags
  }
}
variable "tags" { default = {} }`),
		want: []want{{"main.tf", 3, "default_tags tags must be an object of literal strings"}},
	},
	{
		name: "provider ignore_tags would hide tag changes",
		files: tf(`provider "aws" {
  ignore_tags {
    keys = ["UserId"]
  }
}`),
		want: []want{{"main.tf", 2, `provider "aws" may not set ignore_tags`}},
	},
	{
		name: "prevent_destroy keeps a project past its TTL",
		files: tf(`resource "terraform_data" "x" {
  lifecycle {
    prevent_destroy = true
  }
}
resource "terraform_data" "y" {
  lifecycle {
    prevent_destroy = var.keep
  }
}
variable "keep" { default = true }`),
		want: []want{
			{"main.tf", 3, "lifecycle { prevent_destroy } is not allowed"},
			{"main.tf", 8, "lifecycle { prevent_destroy } is not allowed"},
		},
	},
	{
		name:  "json: prevent_destroy",
		files: tfJSON(`{"resource": {"terraform_data": {"x": {"lifecycle": {"prevent_destroy": true}}}}}`),
		want:  []want{{"main.tf.json", 1, "lifecycle { prevent_destroy } is not allowed"}},
	},
	{
		name: "removed with a computed destroy",
		files: tf(`removed {
  from = terraform_data.x
  lifecycle {
    destroy = var.d
  }
}
variable "d" { default = false }`),
		want: []want{{"main.tf", 4, "removed blocks must destroy what they remove"}},
	},
	{
		name: "per-resource region and replica regions outside the allow-list",
		files: tf(`resource "aws_s3_bucket" "b" {
  bucket = "b"
  region = "ap-south-1"
}
resource "aws_dynamodb_table" "t" {
  name     = "t"
  hash_key = "id"
  attribute {
    name = "id"
    type = "S"
  }
  replica {
    region_name = "us-west-2"
  }
  replica {
    region_name = "eu-central-1"
  }
}`),
		want: []want{
			{"main.tf", 3, `region "ap-south-1" is not allowed`},
			{"main.tf", 16, `region "eu-central-1" is not allowed`},
		},
	},
	{
		name: "literal count and for_each beyond the quota",
		files: tf(`resource "terraform_data" "many" {
  count = 100000
}
resource "terraform_data" "each" {
  for_each = toset(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])
}`),
		want: []want{
			{"main.tf", 2, "count = 100000 is more than the 10 resources"},
			{"main.tf", 5, "for_each over 11 elements is more than the 10 resources"},
		},
	},
	{
		name: "data sources that read other tenants' objects",
		files: tf(`data "aws_s3_object" "o" {
  bucket = "other-tenant"
  key    = "secrets.json"
}
data "aws_dynamodb_table_item" "i" {
  table_name = "other"
  key        = "{}"
}
data "aws_api_gateway_api_key" "k" {
  id = "abc"
}
data "aws_lambda_function" "f" {
  function_name = "x"
}`),
		want: []want{
			{"main.tf", 1, `data source "aws_s3_object" is not allowed: data sources may only read what belongs to no tenant`},
			{"main.tf", 5, `data source "aws_dynamodb_table_item" is not allowed`},
			{"main.tf", 9, `data source "aws_api_gateway_api_key" is not allowed`},
			{"main.tf", 12, `data source "aws_lambda_function" is not allowed`},
		},
	},
	{
		name: "naming arguments with literals or variables reach other tenants",
		files: tf(`resource "aws_s3_bucket_policy" "p" {
  bucket = "another-tenants-bucket"
  policy = "{}"
}
resource "aws_dynamodb_table_item" "i" {
  table_name = var.table
  hash_key   = "id"
  item       = "{}"
}
resource "aws_lambda_permission" "p" {
  function_name = "arn:aws:lambda:us-east-1:123456789012:function:other"
  action        = "lambda:InvokeFunction"
  principal     = "s3.amazonaws.com"
}
resource "aws_iam_role_policy_attachment" "admin" {
  role       = "tenantform-platform"
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
resource "aws_apigatewayv2_route" "r" {
  api_id    = "a1b2c3"
  route_key = "GET /"
}
variable "table" { default = "other" }`),
		want: []want{
			{"main.tf", 2, "aws_s3_bucket_policy.bucket must refer to a resource of this project (aws_s3_bucket)"},
			{"main.tf", 6, "aws_dynamodb_table_item.table_name must refer to a resource of this project (aws_dynamodb_table)"},
			{"main.tf", 11, "aws_lambda_permission.function_name must refer to a resource of this project"},
			{"main.tf", 16, "aws_iam_role_policy_attachment.role must refer to a resource of this project (aws_iam_role)"},
			{"main.tf", 17, "aws_iam_role_policy_attachment.policy_arn must refer to a resource of this project (aws_iam_policy)"},
			{"main.tf", 20, "aws_apigatewayv2_route.api_id must refer to a resource of this project (aws_apigatewayv2_api)"},
		},
	},
	{
		name: "a reference to a resource of the wrong type, or undeclared",
		files: tf(`resource "aws_s3_bucket" "b" { bucket = "b" }
resource "aws_s3_object" "o" {
  bucket = aws_s3_object.other.bucket
  key    = "k"
}
resource "aws_s3_object" "other" {
  bucket = aws_s3_bucket.b.id
  key    = "k2"
}
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = aws_s3_bucket.b.arn
  handler       = "i.h"
  runtime       = "nodejs20.x"
}
resource "aws_s3_bucket_notification" "n" {
  bucket = aws_s3_bucket.missing.id
  lambda_function {
    lambda_function_arn = "arn:aws:lambda:us-east-1:1:function:x"
  }
}`),
		want: []want{
			{"main.tf", 3, "aws_s3_object.bucket must refer to a resource of type aws_s3_bucket, not aws_s3_object"},
			{"main.tf", 12, "aws_lambda_function.role must refer to a resource of type aws_iam_role, not aws_s3_bucket"},
			{"main.tf", 17, "aws_s3_bucket_notification.bucket must refer to a resource of this project"},
			{"main.tf", 19, "aws_s3_bucket_notification.lambda_function.lambda_function_arn must refer"},
		},
	},
	{
		name: "module reaching out of the project, calling the root, or itself",
		files: map[string]string{
			"main.tf":           `module "a" { source = "./modules/a" }` + "\n" + `module "up" { source = "../../x" }`,
			"modules/a/a.tf":    `module "b" { source = "../b" }`,
			"modules/b/b.tf":    `module "a" { source = "../a" }` + "\n" + `module "root" { source = "../.." }`,
			"modules/c/none.js": "",
			"other.tf":          `module "c" { source = "./modules/c" }`,
		},
		want: []want{
			{"main.tf", 2, "a local module must be a directory of the project"},
			{"modules/b/b.tf", 1, `module "modules/a" calls itself`},
			{"modules/b/b.tf", 2, "a module cannot call the root module"},
			{"other.tf", 1, "names no directory of the project holding .tf or .tf.json files"},
		},
	},
	{
		name: "a module is checked like the root, and may not configure providers",
		files: map[string]string{
			"main.tf":             `module "api" { source = "./modules/api" }`,
			"modules/api/main.tf": "provider \"aws\" {\n  region = \"us-east-1\"\n}\nresource \"terraform_data\" \"x\" {\n  provisioner \"local-exec\" { command = \"id\" }\n}\n",
		},
		want: []want{
			{"modules/api/main.tf", 1, "provider blocks belong in the root module"},
			{"modules/api/main.tf", 5, "provisioner blocks are not allowed"},
		},
	},
	{
		name: "file functions and archives outside the project after .. is resolved",
		files: map[string]string{
			"main.tf": `module "api" { source = "./modules/api" }`,
			"modules/api/main.tf": `data "archive_file" "a" {
  type        = "zip"
  source_dir  = "${path.module}/../.."
  output_path = "${path.module}/a.zip"
}
data "archive_file" "b" {
  type        = "zip"
  source_file = "${path.module}/../../../etc/passwd"
  output_path = "${path.module}/../../../b.zip"
}
output "x" { value = file("${path.module}/../../.terraform/environment") }
output "y" { value = file("${path.module}/src/index.js") }`,
			"modules/api/src/index.js": "x",
		},
		want: []want{
			{"modules/api/main.tf", 3, "archive_file source_dir must name a directory of the project other than the project directory itself"},
			{"modules/api/main.tf", 8, "archive_file source_file must name a file of the project"},
			{"modules/api/main.tf", 9, "archive_file output_path must be a new file name"},
			{"modules/api/main.tf", 11, `file("${path.module}/../../.terraform/environment") is not allowed`},
		},
	},
	{
		name: "each.value over a variable of names",
		files: tf(`variable "buckets" { default = ["theirs"] }
resource "aws_s3_bucket_policy" "p" {
  for_each = toset(var.buckets)
  bucket   = each.value
  policy   = "{}"
}`),
		want: []want{{"main.tf", 4, "aws_s3_bucket_policy.bucket must refer to a resource of this project"}},
	},
	{
		name:  "ephemeral resources",
		files: tf(`ephemeral "random_password" "p" { length = 8 }`),
		want:  []want{{"main.tf", 1, "ephemeral resources are not allowed"}},
	},
}

func TestCheckRefusesIsolationEscapes(t *testing.T) {
	rules := policy.DefaultRules()
	rules.MaxResources = 10
	for _, tc := range isolationCases {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.Check(tc.files, rules)
			if diff := cmp.Diff(tc.want, probes(got, tc.want)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// ordinary is Terraform that real users write and that issue 10 says must
// be accepted.
var ordinary = map[string]map[string]string{
	"un-aliased aws provider with its own default_tags": {
		"main.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}
provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = { Team = "web", CostCenter = "42" }
  }
}
resource "aws_s3_bucket" "site" {
  bucket = "site"
  region = "us-west-2"
  tags   = { Component = "site" }
}`,
	},
	"a lambda from project files in subdirectories, a local module, templates": {
		"main.tf": `module "api" {
  source = "./modules/api"
  name   = "notes"
}
resource "aws_s3_bucket" "site" { bucket = "site" }
resource "aws_s3_object" "index" {
  bucket  = aws_s3_bucket.site.id
  key     = "index.html"
  content = templatefile("${path.module}/templates/index.html.tftpl", { title = "Notes" })
}
resource "aws_s3_object" "logo" {
  bucket = aws_s3_bucket.site.id
  key    = "logo.svg"
  source = "${path.module}/assets/logo.svg"
}`,
		"templates/index.html.tftpl": "<h1>${title}</h1>",
		"assets/logo.svg":            "<svg/>",
		"modules/api/variables.tf":   `variable "name" { type = string }`,
		"modules/api/main.tf": `data "archive_file" "code" {
  type        = "zip"
  source_dir  = "${path.module}/src"
  output_path = "${path.module}/build/code.zip"
}
data "archive_file" "one" {
  type        = "zip"
  source_file = "${path.module}/src/handler.py"
  output_path = "${path.module}/build/one.zip"
}
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}
resource "aws_iam_role" "fn" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
}
resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}
resource "aws_lambda_function" "fn" {
  function_name = var.name
  role          = aws_iam_role.fn.arn
  handler       = "handler.main"
  runtime       = "python3.12"
  filename      = data.archive_file.code.output_path
}
resource "aws_lambda_permission" "api" {
  for_each      = toset(["a", "b"])
  function_name = aws_lambda_function.fn[0].function_name
  action        = "lambda:InvokeFunction"
  principal     = "apigateway.amazonaws.com"
}
resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  protocol_type = "HTTP"
}
resource "aws_s3_bucket" "logs" {
  for_each = toset(["a", "b"])
  bucket   = "logs-${each.key}"
}
resource "aws_s3_bucket_versioning" "logs" {
  for_each = aws_s3_bucket.logs
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}`,
		"modules/api/src/handler.py":  "def main(event, ctx):\n    return {}\n",
		"modules/api/src/lib/util.py": "X = 1\n",
	},
	"json: un-aliased provider, removed block that destroys, lifecycle without prevent_destroy": {
		"main.tf.json": `{
  "provider": { "aws": { "region": "us-west-2", "default_tags": { "tags": { "Team": "data" } } } },
  "removed": { "from": "terraform_data.old", "lifecycle": { "destroy": true } },
  "resource": { "terraform_data": { "x": { "count": 3, "lifecycle": { "prevent_destroy": false, "create_before_destroy": true } } } }
}`,
	},
}

func TestCheckAcceptsOrdinaryTerraform(t *testing.T) {
	for name, files := range ordinary {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff([]policy.Violation(nil), policy.Check(files, policy.DefaultRules())); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckRefusesLiteralIAMEscalation(t *testing.T) {
	files := tf(`resource "aws_iam_role" "r" {
  name = "r"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { AWS = "arn:aws:iam::999999999999:root" }
    }]
  })
}
resource "aws_iam_role_policy" "p" {
  role = aws_iam_role.r.id
  policy = jsonencode({
    Statement = [
      { Effect = "Allow", Action = ["dynamodb:GetItem", "iam:CreateUser"], Resource = "*" },
      { Effect = "Allow", Action = "*", Resource = "*" },
      { Effect = "Deny", NotAction = "s3:*", Resource = "*" },
    ]
  })
}
resource "aws_iam_policy" "q" {
  name   = "q"
  policy = <<-EOT
    {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
  EOT
}
data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["sts:AssumeRole", "s3:GetObject"]
    resources = ["*"]
  }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}`)
	want := []want{
		{"main.tf", 8, "assume_role_policy: AWS principals are not allowed"},
		{"main.tf", 16, `policy: action "iam:CreateUser" is not allowed`},
		{"main.tf", 17, `policy: action "*" is not allowed`},
		{"main.tf", 24, "policy allows NotAction"},
		{"main.tf", 30, `action "sts:AssumeRole" is not allowed`},
	}
	got := policy.Check(files, policy.DefaultRules())
	if diff := cmp.Diff(want, probes(got, want)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}
