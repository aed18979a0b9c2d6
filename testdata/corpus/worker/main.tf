# A worker: a Lambda function that drains due jobs from its table, with
# its log group and a role scoped to both. On AWS it would run on a
# schedule (an EventBridge rule), but EventBridge types are not on
# tenantform's allow-list: here the owner invokes it (or a function of
# another project of theirs would). The table is provisioned: a steady,
# small load costs less provisioned than on demand.

locals {
  name = "corpus-worker"
}

resource "aws_dynamodb_table" "jobs" {
  name           = "${local.name}-jobs"
  billing_mode   = "PROVISIONED"
  read_capacity  = 5
  write_capacity = 5
  hash_key       = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = 14
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
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "jobs" {
  name = "jobs"
  role = aws_iam_role.fn.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["dynamodb:Scan", "dynamodb:DeleteItem"]
        Resource = aws_dynamodb_table.jobs.arn
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.fn.arn}:*"
      },
    ]
  })
}

resource "aws_lambda_function" "worker" {
  function_name = local.name
  role          = aws_iam_role.fn.arn
  runtime       = "nodejs20.x"
  handler       = "index.handler"
  s3_bucket     = aws_s3_bucket.code.id
  s3_key        = aws_s3_object.code.key
  memory_size   = 256
  timeout       = 60
  architectures = ["arm64"]
  environment {
    variables = { TABLE = aws_dynamodb_table.jobs.name }
  }
  depends_on = [aws_cloudwatch_log_group.fn, aws_iam_role_policy.jobs]
}
