//go:build e2e

package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/localpg"
)

// TestConsoleDuringDatabaseOutage: with the database down the console
// answers 503 (the script keeps the last content and says so), never 500,
// and shows nothing of the driver's error.
func TestConsoleDuringDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL server of its own")
	}
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tenantform-console-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg, err := localpg.Start(ctx, localpg.Options{DataDir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	st, err := store.Open(ctx, pg.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	srv := httptest.NewServer(New(testConfig(clk), st))
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv, clock: clk}
	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true))
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusOK, "No projects yet.")

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console?fragment=1", "/console", "/console/projects/alice/demo"} {
		got := c.do("GET", path, nil)
		got.want(t, http.StatusServiceUnavailable, "HTTP 503")
		if strings.Contains(got.body, "127.0.0.1") || strings.Contains(got.body, "SQLSTATE") || strings.Contains(got.body, "dial") {
			t.Errorf("GET %s during the outage shows the driver's error:\n%s", path, got.body)
		}
	}
}
