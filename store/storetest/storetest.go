// Package storetest gives each test its own empty PostgreSQL database.
//
// With TENANTFORM_TEST_DATABASE_URL set, databases are created on that
// server. Otherwise one throwaway server per test binary is started through
// store/localpg, the launcher dev mode uses, and removed when Main returns.
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantform/tenantform/store/localpg"
)

// EnvURL names a server to use instead of a throwaway one. Its user must be
// allowed to create databases.
const EnvURL = "TENANTFORM_TEST_DATABASE_URL"

var (
	once     sync.Once
	adminURL string
	server   *localpg.Server
	dataDir  string
	startErr error
	counter  atomic.Int64
)

// Main runs the package's tests, stops the throwaway server, if one was
// started, and then fails the run if the tests left goroutines behind (a
// reconciler, listener or pool that was never stopped). Call it from
// TestMain. ignore lets a package's tests accept goroutines that are not
// theirs, such as those an emulator library starts at init
// (goleak.IgnoreCurrent()).
func Main(m *testing.M, ignore ...goleak.Option) {
	code := m.Run()
	if server != nil {
		server.Stop()
		os.RemoveAll(dataDir)
	}
	if code == 0 {
		if err := goleak.Find(ignore...); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func start() {
	if u := os.Getenv(EnvURL); u != "" {
		adminURL = u
		return
	}
	removeStaleDirs()
	dataDir, startErr = os.MkdirTemp("", "tenantform-test-pg-")
	if startErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, startErr = localpg.Start(ctx, localpg.Options{DataDir: dataDir, Throwaway: true, Database: "postgres"})
	if startErr == nil {
		adminURL = server.AdminURL
	}
}

// removeStaleDirs deletes the data directories of earlier test binaries that
// were killed before they could clean up.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "tenantform-test-pg-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pg", "postmaster.pid"))
		if err == nil {
			pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				continue // still serving another test binary
			}
		}
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.RemoveAll(d)
		}
	}
}

// NewDatabase creates an empty database for this test and returns its URL.
// The database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("cannot start a throwaway PostgreSQL (set %s to use another server): %v", EnvURL, startErr)
	}
	name := fmt.Sprintf("t%d_%d_%d", os.Getpid(), counter.Add(1), time.Now().UnixNano()%1_000_000)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("cannot connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("cannot create test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
