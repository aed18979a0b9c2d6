package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSlowDatabaseIs503: a request that waits on the database longer than
// DatabaseTimeout (here, on a row another session holds locked) is a 503
// with Retry-After, not a request hanging until the client gives up.
func TestSlowDatabaseIs503(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.DatabaseTimeout = time.Second })
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM projects WHERE user_id = 'alice' AND project_id = 'demo' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.do("PUT", projectPathAliceDemo, alice, spec(2))
	r.wantError(t, http.StatusServiceUnavailable, codeDatabaseUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the request took %s with a 1s database timeout", took)
	}
	tx.Rollback(ctx)
	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusOK)
}
