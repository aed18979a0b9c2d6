// Package crash is tenantform's crash suite (TEST ONLY): it runs the real
// `tenantform serve` and `tenantform reconcile` binaries, a PostgreSQL of
// their own, and the AWS emulator of package awstest as a process of its
// own, behind a fault-injecting proxy (Proxy) that holds chosen AWS
// answers until the suite has SIGKILLed the reconciler that asked. Kills
// land in the windows where a provisioning controller loses track of
// cloud resources: after S3 CreateBucket and before the bucket is tagged,
// after tagging (or a create that tags), in the middle of a destroy or an
// expiry, in the middle of the tagged inventory, and during adoption.
// Afterwards the suite lists the emulator with the SDK's own clients, not
// through tenantform, and counts what leaked, what was duplicated and what
// is missing.
//
// The suite itself is behind build tags, so plain `go test ./...` builds
// and tests only the proxy:
//
//	go test -tags crash ./crash/ -run TestCrashSuite -v -timeout 90m   # the long form (≥ 30 kills)
//	go test -tags crashshort ./crash/ -run TestCrashSuite -v           # a short variant (a few kills)
//
// It prints a table of figures; RELIABILITY.md keeps the measured ones.
package crash
