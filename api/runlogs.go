package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// A run's live log: GET …/runs/{runId}/log?offset=N reads what terraform
// printed from byte N on, while the run runs or after; with ?watch=true it
// follows the run as server-sent events until the run ends (kubectl logs
// -f). The reconciler appends the redacted output in chunks; a chunk
// appended, or the run finishing, is announced by a database notification
// naming the run, and only that run's followers read again: an idle
// follower costs the database nothing, a busy one at most a query per
// chunk (one a second per running run).

// RunLogFeed is the slice of the store that serves live logs. It is
// optional: *store.Store has it; a Store without it answers 501.
type RunLogFeed interface {
	RunLogSince(ctx context.Context, rowID, offset int64, limit int) (store.RunLog, error)
	ListenRunLogs(ctx context.Context, onConnect func(), onNotify func(rowID int64), onError func(error))
}

const (
	// runLogSafetyPolls: with notifications arriving, followers are
	// polled every this many poll intervals only (see logHub.run).
	runLogSafetyPolls = 10
	// runLogChunks is how many chunks one read returns.
	runLogChunks = 64
	// maxRunLogBytes bounds one answer of the non-streaming read; the
	// caller asks again from nextOffset.
	maxRunLogBytes = 1 << 20
)

// runLogPage is the answer of GET …/log without watch.
type runLogPage struct {
	// Offset is where Text starts in the run's log; NextOffset where the
	// next read starts.
	Offset     int64  `json:"offset"`
	NextOffset int64  `json:"nextOffset"`
	Text       string `json:"text"`
	// Finished: the run has ended and NextOffset is the end of its log
	// once More is false.
	Finished bool   `json:"finished"`
	More     bool   `json:"more"`
	Outcome  string `json:"outcome"`
}

// logFollower is one open log stream.
type logFollower struct {
	rowID int64
	wake  chan struct{}
}

func (f *logFollower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// logHub holds the one LISTEN connection of this server's log streams while
// at least one is open, and wakes the followers of the run a notification
// names (all of them after a reconnection, or every poll interval when
// notifications cannot be had, as behind a transaction pooler).
type logHub struct {
	feed      RunLogFeed
	poll      time.Duration
	log       *zap.Logger
	mu        sync.Mutex
	followers map[int64]map[*logFollower]struct{}
	n         int
	stop      context.CancelFunc
	done      chan struct{}
	// ticks replaces the poll ticker (tests drive the polls).
	ticks <-chan time.Time
}

func (h *logHub) subscribe(f *logFollower) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.followers == nil {
		h.followers = map[int64]map[*logFollower]struct{}{}
	}
	if h.followers[f.rowID] == nil {
		h.followers[f.rowID] = map[*logFollower]struct{}{}
	}
	h.followers[f.rowID][f] = struct{}{}
	h.n++
	if h.n == 1 {
		ctx, cancel := context.WithCancel(context.Background())
		h.stop, h.done = cancel, make(chan struct{})
		go h.run(ctx, h.done)
	}
}

func (h *logHub) unsubscribe(f *logFollower) {
	h.mu.Lock()
	delete(h.followers[f.rowID], f)
	if len(h.followers[f.rowID]) == 0 {
		delete(h.followers, f.rowID)
	}
	h.n--
	var stop context.CancelFunc
	var done chan struct{}
	if h.n == 0 && h.stop != nil {
		stop, done = h.stop, h.done
		h.stop, h.done = nil, nil
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// wakeRun wakes the followers of one run, or of all runs when rowID is 0.
func (h *logHub) wakeRun(rowID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, fs := range h.followers {
		if rowID == 0 || id == rowID {
			for f := range fs {
				f.poke()
			}
		}
	}
}

func (h *logHub) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	// Polling wakes every follower, a query each. It is what delivers
	// while notifications are not known to arrive: until the first one
	// since the listener (re)connected (behind a transaction pooler LISTEN
	// succeeds and nothing ever comes), and after an error. Once one has
	// arrived, only every runLogSafetyPolls-th tick polls, against one
	// lost in the meantime.
	var proven atomic.Bool
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		h.feed.ListenRunLogs(ctx, func() { proven.Store(false); h.wakeRun(0) },
			func(rowID int64) { proven.Store(true); h.wakeRun(rowID) },
			func(err error) {
				proven.Store(false)
				h.log.Debug("run logs: notifications lost; polling until they are back", zap.Error(err))
			})
	}()
	defer func() { <-listening }()
	ticks := h.ticks
	if ticks == nil {
		tick := time.NewTicker(h.poll)
		defer tick.Stop()
		ticks = tick.C
	}
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if !proven.Load() || n%runLogSafetyPolls == 0 {
				h.wakeRun(0)
			}
		}
	}
}

// getRunLog serves a run's live log, read once or followed.
func (s *server) getRunLog(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := queryParams(r.URL.Query(), "offset", "watch")
	if err != nil {
		return err
	}
	raw := mux.Vars(r)["runId"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return badRequest("path parameter runId %q must be a positive integer", raw)
	}
	feed, ok := s.st.(RunLogFeed)
	if !ok {
		return newError(http.StatusNotImplemented, codeInternal, "this server keeps no live logs; GET the run for its log tail")
	}
	var offset int64
	if v := q["offset"]; v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			return badRequest("query parameter offset %q must be a byte offset (0 or more) from an earlier nextOffset", v)
		}
	}
	var watch bool
	switch q["watch"] {
	case "", "false":
	case "true":
		watch = true
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
				return badRequest("Last-Event-ID %q must be the id of an earlier log event (a byte offset)", v)
			}
		}
	default:
		return badRequest("query parameter watch must be true or false, not %q", q["watch"])
	}
	run, err := s.st.GetRun(r.Context(), c.key, id)
	if err != nil {
		return fromStore(err, msgRunNotFound)
	}
	if !watch {
		qctx, cancel := context.WithTimeout(r.Context(), s.cfg.DatabaseTimeout)
		defer cancel()
		l, err := feed.RunLogSince(qctx, run.RowID, offset, runLogChunks)
		if err != nil {
			return err
		}
		page := runLogPage{Offset: offset, NextOffset: offset, Finished: l.Finished, More: l.More, Outcome: l.Outcome}
		var b strings.Builder
		for _, ch := range l.Chunks {
			if b.Len()+len(ch.Text) > maxRunLogBytes && b.Len() > 0 {
				page.More = true
				break
			}
			b.WriteString(ch.Text)
			page.NextOffset = ch.End()
		}
		page.Text = b.String()
		s.writeJSON(w, r, http.StatusOK, page)
		return nil
	}
	return s.followRunLog(w, r, feed, run.RowID, offset)
}

// followRunLog streams the log from offset: LOG events (id: the offset
// after the event, for Last-Event-ID) until the run ends, then one END
// event with the run's outcome, and the stream closes.
func (s *server) followRunLog(w http.ResponseWriter, r *http.Request, feed RunLogFeed, rowID, offset int64) error {
	ctx := r.Context()
	f := &logFollower{rowID: rowID, wake: make(chan struct{}, 1)}
	// Subscribed before the first read: nothing appended after that read
	// can go unnoticed.
	s.logs.subscribe(f)
	defer s.logs.unsubscribe(f)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, args ...any) error {
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write(": following\n\n") != nil {
		return nil
	}
	beat := time.NewTicker(watchHeartbeat)
	defer beat.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.DatabaseTimeout)
		l, err := feed.RunLogSince(qctx, rowID, offset, runLogChunks)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The headers are sent: say so in the stream, and let the
			// client resume from its offset.
			s.cfg.Logger.Warn("run logs: cannot read", zap.Int64("run_row", rowID), zap.Error(err))
			write("event: ERROR\ndata: {\"type\":\"ERROR\",\"message\":\"cannot read the log; reconnect with Last-Event-ID\"}\n\n")
			return nil
		}
		for _, ch := range l.Chunks {
			data, _ := json.Marshal(map[string]any{"type": "LOG", "offset": ch.Offset, "text": ch.Text})
			if write("id: %d\nevent: LOG\ndata: %s\n\n", ch.End(), data) != nil {
				return nil
			}
			offset = ch.End()
		}
		if l.More {
			continue
		}
		if l.Finished {
			data, _ := json.Marshal(map[string]any{"type": "END", "outcome": l.Outcome, "error": l.Error})
			write("id: %d\nevent: END\ndata: %s\n\n", offset, data)
			return nil
		}
		if !waitForWake(ctx, f, beat.C, func() error { return write(": keep-alive\n\n") }) {
			return nil
		}
	}
}

// waitForWake waits for f's next wake-up, sending keep-alives meanwhile;
// false when the client went away.
func waitForWake(ctx context.Context, f *logFollower, beat <-chan time.Time, keepAlive func() error) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-f.wake:
			return true
		case <-beat:
			if keepAlive() != nil {
				return false
			}
		}
	}
}
