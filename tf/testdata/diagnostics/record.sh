#!/bin/sh
# Records terraform's machine-readable output (-json) for the failures the
# classifier test (TestClassifyRecordedDiagnostics) reads. Needs terraform
# on PATH and, for the aws cases, the aws provider in the filesystem
# mirror $TF_MIRROR (default /opt/tf-plugins). Run from this directory:
#   ./record.sh
set -u
mirror=${TF_MIRROR:-/opt/tf-plugins}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/rc.tfrc" <<RC
provider_installation {
  filesystem_mirror { path = "$mirror" }
}
RC
export TF_CLI_CONFIG_FILE="$work/rc.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

# record NAME COMMAND CONFIG: runs init, then `terraform COMMAND -json`
# in a fresh directory with CONFIG as main.tf, and keeps its stdout.
record() {
  name=$1 cmd=$2 config=$3
  d="$work/$name"
  mkdir -p "$d"
  printf '%s\n' "$config" > "$d/main.tf"
  (cd "$d" && terraform init -input=false >/dev/null 2>&1
   case $cmd in
   destroy) terraform apply -input=false -auto-approve >/dev/null 2>&1
            terraform destroy -input=false -auto-approve -json ;;
   *)       terraform "$cmd" -input=false -json ;;
   esac) > "$name.jsonl" 2>/dev/null
  echo "$name: exit $?"
}

aws_offline='provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1
  endpoints { dynamodb = "http://127.0.0.1:1" }
}'

record missing_variable plan 'variable "n" { type = number }
resource "terraform_data" "x" { input = var.n }'
record unsupported_argument plan 'resource "terraform_data" "x" {
  bogus = 1
}'
record undeclared_reference plan 'resource "terraform_data" "x" { input = terraform_data.nope.id }'
record undeclared_variable plan 'output "o" { value = var.missing }'
record unsupported_block plan 'resource "terraform_data" "x" {
  weird {}
}'
record invalid_function_argument plan 'output "o" { value = file("no-such-file") }'
record syntax_error plan 'resource "terraform_data" "x" {
  input = 
}'
record precondition plan 'variable "v" { default = 1 }
resource "terraform_data" "x" {
  input = 1
  lifecycle {
    precondition {
      condition     = var.v == 2
      error_message = "one is not two"
    }
  }
}'
record prevent_destroy destroy 'resource "terraform_data" "x" {
  lifecycle { prevent_destroy = true }
}'
record provider_validation plan "$aws_offline
resource \"aws_dynamodb_table\" \"t\" {
  name         = \"t\"
  hash_key     = \"id\"
  billing_mode = \"BOGUS\"
  attribute {
    name = \"id\"
    type = \"S\"
  }
}"
record network_error plan "$aws_offline
data \"aws_dynamodb_table\" \"t\" { name = \"some-table\" }"
