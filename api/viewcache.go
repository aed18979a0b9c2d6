package api

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/tenantform/tenantform/store"
)

// versionedGetter is *store.Store's read of a project that skips decoding
// the row when its watch version is the one the caller holds.
type versionedGetter interface {
	GetProjectUnlessVersion(ctx context.Context, key store.Key, known int64) (store.Project, int64, bool, error)
}

// maxCachedViewBytes bounds what viewCache holds, counted as the spec's
// files and variables and the status's outputs and messages (the parts
// that grow); when an answer would pass it, the cache is emptied and
// refills from the next GETs. maxCachedViewEntry keeps one project's
// large upload from taking the room of many.
const (
	maxCachedViewBytes = 16 << 20
	maxCachedViewEntry = 256 << 10
)

// viewCache remembers the answer of a GET of a project (its view, without
// the actual cost) with the project's watch version: a GET whose row
// still has that version answers with it instead of decoding the row's
// 37 columns and three JSON documents again, which was a fifth of a GET's
// CPU. The watch version changes with everything the view shows (see
// store.GetProjectUnlessVersion).
type viewCache struct {
	mu      sync.Mutex
	entries map[store.Key]cachedView
	bytes   int
}

type cachedView struct {
	version int64
	view    projectView
	size    int
}

// get returns the remembered view of k and its version.
func (c *viewCache) get(k store.Key) (projectView, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e.view, e.version, ok
}

// put remembers v, of watch version version, for k. The view's maps and
// slices are shared by every GET that answers with it: they are only
// read (encoded), never changed.
func (c *viewCache) put(k store.Key, version int64, v projectView) {
	size := viewSize(v)
	if size > maxCachedViewEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[k]; ok {
		c.bytes -= old.size
	}
	if c.entries == nil || c.bytes+size > maxCachedViewBytes {
		c.entries, c.bytes = make(map[store.Key]cachedView), 0
	}
	c.entries[k] = cachedView{version: version, view: v, size: size}
	c.bytes += size
}

// viewSize is about what v holds beyond its fixed fields.
func viewSize(v projectView) int {
	n := 1024
	for name, f := range v.Spec.Files {
		n += len(name) + len(f)
	}
	for name, raw := range v.Spec.Variables {
		n += len(name) + len(raw)
	}
	for name, o := range v.Status.Outputs {
		n += len(name)
		if raw, ok := o.(json.RawMessage); ok {
			n += len(raw)
		}
	}
	for _, c := range v.Status.Conditions {
		n += len(c.Message) + len(c.Reason) + len(c.Type)
	}
	return n + len(v.Status.Message) + len(v.Status.LastError)
}
