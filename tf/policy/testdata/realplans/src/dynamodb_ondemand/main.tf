provider "aws" {
  region = "us-east-1"
}

resource "aws_dynamodb_table" "notes" {
  name         = "notes"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_dynamodb_table_item" "first" {
  table_name = aws_dynamodb_table.notes.name
  hash_key   = aws_dynamodb_table.notes.hash_key
  item       = jsonencode({ id = { S = "1" }, text = { S = "hello" } })
}
