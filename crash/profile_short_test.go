//go:build e2e && !crash

package crash

import "time"

// defaultProfile, with -tags e2e only: a short variant for CI, four
// projects and a few kills.
var defaultProfile = profile{
	name:            "short",
	kills:           4,
	budget:          10 * time.Minute,
	settle:          6 * time.Minute,
	converge:        6 * time.Minute,
	afterConverge:   40 * time.Second,
	held:            3 * time.Minute,
	onlyProjects:    []string{"u1/fixed", "u1/prefix", "u2/table", "u1/doomed", "u2/store"},
	deleteWitnessIn: 4 * time.Minute,
}
