#!/bin/sh
# Records state.json: the raw state (format v4, as `terraform state pull`
# prints it and the pg backend stores it) of a real apply with count,
# for_each (an awkward key), a nested module and a data source, for
# TestParseStateRecorded. Needs terraform on PATH. Run from this directory.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
mkdir -p "$work/child"
cat > "$work/main.tf" <<'TF'
resource "terraform_data" "single" { input = "one" }
resource "terraform_data" "counted" {
  count = 2
  input = count.index
}
resource "terraform_data" "keyed" {
  for_each = toset(["a", "b \"quoted\" ${"$"}{x}"])
  input    = each.key
}
module "child" {
  source   = "./child"
  for_each = toset(["x"])
}
data "terraform_remote_state" "self" {
  backend = "local"
  config  = { path = "other.tfstate" }
}
TF
cat > "$work/other.tfstate" <<'JSON'
{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "other", "outputs": {}, "resources": []}
JSON
cat > "$work/child/main.tf" <<'TF'
resource "terraform_data" "inner" { input = "inner" }
TF
cd "$work"
terraform init -input=false >/dev/null
terraform apply -input=false -auto-approve >/dev/null
terraform state list
cd - >/dev/null
(cd "$work" && terraform state pull) > state.json
