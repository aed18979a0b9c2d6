//go:build crash

package crash

import "time"

// defaultProfile, with -tags crash: the long form, every project, at
// least 30 kills. It takes about an hour with the real provider on a
// loaded 2-core machine.
var defaultProfile = profile{
	name:            "long",
	kills:           32,
	budget:          70 * time.Minute,
	settle:          12 * time.Minute,
	converge:        12 * time.Minute,
	afterConverge:   70 * time.Second,
	held:            3 * time.Minute,
	provider:        "auto",
	deleteWitnessIn: 6 * time.Minute,
}
