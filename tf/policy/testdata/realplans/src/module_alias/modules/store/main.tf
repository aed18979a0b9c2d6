variable "name" {
  type = string
}

resource "aws_s3_bucket" "b" {
  bucket_prefix = "${var.name}-"
}

resource "aws_dynamodb_table" "t" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  attribute {
    name = "pk"
    type = "S"
  }
}

output "bucket" {
  value = aws_s3_bucket.b.bucket
}
