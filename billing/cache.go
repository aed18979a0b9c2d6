package billing

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
)

// PriceCache is the fetched prices in memory, as a cost.PriceSource: the
// reconciler estimates every plan, and a database query per price would
// put PostgreSQL in the estimator's path. The service reloads it from the
// store after each refresh and on every wake-up, so replicas that did not
// fetch get the new prices too. The zero PriceCache is empty (every price
// comes from the built-in table) and safe for concurrent use.
type PriceCache struct {
	snapshot atomic.Pointer[map[string]map[cost.Dimension]cachedPrice]
}

type cachedPrice struct {
	usd    float64
	source string
}

// SourceName is the source of fetched prices in an estimate line.
func SourceName(fetchedAt time.Time) string {
	return "aws-pricing-api (fetched " + fetchedAt.UTC().Format(time.DateOnly) + ")"
}

// UnitPrice implements cost.PriceSource.
func (c *PriceCache) UnitPrice(region string, d cost.Dimension) (float64, string, bool) {
	m := c.snapshot.Load()
	if m == nil {
		return 0, "", false
	}
	p, ok := (*m)[region][d]
	return p.usd, p.source, ok
}

// Set replaces the cached prices with prices.
func (c *PriceCache) Set(prices []store.Price) {
	m := map[string]map[cost.Dimension]cachedPrice{}
	for _, p := range prices {
		if m[p.Region] == nil {
			m[p.Region] = map[cost.Dimension]cachedPrice{}
		}
		m[p.Region][cost.Dimension(p.Dimension)] = cachedPrice{usd: p.USD, source: SourceName(p.FetchedAt)}
	}
	c.snapshot.Store(&m)
}

// Len is the number of cached prices.
func (c *PriceCache) Len() int {
	m := c.snapshot.Load()
	if m == nil {
		return 0
	}
	n := 0
	for _, r := range *m {
		n += len(r)
	}
	return n
}

// PriceReader is the slice of the store a cache loads from.
type PriceReader interface {
	Prices(ctx context.Context) ([]store.Price, error)
}

// Load replaces the cached prices with the stored ones.
func (c *PriceCache) Load(ctx context.Context, st PriceReader) error {
	prices, err := st.Prices(ctx)
	if err != nil {
		return err
	}
	c.Set(prices)
	return nil
}
