package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// countingFeed is the store's change feed, counting the hub's queries.
type countingFeed struct {
	ChangeFeed
	queries atomic.Int64
}

func (f *countingFeed) ProjectChangesSince(ctx context.Context, since int64, userID string, limit int) ([]store.ProjectChange, error) {
	f.queries.Add(1)
	return f.ChangeFeed.ProjectChangesSince(ctx, since, userID, limit)
}

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct {
	ID, Event string
	Data      struct {
		Type   string `json:"type"`
		Object struct {
			UserID     string `json:"userId"`
			ProjectID  string `json:"projectId"`
			Generation int64  `json:"generation"`
			Status     struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"object"`
	}
}

// openWatch starts a stream and returns its events until the test ends.
func openWatch(t *testing.T, e *env, path, token string, header ...string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			}
		}
	}()
	return out, resp
}

// next waits for the stream's next event other than SYNC.
func next(t *testing.T, events <-chan sseEvent, what string) sseEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			if ev.Event == "SYNC" {
				continue
			}
			return ev
		case <-timeout:
			t.Fatalf("%s: no event within 30 s", what)
		}
	}
}

// TestWatchStreamsChanges: a watch starts with the current state, then
// streams each change (spec, deletion) to the streams that watch it, and
// a reconnect with Last-Event-ID gets what it missed.
func TestWatchStreamsChanges(t *testing.T) {
	t.Parallel()
	feed := &countingFeed{}
	e := newEnv(t, func(c *Config) { c.Changes = feed; c.WatchPollInterval = time.Hour })
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)

	list, _ := openWatch(t, e, "/api/v1/users/alice/projects?watch=true", alice)
	one, _ := openWatch(t, e, projectPathAliceDemo+"?watch=true", alice)
	if ev := next(t, list, "list snapshot"); ev.Event != "ADDED" || ev.Data.Object.ProjectID != "demo" {
		t.Fatalf("the list watch starts with %+v, want demo ADDED", ev)
	}
	if ev := next(t, one, "project snapshot"); ev.Event != "ADDED" || ev.Data.Object.Generation != 1 {
		t.Fatalf("the project watch starts with %+v", ev)
	}

	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusOK)
	ev := next(t, one, "spec change")
	if ev.Event != "MODIFIED" || ev.Data.Object.Generation != 2 {
		t.Fatalf("after a new spec the project watch got %+v", ev)
	}
	if ev := next(t, list, "spec change, list"); ev.Data.Object.Generation != 2 {
		t.Fatalf("after a new spec the list watch got %+v", ev)
	}
	lastSeen := ev.ID

	// Missed while disconnected: a new project and a deletion.
	e.do("PUT", "/api/v1/users/alice/projects/other", alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("DELETE", projectPathAliceDemo, alice, nil).wantStatus(t, http.StatusAccepted)
	resumed, _ := openWatch(t, e, "/api/v1/users/alice/projects?watch=true", alice, "Last-Event-ID", lastSeen)
	got := map[string]string{}
	for range 2 {
		ev := next(t, resumed, "resume")
		got[ev.Data.Object.ProjectID] = ev.Data.Object.Status.Phase
	}
	if got["other"] != "Pending" || got["demo"] != "Destroying" {
		t.Errorf("a resumed stream got %v, want other Pending and demo Destroying", got)
	}
	if ev := next(t, one, "deletion"); ev.Data.Object.Status.Phase != "Destroying" {
		t.Errorf("the project watch saw the deletion as %+v", ev)
	}

	// A watch is a stream of one user's projects: another user's 404s as
	// a GET would, and bad values are 400s.
	e.do("GET", "/api/v1/users/alice/projects?watch=maybe", alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
	e.do("GET", "/api/v1/users/alice/projects?watch=true&resourceVersion=x", alice, nil).wantError(t, http.StatusBadRequest, codeBadRequest)
	e.do("GET", "/api/v1/users/alice/projects/ghost?watch=true", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
}

// TestThousandWatchStreams: 1,000 streams stay open while projects change;
// every change reaches every stream that watches it, and the hub's
// queries do not grow with the number of streams (one per wake-up, not one
// per stream per change).
func TestThousandWatchStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 streams")
	}
	t.Parallel()
	feed := &countingFeed{}
	e := newEnv(t, func(c *Config) { c.Changes = feed; c.WatchPollInterval = time.Hour; c.RateLimitPerSecond = 0 })
	alice, bob := e.token("alice", false), e.token("bob", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/bob/projects/web", bob, spec(1)).wantStatus(t, http.StatusCreated)

	type stream struct {
		events <-chan sseEvent
		want   map[string]int64 // project → the generation it must reach
	}
	const streams = 1000
	all := make([]stream, streams)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s stream
			switch i % 3 {
			case 0:
				s.events, _ = openWatch(t, e, "/api/v1/users/alice/projects?watch=true", alice)
				s.want = map[string]int64{"demo": 3, "api": 2}
			case 1:
				s.events, _ = openWatch(t, e, projectPathAliceDemo+"?watch=true", alice)
				s.want = map[string]int64{"demo": 3}
			default:
				s.events, _ = openWatch(t, e, "/api/v1/users/bob/projects?watch=true", bob)
				s.want = map[string]int64{"web": 2}
			}
			mu.Lock()
			all[i] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	before := feed.queries.Load()

	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusOK)
	e.do("PUT", "/api/v1/users/alice/projects/api", alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", projectPathAliceDemo, alice, spec(3)).wantStatus(t, http.StatusOK)
	e.do("PUT", "/api/v1/users/bob/projects/web", bob, spec(2)).wantStatus(t, http.StatusOK)
	e.do("PUT", "/api/v1/users/alice/projects/api", alice, spec(2)).wantStatus(t, http.StatusOK)

	errs := make(chan error, streams)
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]int64{}
			deadline := time.After(60 * time.Second)
			for {
				done := true
				for p, g := range s.want {
					done = done && seen[p] >= g
				}
				if done {
					return
				}
				select {
				case ev, ok := <-s.events:
					if !ok {
						errs <- fmt.Errorf("stream %d ended having seen %v", i, seen)
						return
					}
					if _, wanted := s.want[ev.Data.Object.ProjectID]; ev.Event != "SYNC" && !wanted {
						errs <- fmt.Errorf("stream %d got another project's change: %+v", i, ev)
						return
					}
					seen[ev.Data.Object.ProjectID] = max(seen[ev.Data.Object.ProjectID], ev.Data.Object.Generation)
				case <-deadline:
					errs <- fmt.Errorf("stream %d saw %v, wants %v", i, seen, s.want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	queries := feed.queries.Load() - before
	t.Logf("%d streams, 5 changes: %d change queries", streams, queries)
	if queries > 20 {
		t.Errorf("the hub made %d change queries for 5 changes: it must not query per stream", queries)
	}
}
