# A static web site: a bucket holding the project's own files, readable by
# anyone through its own bucket policy.

resource "aws_s3_bucket" "site" {
  bucket = "corpus-static-site"
  tags   = { Purpose = "static site" }
}

resource "aws_s3_bucket_website_configuration" "site" {
  bucket = aws_s3_bucket.site.id
  index_document {
    suffix = "index.html"
  }
  error_document {
    key = "404.html"
  }
}

# A new bucket blocks public policies (AWS's default since 2023): the
# site's own policy needs this first.
resource "aws_s3_bucket_public_access_block" "site" {
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = false
  restrict_public_buckets = false
}

# The site's files, each named literally (file functions read only files
# submitted with the project).
resource "aws_s3_object" "index" {
  bucket       = aws_s3_bucket.site.id
  key          = "index.html"
  source       = "${path.module}/site/index.html"
  etag         = filemd5("${path.module}/site/index.html")
  content_type = "text/html"
}

resource "aws_s3_object" "not_found" {
  bucket       = aws_s3_bucket.site.id
  key          = "404.html"
  source       = "${path.module}/site/404.html"
  etag         = filemd5("${path.module}/site/404.html")
  content_type = "text/html"
}

resource "aws_s3_object" "style" {
  bucket       = aws_s3_bucket.site.id
  key          = "style.css"
  source       = "${path.module}/site/style.css"
  etag         = filemd5("${path.module}/site/style.css")
  content_type = "text/css"
}

resource "aws_s3_bucket_policy" "public_read" {
  bucket = aws_s3_bucket.site.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PublicRead"
      Effect    = "Allow"
      Principal = "*"
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.site.arn}/*"
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.site]
}

output "website_endpoint" {
  value = aws_s3_bucket_website_configuration.site.website_endpoint
}
