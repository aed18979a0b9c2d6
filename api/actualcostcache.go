package api

import (
	"sync"
	"time"

	"github.com/tenantform/tenantform/store"
)

// actualCostMaxAge is how long a GET may answer with a month-to-date
// actual cost it read earlier instead of reading it again. The figure
// changes only when the Cost Explorer poll stores a new one, every
// COST_EXPLORER_INTERVAL (at least an hour) and from data that lags AWS
// by up to a day; a minute more is invisible beside that, and it spares
// PostgreSQL the lookup on all but one GET a minute of a project that a
// client polls (a third of a GET's database CPU).
const actualCostMaxAge = time.Minute

// maxCachedActualCosts bounds the projects whose actual cost is
// remembered.
const maxCachedActualCosts = 4096

// actualCostCache remembers, per project, the actual cost (or that it is
// unknown) a GET read, and when. An entry serves while it is younger
// than actualCostMaxAge and of the same UTC month: a new month's figure
// is unknown until the poll asks Cost Explorer again, never last
// month's.
type actualCostCache struct {
	mu      sync.Mutex
	entries map[store.Key]cachedActualCost
}

type cachedActualCost struct {
	cost *store.ActualCost // nil: unknown
	at   time.Time
}

// get returns the remembered cost of k at now, and whether there is one
// to serve.
func (c *actualCostCache) get(k store.Key, now time.Time) (*store.ActualCost, bool) {
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if !ok || now.Before(e.at) || now.Sub(e.at) >= actualCostMaxAge || !sameUTCMonth(e.at, now) {
		return nil, false
	}
	// The figure's month is the database's; this server's clock may run
	// ahead of it at a month's turn: never serve last month's as this.
	if e.cost != nil && !sameUTCMonth(e.cost.Month, now) {
		return nil, false
	}
	return e.cost, true
}

// put remembers cost, read at at, for k. When full, an entry picked at
// random makes room (map order), so one client's many projects cannot
// empty everyone's.
func (c *actualCostCache) put(k store.Key, cost *store.ActualCost, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[store.Key]cachedActualCost)
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= maxCachedActualCosts {
		for other := range c.entries {
			delete(c.entries, other)
			break
		}
	}
	c.entries[k] = cachedActualCost{cost: cost, at: at}
}

func sameUTCMonth(a, b time.Time) bool {
	a, b = a.UTC(), b.UTC()
	return a.Year() == b.Year() && a.Month() == b.Month()
}
