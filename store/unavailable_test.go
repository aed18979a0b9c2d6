package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantform/tenantform/store"
)

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", store.ErrNotFound, false},
		{"conflict", fmt.Errorf("%w: x", store.ErrConflict), false},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"invalid text", &pgconn.PgError{Code: "22021"}, false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"eof mid-query", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", pgconn.ErrConnClosed, true},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"plain", errors.New("boom"), false},
	} {
		if got := store.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestIsUnavailableOnRealFailures checks the errors the driver really
// returns: a server that refuses connections, and a closed pool.
func TestIsUnavailableOnRealFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = store.Open(ctx, "postgres://u:p@"+addr+"/db?sslmode=disable&connect_timeout=2", 1)
	if err == nil || !store.IsUnavailable(err) {
		t.Errorf("a refused connection: IsUnavailable(%v) = false", err)
	}

	s := openStore(t)
	s.Close()
	_, err = s.GetProject(ctx, store.Key{UserID: "a", ProjectID: "b"})
	if err == nil || !store.IsUnavailable(err) {
		t.Errorf("a closed pool: IsUnavailable(%v) = false", err)
	}
}
