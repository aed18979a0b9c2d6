//go:build e2e

package api

// hugeOutputBytes: the e2e suite stores the full 40 MB output (see
// bounds_size_test.go).
const hugeOutputBytes = 40 << 20
