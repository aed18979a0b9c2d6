package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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

type consoleVersionKey struct{}

// withConsoleVersion notes the watch version before a page reads what it
// shows: its stream then announces exactly the changes after it, so the
// page neither misses one made while it rendered nor re-fetches for
// nothing when it opens.
func (s *server) withConsoleVersion(ctx context.Context) context.Context {
	if s.cfg.Changes == nil {
		return ctx
	}
	v, err := s.cfg.Changes.WatchVersion(ctx)
	if err != nil {
		return ctx // the page then re-fetches once its stream opens
	}
	return context.WithValue(ctx, consoleVersionKey{}, v)
}

// consoleEventsPath is the stream of the page showing key (all projects
// when key is empty), from the version the page was rendered at, or ""
// when the server has no change feed.
func (s *server) consoleEventsPath(r *http.Request, c *call) string {
	if s.cfg.Changes == nil {
		return ""
	}
	path := consolePrefix + "/events"
	if c.key.ProjectID != "" {
		path += "/" + c.key.UserID + "/" + c.key.ProjectID
	}
	v, _ := r.Context().Value(consoleVersionKey{}).(int64)
	return path + "?since=" + strconv.FormatInt(v, 10)
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
		// The version the page shows (a reconnection: the last change it
		// was told of).
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if v, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
			since = v
		}
		ctx := r.Context()
		// An empty key watches every user's projects (the overview).
		wt := &watcher{key: c.key, events: make(chan watchEvent, watchBuffer), overflow: make(chan struct{})}
		from, err := s.hub.subscribe(ctx, wt)
		if err != nil {
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
		// "ready" tells the page it follows from now on; a change since
		// the page's version (anywhere: the hub does not say where) is
		// announced at once.
		if !write("event: ready\ndata: {}\n\n") {
			return
		}
		if from > since && !write(fmt.Sprintf("id: %d\nevent: change\ndata: {\"version\":%d}\n\n", from, from)) {
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
				if ev.version <= since || ev.version <= from && from > since {
					continue // announced already
				}
				if !write(fmt.Sprintf("id: %d\nevent: change\ndata: {\"version\":%d}\n\n", ev.version, ev.version)) {
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
