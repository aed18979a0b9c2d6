package tf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// backendPID runs one withStateConn and returns the backend process that
// served it.
func backendPID(t *testing.T, e *Engine) int {
	t.Helper()
	var pid int
	err := e.withStateConn(context.Background(), func(conn *pgx.Conn, _ string) error {
		return conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// Uses of the backend share a kept connection until it has been idle for
// stateConnMaxIdle; one that failed with a database error is not kept;
// and a kept connection the server ended meanwhile is replaced without the
// caller seeing an error.
func TestStateConnectionsAreKeptAndReplaced(t *testing.T) {
	t.Parallel()
	db := newTestDatabase(t)
	e := newTestEngine(t, db)
	now := time.Now()
	e.stateConns.now = func() time.Time { return now }

	first := backendPID(t, e)
	if again := backendPID(t, e); again != first {
		t.Errorf("second use served by backend %d, want the kept %d", again, first)
	}

	now = now.Add(stateConnMaxIdle)
	aged := backendPID(t, e)
	if aged == first {
		t.Errorf("a connection idle for %s was used again (backend %d)", stateConnMaxIdle, first)
	}

	err := e.withStateConn(context.Background(), func(conn *pgx.Conn, _ string) error {
		_, err := conn.Exec(context.Background(), "SELECT 1/0")
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("division by zero: %v, want the database's error", err)
	}
	if next := backendPID(t, e); next == aged {
		t.Errorf("the connection of a failed use was kept (backend %d)", aged)
	}

	// The server ends the kept connection (a restart, a cut while idle).
	kept := backendPID(t, e)
	admin, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", kept); err != nil {
		t.Fatal(err)
	}
	// pg_terminate_backend only signals: wait until the backend is gone,
	// so that the next use meets a dead connection whatever the load.
	ctx := testContext(t)
	for gone := false; !gone; time.Sleep(5 * time.Millisecond) {
		if err := admin.QueryRow(ctx, "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", kept).Scan(&gone); err != nil {
			t.Fatalf("waiting for backend %d to end: %v", kept, err)
		}
	}
	if replaced := backendPID(t, e); replaced == kept {
		t.Errorf("backend %d was terminated but served again", kept)
	}
}
