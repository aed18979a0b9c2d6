//go:build e2e

package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/localpg"
)

// TestDatabaseOutageIs503NeverA500 stops a real PostgreSQL in the middle
// of a stream of writes and reads, and starts it again. While it is down
// every answer is a JSON 503 with Retry-After (never a 500), /readyz says
// the database is unreachable, and once it is back writes succeed again
// through the same pool.
func TestDatabaseOutageIs503NeverA500(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts a PostgreSQL server of its own")
	}
	t.Parallel()
	ctx := context.Background()
	// Its own server (not storetest's shared one), since it is stopped.
	dir, err := os.MkdirTemp("", "tenantform-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := localpg.Options{DataDir: dir, Throwaway: true, Database: "tenantform"}
	pg, err := localpg.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	st, err := store.Open(ctx, pg.URL, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: t0}
	srv := httptest.NewServer(New(testConfig(c), st))
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv, clock: c}
	alice := e.token("alice", false)

	// step sends one request of a mixed stream and checks its answer: a
	// success or a proper 503, nothing else. It reports whether the
	// request succeeded.
	n := 0
	step := func() bool {
		t.Helper()
		n++
		p := fmt.Sprintf("/api/v1/users/alice/projects/p%d", n%4)
		var r result
		switch n % 6 {
		case 0, 1, 2:
			r = e.do("PUT", p, alice, spec(n))
		case 3:
			r = e.do("POST", p+"/extend", alice, `{"ttlMinutes": 30}`)
		case 4:
			r = e.do("GET", "/api/v1/users/alice/projects", alice, nil)
		case 5:
			d := fmt.Sprintf("/api/v1/users/alice/projects/d%d", n)
			if r = e.do("PUT", d, alice, spec(n)); r.status < 300 {
				r = e.do("DELETE", d, alice, nil)
			}
		}
		switch r.status {
		case http.StatusOK, http.StatusCreated, http.StatusAccepted:
			return true
		case http.StatusNotFound: // an extend before its project was ever created
			return false
		case http.StatusServiceUnavailable:
			r.wantError(t, http.StatusServiceUnavailable, codeDatabaseUnavailable)
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %s", r.body)
			}
			return false
		}
		t.Fatalf("request %d answered %d during the outage test: %s", n, r.status, r.body)
		return false
	}

	for range 30 {
		step()
	}
	ok := 0
	for range 12 {
		if step() {
			ok++
		}
	}
	if ok < 10 {
		t.Fatalf("only %d of 12 requests succeeded before the outage", ok)
	}

	// Stop the server while requests are in flight.
	stopped := make(chan struct{})
	go func() {
		pg.Stop()
		close(stopped)
	}()
	for done := false; !done; {
		step()
		select {
		case <-stopped:
			done = true
		default:
		}
	}
	for range 30 {
		if step() {
			t.Fatalf("request %d succeeded with the database stopped", n)
		}
	}
	// Every route that needs the database says so, whichever it is.
	root := e.token("root", true)
	bodies := map[string]any{
		"POST /api/v1/users/{userId}/projects/{projectId}/plan":    spec(1),
		"PUT /api/v1/users/{userId}/projects/{projectId}":          spec(1),
		"POST /api/v1/users/{userId}/projects/{projectId}/extend":  `{"ttlMinutes": 5}`,
		"POST /api/v1/users/{userId}/projects/{projectId}/approve": `{"generation": 1}`,
		"PUT /api/v1/users/{userId}/quota":                         `{"maxResources": 5}`,
	}
	for _, rt := range (&server{}).routes() {
		if rt.access == public || rt.path == "/api/v1/orphans" { // the orphan list needs AWS, not the database
			continue
		}
		path := strings.NewReplacer("{userId}", "alice", "{projectId}", "p1", "{runId}", "1", "{planId}", "1").Replace(rt.path)
		r := e.do(rt.method, path, root, bodies[rt.method+" "+rt.path])
		r.wantError(t, http.StatusServiceUnavailable, codeDatabaseUnavailable)
	}
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
	got := e.do("GET", "/readyz", "", nil).wantError(t, http.StatusServiceUnavailable, codeNotReady)
	if got.Error.Message != "not ready: database unreachable" {
		t.Errorf("readyz during the outage says %q", got.Error.Message)
	}

	// Start it again (same data directory, same port) while requests
	// keep coming; they succeed again through the same pool.
	restarted := make(chan error, 1)
	go func() {
		var err error
		pg, err = localpg.Start(ctx, opts)
		restarted <- err
	}()
	deadline := time.Now().Add(60 * time.Second)
	for done := false; !done; {
		step()
		select {
		case err := <-restarted:
			if err != nil {
				t.Fatalf("cannot restart PostgreSQL: %v", err)
			}
			done = true
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL did not restart within 60 s")
		}
	}
	ok = 0
	for i := 0; ok < 12; i++ {
		if step() {
			ok++
		}
		if i > 500 {
			t.Fatalf("only %d requests succeeded in 500 after the restart", ok)
		}
	}
	e.do("GET", "/readyz", "", nil).wantStatus(t, http.StatusOK)
	t.Logf("%d requests in all", n)
}
