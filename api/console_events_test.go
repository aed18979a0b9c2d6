package api

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsoleEventsFollowTheWatchHub: with a change feed, a page names its
// change stream and polls only once a minute; the stream needs the
// session, says "ready", then "change" for a write to a project the page
// shows — the overview's stream for any user's project, a project page's
// for its own project only.
func TestConsoleEventsFollowTheWatchHub(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // no change feed: the pages poll
	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true))
	c.do("GET", "/console", nil).want(t, http.StatusOK, `data-refresh="2000" data-events=""`)

	e = newEnv(t, func(c *Config) { c.Changes, c.WatchPollInterval = &countingFeed{}, time.Hour }) // notifications alone
	c = &consoleClient{t: t, e: e}
	// Without a session the stream is refused (the page then polls and
	// is sent to the login form).
	c.do("GET", "/console/events", nil).want(t, http.StatusUnauthorized)
	c.login(e.token("root", true))
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	page := c.do("GET", "/console", nil)
	page.want(t, http.StatusOK, `data-refresh="60000" data-events="/console/events?since=`)
	overviewEvents := dataEvents(t, page.body)
	page = c.do("GET", "/console/projects/alice/demo", nil)
	page.want(t, http.StatusOK, `data-events="/console/events/alice/demo?since=`)
	demoEvents := dataEvents(t, page.body)

	// A stream from the page's version: nothing changed since, so only
	// "ready"; then a change on every write the page shows.
	overview := c.stream(t, overviewEvents)
	demo := c.stream(t, demoEvents)
	overview.next(t, "ready")
	demo.next(t, "ready")
	e.do("PUT", "/api/v1/users/bob/projects/web", e.token("bob", false), spec(1)).wantStatus(t, http.StatusCreated)
	overview.next(t, "change") // bob's project is on the overview...
	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusOK)
	aliceChange := overview.next(t, "change")
	// ...and only alice/demo's change on its page: the first change its
	// stream carries is alice's write (by its version), not bob's.
	if got := demo.next(t, "change"); got != aliceChange {
		t.Errorf("alice/demo's stream carried change %s first, want alice's write, %s", got, aliceChange)
	}
	// A page rendered before a change hears of it as soon as its stream
	// opens.
	stale := c.stream(t, demoEvents)
	stale.next(t, "ready")
	stale.next(t, "change")
	select {
	case ev := <-demo.events:
		t.Errorf("alice/demo's stream got a second event %q", ev.name)
	default:
	}
}

// dataEvents is the change stream a console page names.
func dataEvents(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`data-events="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page names no change stream:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// consoleStream carries each event's name and id (the change's version).
type consoleStream struct{ events chan consoleEvent }

type consoleEvent struct{ name, id string }

// stream opens a console event stream with the session and returns its
// event names as they come.
func (c *consoleClient) stream(t *testing.T, path string) consoleStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.e.srv.URL+path, nil)
	req.AddCookie(c.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := consoleStream{events: make(chan consoleEvent, 16)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var id string
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				id = v
			}
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				s.events <- consoleEvent{name: name, id: id}
				id = ""
			}
		}
	}()
	return s
}

// next waits for the next event, which must be want, and returns its id.
func (s consoleStream) next(t *testing.T, want string) string {
	t.Helper()
	select {
	case got := <-s.events:
		if got.name != want {
			t.Fatalf("event %q, want %q", got.name, want)
		}
		return got.id
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q event within 30 s", want)
	}
	return ""
}
