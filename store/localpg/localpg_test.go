package localpg

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// dataDir returns a directory the server's account can reach even when the
// tests run as root (t.TempDir's parent is private to root).
func dataDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "localpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestStartStopAndReuse(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t)
	s, err := Start(ctx, Options{DataDir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	firstURL := s.URL
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	// The next start reuses the cluster, its password and its port.
	s, err = Start(ctx, Options{DataDir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.URL != firstURL {
		t.Errorf("URL changed between runs: %s then %s", firstURL, s.URL)
	}
	conn, err = pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("data lost across restarts: %q %v", v, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "pg-password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi.Mode(), err)
	}
}

// TestServerDiesWithItsParent kills (SIGKILL) a process that started a
// server: the server must not outlive it.
func TestServerDiesWithItsParent(t *testing.T) {
	if dir := os.Getenv("LOCALPG_CHILD_DIR"); dir != "" {
		s, err := Start(context.Background(), Options{DataDir: dir, Throwaway: true})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PID", s.cmd.Process.Pid)
		time.Sleep(time.Minute)
		return
	}
	dir := dataDir(t)
	child := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsParent$")
	child.Env = append(os.Environ(), "LOCALPG_CHILD_DIR="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(rest)
			break
		}
		if strings.HasPrefix(sc.Text(), "ERR") {
			t.Fatal(sc.Text())
		}
	}
	if pid == 0 {
		t.Fatal("child printed no server pid")
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postgres (pid %d) outlived its killed parent", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
