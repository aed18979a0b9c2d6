# An HTTP API: API Gateway v2 routes GET and POST / to a Lambda function,
# which keeps its items in an on-demand table and logs to its own log
# group. Its role may touch only that table and that log group.
#
# The function's code is src/index.mjs, zipped into function.zip.b64
# (base64: project files are text) and uploaded to the project's own code
# bucket, from which Lambda takes it. hashicorp/archive's archive_file
# would zip src/ at plan time where that provider can be installed.

locals {
  name = "corpus-http-api"
}

resource "aws_dynamodb_table" "items" {
  name         = "${local.name}-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = 7
}

resource "aws_s3_bucket" "code" {
  bucket = "${local.name}-code"
}

resource "aws_s3_object" "code" {
  bucket         = aws_s3_bucket.code.id
  key            = "function.zip"
  content_base64 = file("${path.module}/function.zip.b64")
}

resource "aws_iam_role" "fn" {
  name = "${local.name}-fn"
  path = "/corpus/"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "own_table_and_logs" {
  name = "own-table-and-logs"
  role = aws_iam_role.fn.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]
        Resource = aws_dynamodb_table.items.arn
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.fn.arn}:*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "basic" {
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "api" {
  function_name = local.name
  role          = aws_iam_role.fn.arn
  runtime       = "nodejs20.x"
  handler       = "index.handler"
  s3_bucket     = aws_s3_bucket.code.id
  s3_key        = aws_s3_object.code.key
  memory_size   = 128
  timeout       = 10
  publish       = true
  environment {
    variables = { TABLE = aws_dynamodb_table.items.name }
  }
  depends_on = [aws_cloudwatch_log_group.fn, aws_iam_role_policy.own_table_and_logs]
}

resource "aws_apigatewayv2_api" "http" {
  name          = local.name
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "fn" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "get" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "GET /"
  target    = "integrations/${aws_apigatewayv2_integration.fn.id}"
}

resource "aws_apigatewayv2_route" "post" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "POST /"
  target    = "integrations/${aws_apigatewayv2_integration.fn.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowAPIGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

output "url" {
  value = aws_apigatewayv2_stage.default.invoke_url
}

output "function_version_arn" {
  value = aws_lambda_function.api.qualified_arn
}
