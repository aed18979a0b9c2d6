// Package localpg runs a private PostgreSQL server from the binaries installed
// on the machine. Dev mode keeps one in its data directory across runs; tests
// start a throwaway one. It exists so that neither a laptop nor CI needs a
// database administered by hand.
package localpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options says where and how to run the server.
type Options struct {
	// DataDir holds the cluster (in DataDir/pg) and its credentials. It is
	// created when missing and reused when it already holds a cluster.
	DataDir string
	// Database is created on first start when missing. Default "tenantform".
	Database string
	// Throwaway trades durability for speed (fsync off); for tests only.
	Throwaway bool
	// Log receives the server's stderr; nil discards it (it is also kept
	// in DataDir/postgres.log).
	Log func(line string)
}

// Server is a running private PostgreSQL.
type Server struct {
	// URL connects to Options.Database as the cluster's superuser.
	URL string
	// AdminURL connects to the "postgres" maintenance database.
	AdminURL string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

const superuser = "tenantform"

// Start launches the server and waits until it accepts connections. The
// server is a child process that receives SIGINT (fast shutdown) when the
// calling process dies, so a killed parent never leaves an orphaned postgres.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("localpg: a data directory is required")
	}
	if opts.Database == "" {
		opts.Database = "tenantform"
	}
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("localpg: cannot create data directory: %w", err)
	}
	runAs, err := serverUser()
	if err != nil {
		return nil, err
	}
	if runAs != nil {
		if err := checkReachable(dataDir, runAs); err != nil {
			return nil, err
		}
	}

	password, err := readOrCreateSecret(filepath.Join(dataDir, "pg-password"))
	if err != nil {
		return nil, err
	}
	clusterDir := filepath.Join(dataDir, "pg")
	if _, err := os.Stat(filepath.Join(clusterDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initCluster(ctx, bin, dataDir, clusterDir, password, runAs); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("localpg: cannot read cluster directory: %w", err)
	}

	port, err := choosePort(filepath.Join(dataDir, "pg-port"))
	if err != nil {
		return nil, err
	}

	args := []string{
		"-D", clusterDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
	}
	if opts.Throwaway {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logFile, err := os.OpenFile(filepath.Join(dataDir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localpg: cannot open server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = serverEnv(runAs)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// SIGINT is PostgreSQL's "fast shutdown": it ends sessions and
		// checkpoints, so the cluster is clean for the next start.
		Pdeathsig: syscall.SIGINT,
		Setpgid:   true, // a Ctrl-C in the terminal is the parent's to handle
		Credential: func() *syscall.Credential {
			if runAs == nil {
				return nil
			}
			return &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid}
		}(),
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking *thread* exits, not the process;
		// keeping this goroutine on its thread for the server's whole life
		// makes it mean "when this process dies".
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return nil, fmt.Errorf("localpg: cannot start postgres: %w", err)
	}

	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		RawQuery: "sslmode=disable",
	}
	u.Path = "/postgres"
	s.AdminURL = u.String()
	u.Path = "/" + opts.Database
	s.URL = u.String()

	if err := s.waitReady(ctx, filepath.Join(dataDir, "postgres.log")); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.ensureDatabase(ctx, opts.Database); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop shuts the server down (fast shutdown) and waits for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) waitReady(ctx context.Context, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("localpg: postgres exited during start-up (%v); its log: %s", s.err, tail(logPath))
		default:
		}
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(pingCtx, s.AdminURL)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localpg: postgres did not accept connections within 60s: %v; its log: %s", err, tail(logPath))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) ensureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// FindBinDir locates the directory with initdb and postgres: PATH first,
// then the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("localpg: no PostgreSQL server binaries found on PATH or in /usr/lib/postgresql/*/bin; install PostgreSQL or set DATABASE_URL")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// osUser is the unprivileged account the server runs as when we are root.
type osUser struct {
	name     string
	uid, gid uint32
	home     string
}

// serverUser returns nil when the current user may run postgres itself.
// PostgreSQL refuses to run as root, so root hands it to "postgres" (the
// Debian packages' account) or, failing that, "nobody".
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &osUser{name: name, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}, nil
	}
	return nil, errors.New("localpg: running as root, and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL as")
}

// checkReachable makes sure the server account can traverse every parent of
// dataDir; a data directory under /root, for instance, cannot work.
func checkReachable(dataDir string, u *osUser) error {
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok || (st.Uid != u.uid && !(st.Gid == u.gid && fi.Mode().Perm()&0o010 != 0)) {
				return fmt.Errorf("localpg: PostgreSQL runs as %q (it refuses root) and cannot enter %s; choose a data directory it can reach (TENANTFORM_DATA_DIR or --data-dir), e.g. under /var/lib or /tmp", u.name, dir)
			}
		}
		if dir == "/" {
			return nil
		}
	}
}

func initCluster(ctx context.Context, bin, dataDir, clusterDir, password string, runAs *osUser) error {
	if err := os.MkdirAll(clusterDir, 0o700); err != nil {
		return err
	}
	pwfile := filepath.Join(dataDir, "pg-initpw.tmp")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if runAs != nil {
		// The data directory stays ours (it holds secrets); the server's
		// account only needs to pass through it to its cluster.
		if err := os.Chmod(dataDir, 0o711); err != nil {
			return err
		}
		for _, p := range []string{clusterDir, pwfile} {
			if err := os.Chown(p, int(runAs.uid), int(runAs.gid)); err != nil {
				return fmt.Errorf("localpg: cannot hand %s to %s: %w", p, runAs.name, err)
			}
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", clusterDir, "-U", superuser, "--pwfile", pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-instructions")
	cmd.Env = serverEnv(runAs)
	if runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(clusterDir)
		return fmt.Errorf("localpg: initdb failed: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func serverEnv(runAs *osUser) []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "LANG=C"}
	if runAs != nil {
		env = append(env, "HOME="+runAs.home, "USER="+runAs.name)
	} else if home, err := os.UserHomeDir(); err == nil {
		env = append(env, "HOME="+home)
	}
	return env
}

// readOrCreateSecret returns the secret kept in path, creating a random one
// (readable only by this user) on first use.
func readOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("localpg: cannot store %s: %w", path, err)
	}
	return s, nil
}

// choosePort reuses the port of the last run when it is free, so a dev's
// DATABASE_URL stays stable, and otherwise picks a free one.
func choosePort(path string) (int, error) {
	if b, err := os.ReadFile(path); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && portFree(p) {
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := os.WriteFile(path, []byte(strconv.Itoa(p)+"\n"), 0o600); err != nil {
		return 0, err
	}
	return p, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
