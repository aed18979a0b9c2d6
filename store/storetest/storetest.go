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
	"golang.org/x/sys/unix"

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
	// Every drop ends before Main stops the server and looks for leaked
	// goroutines; the template last, once nothing copies it.
	migrated.stop()
	if migrated.template != "" {
		dropDB(migrated.template)
	}
	pool.stop()
	drops.Wait()
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
	parent := dataParent()
	removeStaleDirs(parent)
	dataDir, startErr = os.MkdirTemp(parent, "tenantform-test-pg-")
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

// memoryFS is where a throwaway server's files go when the machine has it:
// a memory file system.
const memoryFS = "/dev/shm"

// dataParent is the directory the throwaway server's data directory is made
// in: a memory file system when there is one, else the temporary directory.
// Every test creates and drops a database of about a thousand files, and on
// ext4 allocating inodes next to so many just deleted ones costs the kernel
// more than PostgreSQL's whole work (measured: the api package's tests took
// 37 s, 35 of them system CPU, on disk and 13 s on /dev/shm). A throwaway
// server keeps nothing, so memory loses nothing.
func dataParent() string {
	if fi, err := os.Stat(memoryFS); err == nil && fi.IsDir() && unix.Access(memoryFS, unix.W_OK) == nil {
		return memoryFS
	}
	return os.TempDir()
}

// removeStaleDirs deletes the data directories of earlier test binaries that
// were killed before they could clean up.
func removeStaleDirs(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "tenantform-test-pg-*"))
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
//
// Creating and dropping a database cost a checkpoint each, up to a second
// on a loaded machine, paid by every test of the suite: so the next
// database is created in the background while a test runs (tests of one
// binary mostly run one after another), and drops happen in the
// background too, finished before Main stops the server.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("cannot start a throwaway PostgreSQL (set %s to use another server): %v", EnvURL, startErr)
	}
	return take(t, pool)
}

// NewMigratedDatabase is NewDatabase with the schema already in place:
// a copy of a template database that migrate brought up to date once per
// test binary (migrating takes up to a second under load; copying a
// migrated database, a fraction of it). migrate must close every
// connection it opened: PostgreSQL copies only a database nobody is
// connected to. Calling the store's own migration again on the copy is
// then a no-op.
func NewMigratedDatabase(t testing.TB, migrate func(ctx context.Context, url string) error) string {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("cannot start a throwaway PostgreSQL (set %s to use another server): %v", EnvURL, startErr)
	}
	migrated.templateOnce.Do(func() { migrated.templateErr = makeTemplate(migrate) })
	if migrated.templateErr != nil {
		t.Fatalf("cannot prepare the migrated template database: %v", migrated.templateErr)
	}
	return take(t, migrated)
}

// makeTemplate creates the migrated pool's template database.
func makeTemplate(migrate func(ctx context.Context, url string) error) error {
	db := pool.create()
	if db.err != nil {
		return db.err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + db.name
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrate(ctx, u.String()); err != nil {
		return err
	}
	migrated.template = db.name // dropped by Main, after the last copy
	return nil
}

// take hands the test a database from p, dropped when the test ends.
func take(t testing.TB, p *dbPool) string {
	t.Helper()
	p.once.Do(p.start)
	// A prefetched database, or, when tests running in parallel took
	// them all, one of this test's own rather than a wait in line.
	var db createdDB
	select {
	case db = <-p.ready:
	default:
		db = p.create()
	}
	if db.err != nil {
		t.Fatalf("cannot create test database: %v", db.err)
	}
	t.Cleanup(func() { dropDB(db.name) })
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db.name
	return u.String()
}

// createdDB is a database made ahead of the test that takes it.
type createdDB struct {
	name string
	err  error
}

// dbPool creates databases ahead of the tests and drops used ones, in
// the background.
type dbPool struct {
	once  sync.Once
	ready chan createdDB
	// quit stops the prefetching goroutine, filling ends when it has.
	quit, filling chan struct{}
	// template is the database copied: template1 when empty.
	template     string
	templateOnce sync.Once
	templateErr  error
	// strategy is FILE_COPY on PostgreSQL 15 and later: one checkpoint,
	// cheap with fsync off, instead of WAL-logging every page of the
	// template, which took twice as long here.
	strategy string
}

// prefetch is how many databases wait ready: one for the test that
// follows, one more for a package that runs tests in parallel.
const prefetch = 2

// pool makes empty databases, migrated copies of a migrated template.
var pool, migrated = newPool(), newPool()

// drops are the databases being dropped in the background.
var drops sync.WaitGroup

func newPool() *dbPool {
	return &dbPool{ready: make(chan createdDB, prefetch), quit: make(chan struct{}), filling: make(chan struct{})}
}

// start reads the server's version, then keeps prefetch databases ready
// for as long as the binary runs.
func (p *dbPool) start() {
	ctx := context.Background()
	if conn, err := pgx.Connect(ctx, adminURL); err == nil {
		var v int
		if conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v) == nil && v >= 150000 {
			p.strategy = " STRATEGY FILE_COPY"
		}
		conn.Close(ctx)
	}
	go func() {
		defer close(p.filling)
		for {
			db := p.create()
			select {
			case p.ready <- db: // waits while prefetch databases are unused
			case <-p.quit:
				if db.err == nil {
					dropDB(db.name)
				}
				return
			}
		}
	}()
}

// stop ends the prefetching and drops what it made and no test took.
func (p *dbPool) stop() {
	p.once.Do(func() { close(p.filling) }) // never started
	close(p.quit)
	<-p.filling
	for {
		select {
		case db := <-p.ready:
			if db.err == nil {
				dropDB(db.name)
			}
			continue
		default:
		}
		break
	}
}

func (p *dbPool) create() createdDB {
	name := fmt.Sprintf("t%d_%d_%d", os.Getpid(), counter.Add(1), time.Now().UnixNano()%1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return createdDB{err: fmt.Errorf("cannot connect to the test server: %w", err)}
	}
	defer conn.Close(ctx)
	template := ""
	if p.template != "" {
		template = " TEMPLATE " + p.template
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+template+p.strategy); err != nil {
		return createdDB{err: err}
	}
	return createdDB{name: name}
}

// dropDB removes a used database in the background; Main waits for it.
func dropDB(name string) {
	drops.Add(1)
	go func() {
		defer drops.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}()
}
