package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// The watch API, as Kubernetes has one: GET …/projects?watch=true and
// GET …/projects/{id}?watch=true stream changes as server-sent events
// (text/event-stream). Each event names its watch version (the SSE id); a
// client that reconnects with Last-Event-ID (or ?resourceVersion=) gets
// what it missed, and one that starts fresh gets the current state first.
//
// One hub per server finds what changed with one query per wake-up
// (a NOTIFY on store.WatchChannel, or the poll interval when notifications
// cannot be had, as behind a transaction pooler) and fans each change out
// to every stream that watches it: a thousand open streams cost the
// database nothing more than one.

// ChangeFeed is the slice of the store the watch hub reads.
type ChangeFeed interface {
	ProjectChangesSince(ctx context.Context, since int64, userID string, limit int) ([]store.ProjectChange, error)
	WatchVersion(ctx context.Context) (int64, error)
	// ListenChanges calls onNotify on every announced change until ctx
	// ends; nil when the connection cannot LISTEN (transaction pooling).
	ListenChanges(ctx context.Context, onConnect, onNotify func(), onError func(error))
}

const (
	// watchBatch is how many changes one hub query reads.
	watchBatch = 500
	// watchBuffer is how many events a stream may fall behind before it is
	// ended (the client reconnects with Last-Event-ID and catches up).
	watchBuffer = 256
	// watchHeartbeat keeps idle streams open through proxies (Heroku's
	// router closes a connection silent for 55 s).
	watchHeartbeat = 15 * time.Second
	// defaultWatchPoll is how often the hub looks for changes when no
	// notification woke it.
	defaultWatchPoll = 2 * time.Second
)

// watchEvent is one change as streamed.
type watchEvent struct {
	version int64
	key     store.Key
	// data is the event's JSON: {"type": …, "object": …}.
	data []byte
	typ  string
}

// watcher is one open stream: all of a user's projects (key.ProjectID
// empty) or one project.
type watcher struct {
	key    store.Key
	events chan watchEvent
	// overflow is closed when the stream fell too far behind.
	overflow chan struct{}
	once     sync.Once
}

func (w *watcher) wants(k store.Key) bool {
	// An empty user is every user's projects (the console's overview).
	return (w.key.UserID == "" || w.key.UserID == k.UserID) && (w.key.ProjectID == "" || w.key.ProjectID == k.ProjectID)
}

// watchHub runs while at least one stream is open.
type watchHub struct {
	feed     ChangeFeed
	poll     time.Duration
	log      *zap.Logger
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	stop     context.CancelFunc
	done     chan struct{}
	// version is the newest version the hub has delivered (or started at).
	version int64
	// queries counts ProjectChangesSince calls, for the tests.
	queries int64
}

// subscribe registers w and starts the hub with the first stream. It
// returns the version from which the hub delivers to w.
func (h *watchHub) subscribe(ctx context.Context, w *watcher) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers == nil {
		h.watchers = map[*watcher]struct{}{}
	}
	if len(h.watchers) == 0 {
		v, err := h.feed.WatchVersion(ctx)
		if err != nil {
			return 0, err
		}
		h.version = v
		hctx, cancel := context.WithCancel(context.Background())
		h.stop, h.done = cancel, make(chan struct{})
		go h.run(hctx, h.done)
	}
	h.watchers[w] = struct{}{}
	return h.version, nil
}

// unsubscribe removes w and stops the hub with the last stream.
func (h *watchHub) unsubscribe(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	var stop context.CancelFunc
	var done chan struct{}
	if len(h.watchers) == 0 && h.stop != nil {
		stop, done = h.stop, h.done
		h.stop, h.done = nil, nil
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (h *watchHub) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		h.feed.ListenChanges(ctx, notify, notify, func(err error) {
			h.log.Debug("watch: notifications lost; polling until they are back", zap.Error(err))
		})
	}()
	defer func() { <-listenDone }()
	tick := time.NewTicker(h.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
		for h.deliver(ctx) == watchBatch {
		}
	}
}

// deliver reads the changes after the hub's version and hands each to the
// streams that watch it; it returns how many it read.
func (h *watchHub) deliver(ctx context.Context) int {
	h.mu.Lock()
	since := h.version
	h.queries++
	h.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, defaultDatabaseTimeout)
	changes, err := h.feed.ProjectChangesSince(qctx, since, "", watchBatch)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("watch: cannot read project changes", zap.Error(err))
		}
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range changes {
		ev := changeEvent(c)
		for w := range h.watchers {
			if !w.wants(c.Key) {
				continue
			}
			select {
			case w.events <- ev:
			default:
				w.once.Do(func() { close(w.overflow) })
			}
		}
		h.version = max(h.version, c.Version)
	}
	return len(changes)
}

// changeEvent is the event of one change: MODIFIED (or ADDED, for a project
// whose generation is 1 and that no reconciler has touched) with the
// project as GET shows it, or DELETED with its tombstone.
func changeEvent(c store.ProjectChange) watchEvent {
	ev := watchEvent{version: c.Version, key: c.Key, typ: "MODIFIED"}
	var object any
	switch {
	case c.Deleted:
		ev.typ = "DELETED"
		object = c.Tombstone
	default:
		object = view(c.Project)
	}
	ev.data, _ = json.Marshal(map[string]any{"type": ev.typ, "object": object})
	return ev
}

// watchRequested reads ?watch= (true or false) and the version to resume
// from (Last-Event-ID, or ?resourceVersion=).
func watchRequested(r *http.Request, q map[string]string) (watch bool, since int64, err error) {
	switch q["watch"] {
	case "", "false":
		return false, 0, nil
	case "true":
	default:
		return false, 0, badRequest("query parameter watch must be true or false, not %q", q["watch"])
	}
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		raw = q["resourceVersion"]
	}
	if raw != "" {
		since, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || since < 0 {
			return false, 0, badRequest("the version to resume from (Last-Event-ID or resourceVersion) %q must be a watch version from an earlier event", raw)
		}
	}
	return true, since, nil
}

// serveWatch streams the changes of key (one project, or all of a user's
// when key.ProjectID is empty) until the client goes away, the server
// stops, or the stream falls too far behind (the client then reconnects
// with Last-Event-ID).
func (s *server) serveWatch(w http.ResponseWriter, r *http.Request, key store.Key, since int64) error {
	if s.cfg.Changes == nil {
		return newError(http.StatusNotImplemented, codeInternal, "watching is not available on this server; poll GET instead")
	}
	ctx := r.Context()
	wt := &watcher{key: key, events: make(chan watchEvent, watchBuffer), overflow: make(chan struct{})}
	from, err := s.hub.subscribe(ctx, wt)
	if err != nil {
		return err
	}
	defer s.hub.unsubscribe(wt)

	// What the client has not seen yet: changes after its version, or the
	// current state for a fresh stream. Events the hub delivers meanwhile
	// may repeat one of these; a watcher applies the newest state anyway.
	var initial []watchEvent
	if since > 0 {
		changes, err := s.cfg.Changes.ProjectChangesSince(ctx, since, key.UserID, watchBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			if key.ProjectID == "" || c.Key == key {
				initial = append(initial, changeEvent(c))
			}
		}
	} else {
		projects, err := s.currentProjects(ctx, key)
		if err != nil {
			return err
		}
		for _, p := range projects {
			ev := watchEvent{version: from, key: p.Key, typ: "ADDED"}
			ev.data, _ = json.Marshal(map[string]any{"type": "ADDED", "object": view(p)})
			initial = append(initial, ev)
		}
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(ev watchEvent) error {
		// Each write gets its own deadline: the server's WriteTimeout would
		// otherwise end every stream after a minute.
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.version, ev.typ, ev.data); err != nil {
			return err
		}
		return rc.Flush()
	}
	// A fresh stream says which version its snapshot stands at, so a
	// reconnect resumes from there even before any change.
	if _, err := fmt.Fprintf(w, "id: %d\nevent: SYNC\ndata: {\"type\":\"SYNC\",\"resourceVersion\":%d}\n\n", from, from); err != nil {
		return nil
	}
	for _, ev := range initial {
		if send(ev) != nil {
			return nil
		}
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	beat := time.NewTicker(watchHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wt.overflow:
			fmt.Fprintf(w, "event: ERROR\ndata: {\"type\":\"ERROR\",\"message\":\"the stream fell behind; reconnect with Last-Event-ID\"}\n\n")
			rc.Flush()
			return nil
		case ev := <-wt.events:
			if ev.version <= since {
				continue
			}
			if send(ev) != nil {
				return nil
			}
		case <-beat.C:
			rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

// currentProjects is the snapshot a fresh stream starts with.
func (s *server) currentProjects(ctx context.Context, key store.Key) ([]store.Project, error) {
	if key.ProjectID != "" {
		p, err := s.st.GetProject(ctx, key)
		if err != nil {
			return nil, fromStore(err, msgProjectNotFound)
		}
		return []store.Project{p}, nil
	}
	var out []store.Project
	after := ""
	for {
		page, next, err := s.st.ListProjects(ctx, store.ListOptions{UserID: key.UserID, Limit: maxListLimit, After: after})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// isWatch says the request asks for a stream, so its handler runs without
// the per-request database deadline.
func isWatch(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.URL.Query().Get("watch"), "true")
}
