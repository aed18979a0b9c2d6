provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "west"
  region = "us-west-2"
}

module "east" {
  source = "./modules/store"
  name   = "east"
}

module "west" {
  source = "./modules/store"
  name   = "west"
  providers = {
    aws = aws.west
  }
}

output "buckets" {
  value = [module.east.bucket, module.west.bucket]
}
