package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantform/tenantform/metrics"
)

// The console's pages follow changes through the watch hub instead of
// polling: an open page holds one server-sent-event stream of "something
// you show changed" (the hub's notification-driven feed, scoped to the
// page's project, or every project for the overview) and re-fetches its
// live fragment when told. Without a change feed (Config.Changes nil) the
// pages poll every consoleRefresh as before.

// consoleSlowRefresh re-renders a followed page now and then all the same,
// for what changes with time alone (time left, expired).
const consoleSlowRefresh = time.Minute

// consoleEventsPath is the stream of the page showing key (all projects
// when key is empty), or "" when the server has no change feed.
func (s *server) consoleEventsPath(c *call) string {
	if s.cfg.Changes == nil {
		return ""
	}
	if c.key.ProjectID != "" {
		return consolePrefix + "/events/" + c.key.UserID + "/" + c.key.ProjectID
	}
	return consolePrefix + "/events"
}

// consoleEvents streams "change" events for the projects a page shows,
// with the session checked like a page's. The event carries no data: the
// page re-fetches its fragment, rendered and escaped by the server.
func (s *server) consoleEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{now: s.now()}
		who, err := s.consoleSession(r, c.now)
		if err != nil {
			http.Error(w, "session expired: log in again", http.StatusUnauthorized)
			return
		}
		infoFrom(r.Context()).userID = who.userID
		metrics.SetUser(r.Context(), who.userID)
		c.caller = who
		if err := s.limiters.allow(who.userID, c.now); err != nil {
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		if err := scope(c, mux.Vars(r)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s.cfg.Changes == nil {
			http.Error(w, "this server has no change feed; the page polls", http.StatusNotImplemented)
			return
		}
		ctx := r.Context()
		// An empty key watches every user's projects (the overview).
		wt := &watcher{key: c.key, events: make(chan watchEvent, watchBuffer), overflow: make(chan struct{})}
		if _, err := s.hub.subscribe(ctx, wt); err != nil {
			http.Error(w, "cannot follow changes now", http.StatusServiceUnavailable)
			return
		}
		defer s.hub.unsubscribe(wt)
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		write := func(s string) bool {
			rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, s); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		// "ready" tells the page it follows from now on: it re-fetches
		// once, for what changed before the stream opened.
		if !write("event: ready\ndata: {}\n\n") {
			return
		}
		beat := time.NewTicker(watchHeartbeat)
		defer beat.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wt.overflow:
				return // the browser reconnects, and re-fetches on ready
			case ev := <-wt.events:
				if !write(fmt.Sprintf("event: change\ndata: {\"version\":%d}\n\n", ev.version)) {
					return
				}
			case <-beat.C:
				if !write(": keep-alive\n\n") {
					return
				}
			}
		}
	})
}
