#!/bin/sh
# bench/run.sh: tenantform's benchmark suite, in one command (see
# BENCHMARKS.md for what each part measures and the figures recorded).
#
#   bench/run.sh            # everything, one after the other
#   bench/run.sh putready   # only the PUT → Ready comparison
#   PAIRS=20 bench/run.sh putready
#   bench/run.sh steady     # only the reconciler process at rest
#   PROJECTS=10000 DURATION=3m bench/run.sh steady
#
# Nothing here runs in `go test ./...`: the Go benchmarks run only with
# -bench, the PUT → Ready comparison only with the build tag "bench". It
# needs terraform on PATH (or TF_PATH) and PostgreSQL 15 binaries; every
# part starts its own throwaway database (the API floor also needs wrk).
# The machine's load average is
# printed first and last: figures from a loaded machine are upper bounds.
set -eu
cd "$(dirname "$0")/.."

what=${1:-all}
pairs=${PAIRS:-12}
projects=${PROJECTS:-1000,10000,50000}
duration=${DURATION:-3m}

say() { printf '\n== %s (load average %s)\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

say "start: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(go version | cut -d' ' -f3), $(terraform version 2>/dev/null | head -1)"

if [ "$what" = all ] || [ "$what" = putready ]; then
	say "PUT → Ready through tenantform vs the reviewed workflow by hand, $pairs interleaved pairs"
	go test -tags bench ./bench -run '^TestPutToReady$' -count 1 -v -timeout 30m -pairs "$pairs" | grep -v '^=== '
fi
if [ "$what" = all ] || [ "$what" = steady ]; then
	say "the reconciler process at rest over $projects projects, $duration each (RESYNC_INTERVAL 1m, INVENTORY_INTERVAL 30s)"
	go test -tags bench ./bench -run '^TestSteadyStateProcess$' -count 1 -v -timeout 90m -projects "$projects" -duration "$duration" | grep -v '^=== '
fi
if [ "$what" = all ]; then
	say "tf: what the supervisor adds to each terraform command"
	go test ./tf -run '^$' -bench SupervisorStart -benchtime 200x -count 5
	say "tf: Plan + Apply vs the raw CLI"
	go test ./tf -run '^$' -bench PlanApply -benchtime 5x -count 3
	say "controller: spec write → reconcile start"
	go test ./controller -run '^$' -bench WriteToReconcileStart -benchtime 30x -count 3
	say "store: claiming at any backlog"
	go test ./store -run '^$' -bench ClaimDue -benchtime 100x
	say "store: the steady state's queries at 1k, 10k and 50k projects"
	go test ./store -run '^$' -bench SteadyState -benchtime 5x -timeout 40m
	say "controller: a burst of 500 projects, 1 and 3 reconcilers, TF_CONCURRENCY 1, 2, 4 (2 s applies)"
	go test ./controller -run '^$' -bench Burst -benchtime 1x -timeout 30m
	say "controller: one user's 5,000-project backlog against another user's project"
	go test ./controller -run '^$' -bench BacklogFairness -benchtime 5x -timeout 30m
	say "metrics: /metrics over 10,000 projects"
	go test ./metrics -run '^$' -bench 'Scrape10000|StateQuery10000' -benchtime 20x -count 5
	say "tf/policy: policy checks"
	go test ./tf/policy -run '^$' -bench . -count 3
	say "api: GET and PUT of one project against their floor (wrk)"
	go run ./bench/apifloor -rounds 5 -duration 10s
fi
say "end: $(date -u '+%Y-%m-%d %H:%M UTC')"
