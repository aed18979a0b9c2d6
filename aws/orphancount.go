package aws

import (
	"context"
	"sync"
)

// orphanInputs is the store's cheap answer to "may the orphans have
// changed?" (store.Store.OrphanInputsVersion).
type orphanInputs interface {
	OrphanInputsVersion(ctx context.Context) (string, error)
}

// orphanCount is the last count Count computed and the version of its
// inputs.
type orphanCount struct {
	mu      sync.Mutex
	version string
	n       int
}

// Count returns how many resources of the stored inventory are orphans,
// as List would (ErrNoInventory before the first listing). It counts
// again only when the store says the inventory or the project rows may
// have changed since it last did: the /metrics scrape calls it, and a
// count reads the whole inventory and every project row.
func (o *Orphans) Count(ctx context.Context) (int, error) {
	vs, ok := o.cfg.Store.(orphanInputs)
	if !ok {
		items, err := o.find(ctx)
		return len(items), err
	}
	o.count.mu.Lock()
	defer o.count.mu.Unlock()
	version, err := vs.OrphanInputsVersion(ctx)
	if err != nil {
		return 0, err
	}
	if version == o.count.version {
		return o.count.n, nil
	}
	items, err := o.find(ctx)
	if err != nil {
		return 0, err
	}
	o.count.version, o.count.n = version, len(items)
	return o.count.n, nil
}
