#!/usr/bin/env bash
# Writes screenshots of the operator console (login, projects, a project,
# a run) to DIR (default ./console-screenshots), by running the headless
# Chromium test against a real API server, store and reconciler.
#
# Needs chromium (apt-get install chromium), terraform and the PostgreSQL
# server binaries, like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(realpath -m "${1:-console-screenshots}")"
mkdir -p "$dir"
TENANTFORM_REQUIRE_CHROMIUM=1 TENANTFORM_CONSOLE_SCREENSHOTS="$dir" \
	go test -count=1 -run '^TestConsoleInBrowser$' ./api/
ls -1 "$dir"/console-*.png
