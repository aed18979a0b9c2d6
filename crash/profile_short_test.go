//go:build crashshort && !crash

package crash

import "time"

// defaultProfile, with -tags crashshort only: a short variant, five
// projects and eight kills, with the test double of hashicorp/aws (a
// plan with the real provider takes tens of seconds on a loaded machine;
// -crash.provider=auto uses it). Eight kills reach the bucket_prefix
// project's windows (after CreateBucket, after tagging, its recovery).
var defaultProfile = profile{
	name:            "short",
	kills:           8,
	budget:          10 * time.Minute,
	settle:          6 * time.Minute,
	converge:        6 * time.Minute,
	afterConverge:   40 * time.Second,
	held:            3 * time.Minute,
	onlyProjects:    []string{"u1/fixed", "u1/prefix", "u2/table", "u1/doomed", "u2/store"},
	provider:        "double",
	deleteWitnessIn: 4 * time.Minute,
}
