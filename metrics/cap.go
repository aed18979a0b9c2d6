package metrics

import (
	"sync"

	"github.com/tenantform/tenantform/store"
)

// DefaultMaxSeries is METRICS_MAX_SERIES's default.
const DefaultMaxSeries = 2000

// Other is the label value under which series past the cap are summed. It
// cannot clash with a user or project id, which must start with a letter.
const Other = store.OtherSeries

// cappedLabel hands out at most max distinct label values for a label that
// grows with tenants (the user of a rate-limited request): the first max-1
// values seen keep their own series, every later one becomes Other. The
// set only grows, so a series never moves between its own value and Other.
type cappedLabel struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

func newCappedLabel(max int) *cappedLabel {
	if max < 1 {
		max = DefaultMaxSeries
	}
	return &cappedLabel{max: max, seen: map[string]struct{}{}}
}

func (c *cappedLabel) value(v string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[v]; ok {
		return v
	}
	if len(c.seen) < c.max-1 {
		c.seen[v] = struct{}{}
		return v
	}
	return Other
}
