#!/bin/sh
# Regenerates the real-provider plan fixtures of this directory:
# for every case directory src/<case>/, `terraform plan` with the real
# hashicorp/aws provider from a filesystem mirror, against an AWS emulator,
# then `terraform show -json` of the saved plan into <case>.json.
#
#   EMULATOR_URL=http://127.0.0.1:PORT ./generate.sh [case...]
#
# OUT, when set, is the directory the plans are written to instead of this
# one (realplan_e2e_test.go plans afresh that way).
#
# EMULATOR_URL is an aws/awstest emulator (cmd/tenantform built with
# -tags emulator runs one in dev mode). TF_PROVIDER_MIRROR defaults to
# /opt/tf-plugins, which holds registry.terraform.io/hashicorp/aws/5.100.0.
# The provider settings are the ones package tf generates for an emulator
# (tf/workdir.go awsSettings): default_tags, endpoints, path-style S3.
set -eu
cd "$(dirname "$0")"
out="${OUT:-$PWD}"
: "${EMULATOR_URL:?set EMULATOR_URL to a running emulator}"
mirror="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path = "$mirror"
  }
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1
export AWS_ACCESS_KEY_ID=AKIDEMULATOR AWS_SECRET_ACCESS_KEY=emulator-secret
# One copy of the (large) provider for every case.
mkdir "$work/plugin-cache"
export TF_PLUGIN_CACHE_DIR="$work/plugin-cache"
cases="$*"
[ -n "$cases" ] || cases="$(ls src)"
for c in $cases; do
	d="$work/$c"
	cp -r "src/$c" "$d"
	# The provider settings tenantform adds (tf/workdir.go): an override
	# file merges into the tenant's own provider blocks.
	sed "s|EMULATOR_URL|$EMULATOR_URL|g" provider_override.tf.json >"$d/tenantform_override.tf.json"
	if [ -f "$d/aliases" ]; then
		# The aliased configurations get the same settings.
		for a in $(cat "$d/aliases"); do
			sed "s|EMULATOR_URL|$EMULATOR_URL|g; s|\"default_tags\"|\"alias\": \"$a\", \"default_tags\"|" provider_override.tf.json >"$d/tenantform_${a}_override.tf.json"
		done
		rm "$d/aliases"
	fi
	(cd "$d" && terraform init -input=false -no-color >/dev/null &&
		terraform plan -input=false -no-color -out=plan.bin >/dev/null &&
		terraform show -json plan.bin | jq -S . >"$out/$c.json")
	echo "$c.json"
done
