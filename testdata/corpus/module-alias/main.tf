# One local module used twice: in the project's region and, through an
# aliased provider, in us-west-2.

provider "aws" {
  alias  = "west"
  region = "us-west-2"
}

module "east" {
  source = "./modules/queue"
  name   = "corpus-modalias-east"
}

module "west" {
  source = "./modules/queue"
  name   = "corpus-modalias-west"
  providers = {
    aws = aws.west
  }
}

output "tables" {
  value = [module.east.table, module.west.table]
}
