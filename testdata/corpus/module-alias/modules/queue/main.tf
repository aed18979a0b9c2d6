# A queue of jobs: an on-demand table and the log group its consumers
# write to.

variable "name" {
  type = string
}

resource "aws_dynamodb_table" "jobs" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_cloudwatch_log_group" "consumers" {
  name              = "/corpus/${var.name}"
  retention_in_days = 3
}

output "table" {
  value = aws_dynamodb_table.jobs.name
}
