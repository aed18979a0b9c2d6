provider "aws" {
  region = "us-east-1"
}

resource "aws_iam_role" "fn" {
  name = "fn-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_dynamodb_table" "data" {
  name         = "data"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_iam_role_policy" "data" {
  name = "data"
  role = aws_iam_role.fn.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource = aws_dynamodb_table.data.arn
    }]
  })
}

resource "aws_lambda_function" "fn" {
  function_name    = "hello"
  role             = aws_iam_role.fn.arn
  handler          = "index.handler"
  runtime          = "nodejs20.x"
  filename         = "fn.zip"
  source_code_hash = filebase64sha256("fn.zip")
  environment {
    variables = {
      TABLE = aws_dynamodb_table.data.name
    }
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  name              = "/aws/lambda/${aws_lambda_function.fn.function_name}"
  retention_in_days = 7
}
