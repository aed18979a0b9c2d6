# Hostile values a tenant could hide from a check of known values only:
# each resource below is refused by the plan check, naming its address and
# the argument (see realplan_test.go).
provider "aws" {
  region = "us-east-1"
}

# Stand-ins for any value unknown until apply (terraform_data outputs,
# random values, attributes computed at apply).
resource "terraform_data" "other_table" {
  input = "other-tenant-table"
}

resource "terraform_data" "other_role" {
  input = "arn:aws:iam::000000000000:role/other-tenant-role"
}

resource "terraform_data" "admin" {
  input = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "terraform_data" "star" {
  input = "*"
}

resource "terraform_data" "mode" {
  input = "PROVISIONED"
}

resource "terraform_data" "size" {
  input = 10240
}

resource "terraform_data" "sizes" {
  input = [10240]
}

resource "terraform_data" "region" {
  input = "eu-west-1"
}

resource "aws_iam_role" "mine" {
  name        = "mine"
  description = terraform_data.other_role.output
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_dynamodb_table" "mine" {
  name         = "mine"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
  ttl {
    attribute_name = terraform_data.other_table.output
    enabled        = true
  }
}

resource "aws_dynamodb_table_item" "into_foreign_table" {
  table_name = terraform_data.other_table.output
  hash_key   = "id"
  item       = jsonencode({ id = { S = "x" } })
}

resource "aws_lambda_function" "borrowed_role" {
  function_name = "borrowed"
  role          = aws_iam_role.mine.description
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  filename      = "fn.zip"
}

resource "aws_lambda_permission" "foreign_public" {
  statement_id  = "open"
  action        = "lambda:InvokeFunction"
  function_name = aws_dynamodb_table.mine.ttl[0].attribute_name
  principal     = "*"
}

resource "aws_lambda_function_url" "foreign_url" {
  function_name      = terraform_data.other_table.output
  authorization_type = "NONE"
}

resource "aws_iam_role_policy" "onto_foreign_role" {
  role = terraform_data.other_role.output
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }]
  })
}

resource "aws_iam_role_policy_attachment" "admin" {
  role       = aws_iam_role.mine.name
  policy_arn = terraform_data.admin.output
}

resource "aws_iam_role_policy" "unknown_action" {
  role = aws_iam_role.mine.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = terraform_data.star.output, Resource = "*" }]
  })
}

resource "aws_iam_role" "trust_anyone" {
  name = "trust-anyone"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { AWS = "*" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_iam_role" "trust_unknown" {
  name = "trust-unknown"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { AWS = terraform_data.other_role.output }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_lambda_function" "foreign_code" {
  function_name = "foreign-code"
  role          = aws_iam_role.mine.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  s3_bucket     = "other-tenant-bucket"
  s3_key        = "code.zip"
  layers        = ["arn:aws:lambda:us-east-1:000000000000:layer:other:1"]
}

resource "aws_dynamodb_table" "restored" {
  name                = "restored"
  billing_mode        = "PAY_PER_REQUEST"
  hash_key            = "id"
  restore_source_name = "other-tenant-table"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_dynamodb_table" "imported" {
  name         = "imported"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
  import_table {
    input_format = "DYNAMODB_JSON"
    s3_bucket_source {
      bucket = "other-tenant-bucket"
    }
  }
}

resource "aws_apigatewayv2_api" "api" {
  name          = "api"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "foreign_function" {
  api_id           = aws_apigatewayv2_api.api.id
  integration_type = "AWS_PROXY"
  integration_uri  = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:other/invocations"
}

resource "aws_apigatewayv2_api_mapping" "foreign_domain" {
  api_id      = aws_apigatewayv2_api.api.id
  domain_name = "other-tenant.example.com"
  stage       = "$default"
}

resource "aws_dynamodb_table" "open_mode" {
  name         = "open-mode"
  billing_mode = terraform_data.mode.output
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_lambda_function" "open_storage" {
  function_name = "open-storage"
  role          = aws_iam_role.mine.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  filename      = "fn.zip"
  ephemeral_storage {
    size = terraform_data.size.output
  }
}

resource "aws_lambda_function" "dynamic_storage" {
  function_name = "dynamic-storage"
  role          = aws_iam_role.mine.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  filename      = "fn.zip"
  dynamic "ephemeral_storage" {
    for_each = terraform_data.sizes.output
    content {
      size = ephemeral_storage.value
    }
  }
}

resource "aws_dynamodb_table" "replica_region" {
  name             = "replicated"
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "id"
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
  attribute {
    name = "id"
    type = "S"
  }
  replica {
    region_name = terraform_data.region.output
  }
}
