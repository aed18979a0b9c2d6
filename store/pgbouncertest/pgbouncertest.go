// Package pgbouncertest runs a real PgBouncer (Debian's pgbouncer) in front
// of a test's PostgreSQL database, so the store and the reconciler can be
// tested the way Heroku's connection pooler serves them.
//
// PgBouncer refuses to run as root; as root it runs as the "postgres" (or
// "nobody") account, like store/localpg's postgres. Without a pgbouncer
// binary the test is skipped, unless TENANTFORM_REQUIRE_PGBOUNCER is set
// (CI sets it after installing the package), when it fails.
package pgbouncertest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvRequire makes a missing pgbouncer a failure instead of a skip.
const EnvRequire = "TENANTFORM_REQUIRE_PGBOUNCER"

// Options shape the pooler.
type Options struct {
	// PoolMode is PgBouncer's pool_mode: "transaction" (the default) or
	// "session".
	PoolMode string
	// PoolSize is the server connections per database and user (default
	// 4). More than one is what makes transaction pooling visible: one
	// client's transactions land on different server connections.
	PoolSize int
}

// Start runs PgBouncer in front of the server and database of backendURL
// until the test ends, and returns a URL that connects through it (no
// password: the pooler logs in to the server with backendURL's).
func Start(t testing.TB, backendURL string, opts Options) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("pgbouncer is not installed (apt-get install pgbouncer) and %s is set", EnvRequire)
		}
		t.Skipf("pgbouncer is not installed (apt-get install pgbouncer; set %s to make this a failure)", EnvRequire)
	}
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 4
	}
	backend, err := url.Parse(backendURL)
	if err != nil {
		t.Fatalf("pgbouncertest: backend URL: %v", err)
	}
	password, _ := backend.User.Password()
	dbName := strings.TrimPrefix(backend.Path, "/")

	// Not t.TempDir(): as root the pooler runs as another account, which
	// must reach its files, and t.TempDir's parent is private.
	dir, err := os.MkdirTemp("", "tenantform-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	runAs := unprivilegedUser(t)
	if runAs != nil {
		if err := os.Chown(dir, int(runAs.Uid), int(runAs.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o700)

	port := freePort(t)
	conf := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s user=%s password=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = %s
server_lifetime = 3600
`, dbName, backend.Hostname(), backend.Port(), dbName, backend.User.Username(), quote(password),
		port, opts.PoolMode, opts.PoolSize, filepath.Join(dir, "pgbouncer.log"))
	confPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if runAs != nil {
		os.Chown(confPath, int(runAs.Uid), int(runAs.Gid))
	}

	cmd := exec.Command(bin, confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: runAs}
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgbouncertest: cannot start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	pooled := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", url.User(backend.User.Username()).String(), port, dbName)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, pooled)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return pooled
		}
		cancel()
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncertest: pgbouncer exited at start; its log:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncertest: no connection through pgbouncer within 15s: %v; its log:\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// quote makes a value safe in a pgbouncer connection string.
func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// unprivilegedUser is nil unless running as root, when pgbouncer must run
// as another account.
func unprivilegedUser(t testing.TB) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	t.Fatal("pgbouncertest: running as root, and neither a 'postgres' nor a 'nobody' account exists to run pgbouncer as")
	return nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
