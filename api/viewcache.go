package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/tenantform/tenantform/store"
)

// versionedGetter is *store.Store's read of a project that skips decoding
// the row when its watch version is the one the caller holds.
type versionedGetter interface {
	GetProjectUnlessVersion(ctx context.Context, key store.Key, known int64) (store.Project, int64, bool, error)
}

// maxCachedViewBytes bounds what viewCache holds, counted as the spec's
// files and variables, the status's outputs and messages (the parts that
// grow) and the JSON; when an answer would pass it, entries picked at
// random make room for it (so one tenant's large projects cannot empty
// everyone's). maxCachedViewEntry keeps one project's large upload from
// taking the room of many.
const (
	maxCachedViewBytes = 16 << 20
	maxCachedViewEntry = 256 << 10
)

// viewCache remembers the answer of a GET of a project (its view and its
// JSON, without the actual cost) with the project's watch version: a GET
// whose row still has that version answers with it instead of decoding
// the row's 37 columns and three JSON documents and encoding the view
// again, which was a third of a GET's CPU. The watch version changes with
// everything the view shows (see store.GetProjectUnlessVersion).
type viewCache struct {
	mu      sync.Mutex
	entries map[store.Key]cachedView
	bytes   int
}

type cachedView struct {
	version int64
	view    projectView
	// body is view's JSON as writeJSON writes it (see encodeView).
	body []byte
	size int
}

// get returns the remembered view of k.
func (c *viewCache) get(k store.Key) (cachedView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e, ok
}

// put remembers v and its JSON body, of watch version version, for k.
// The view's maps and slices and the body are shared by every GET that
// answers with them: they are only read, never changed.
func (c *viewCache) put(k store.Key, version int64, v projectView, body []byte) {
	size := viewSize(v) + len(body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[store.Key]cachedView)
	}
	if old, ok := c.entries[k]; ok {
		if version < old.version {
			// Watch versions only grow: a smaller one means the
			// database was restored or replaced under this server,
			// and no remembered answer can be trusted any more.
			clear(c.entries)
			c.bytes = 0
		} else {
			delete(c.entries, k)
			c.bytes -= old.size
		}
	}
	if size > maxCachedViewEntry {
		return
	}
	for other, e := range c.entries { // map order: a random pick
		if c.bytes+size <= maxCachedViewBytes {
			break
		}
		delete(c.entries, other)
		c.bytes -= e.size
	}
	c.entries[k] = cachedView{version: version, view: v, body: body, size: size}
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

// encodeView is v's JSON exactly as writeJSON writes it, or nil.
func encodeView(v projectView) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return nil
	}
	return bytes.Clone(buf.Bytes()) // remembered: without the buffer's spare room
}

// viewEnd is how the JSON of a view without actualMonthToDateUSD ends:
// the status object (whose last field that is) and the view's, and
// Encode's newline.
const viewEnd = "}}\n"

// withActualCost is body, a view's JSON without the actual cost, with
// status.actualMonthToDateUSD set to usd: the bytes encoding/json writes
// for the view with it, since it is status's last field and status is the
// view's. ok is false when body does not end as such a view does or usd
// has no JSON (NaN, ±Inf); encode the view then.
func withActualCost(body []byte, usd float64) ([]byte, bool) {
	if !bytes.HasSuffix(body, []byte(viewEnd)) {
		return nil, false
	}
	n, err := json.Marshal(usd)
	if err != nil {
		return nil, false
	}
	out := make([]byte, 0, len(body)+len(n)+32)
	out = append(out, body[:len(body)-len(viewEnd)]...)
	out = append(out, `,"actualMonthToDateUSD":`...)
	out = append(out, n...)
	return append(out, viewEnd...), true
}

// writeViewBody answers 200 with a view's JSON body, as writeView would.
func writeViewBody(w http.ResponseWriter, generation int64, body []byte) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(generation, 10)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
