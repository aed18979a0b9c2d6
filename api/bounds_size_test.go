//go:build !e2e

package api

// hugeOutputBytes is the size of the output TestHugeStoredStatusGivesSmallResponses
// stores. PostgreSQL takes seconds to hand back a 40 MB jsonb on every read,
// so the quick suite uses 4 MB (the API's limits are kilobytes: the code
// paths are the same) and the e2e suite the 40 MB.
const hugeOutputBytes = 4 << 20
