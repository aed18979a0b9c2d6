//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/store/localpg"
	"github.com/tenantform/tenantform/store/pgbouncertest"
)

// TestServeAndReconcileThroughPgBouncer runs `serve` and `reconcile`, as
// configured from the environment, with DATABASE_URL through a real
// PgBouncer in transaction mode: DATABASE_POOL_MODE=transaction,
// DATABASE_DIRECT_URL for migrations and terraform's state. Projects go
// Ready and a deleted one goes away, with real terraform, and PostgreSQL
// never sees a LISTEN.
func TestServeAndReconcileThroughPgBouncer(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections) // the servers stop at the end; their idle connections must not outlive the test
	ctx := context.Background()
	// Not t.TempDir(): as root PostgreSQL runs as an unprivileged user,
	// and t.TempDir's parent is private.
	pgDir, err := os.MkdirTemp("", "tenantform-pgbouncer-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pgDir)
	pg, err := localpg.Start(ctx, localpg.Options{DataDir: pgDir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	pooled := pgbouncertest.Start(t, pg.URL, pgbouncertest.Options{PoolSize: 4})

	port := freeTCPPort(t)
	secret := strings.Repeat("p", 40)
	getenv := env{
		"DATABASE_URL":           pooled,
		"DATABASE_POOL_MODE":     "transaction",
		"DATABASE_DIRECT_URL":    pg.URL,
		"DATABASE_POLL_INTERVAL": "200ms",
		"JWT_SECRET":             secret,
		"PORT":                   strconv.Itoa(port),
		"METRICS_PORT":           "0",
		"TENANTFORM_DATA_DIR":    t.TempDir(),
		"TF_PATH":                os.Getenv("TF_PATH"),
		"HOME":                   os.Getenv("HOME"),
	}.get
	var logs syncBuffer
	svcCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, 2)
	go func() { errs <- runReconcile(svcCtx, nil, &logs, getenv) }()
	go func() { errs <- runServe(svcCtx, nil, &logs, getenv) }()
	stopped := false
	stopAll := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("a service ended with %v", err)
			}
		}
	}
	defer stopAll()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nlogs:\n%s", append(args, logs.String())...)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			fail("the API never became ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	token, err := api.SignToken([]byte(secret), "demo", false, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + token
	projects := []string{"one", "two", "three"}
	for i, p := range projects {
		body := fmt.Sprintf(`{"files":{"main.tf":"resource \"terraform_data\" \"r\" { input = %d }"}}`, i)
		if code, resp := call(t, "PUT", base+"/api/v1/users/demo/projects/"+p, auth, body); code != http.StatusCreated {
			fail("PUT %s: %d %s", p, code, resp)
		}
	}
	start := time.Now()
	for _, p := range projects {
		for {
			code, resp := call(t, "GET", base+"/api/v1/users/demo/projects/"+p, auth, "")
			var v struct {
				Status struct {
					Phase         string `json:"phase"`
					ResourceCount int    `json:"resourceCount"`
				} `json:"status"`
			}
			if code == http.StatusOK && json.Unmarshal(resp, &v) == nil && v.Status.Phase == "Ready" && v.Status.ResourceCount == 1 {
				break
			}
			if time.Since(start) > 90*time.Second {
				fail("%s not Ready with one resource after 90 s: %d %s", p, code, resp)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("3 projects Ready through PgBouncer in %s", time.Since(start).Round(time.Millisecond))

	if code, resp := call(t, "DELETE", base+"/api/v1/users/demo/projects/one", auth, ""); code != http.StatusAccepted {
		fail("DELETE: %d %s", code, resp)
	}
	start = time.Now()
	for {
		code, _ := call(t, "GET", base+"/api/v1/users/demo/projects/one", auth, "")
		if code == http.StatusGone {
			break
		}
		if time.Since(start) > 60*time.Second {
			fail("the deleted project is still there after 60 s (%d)", code)
		}
		time.Sleep(100 * time.Millisecond)
	}

	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var listeners int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'listen %'`).Scan(&listeners); err != nil {
		t.Fatal(err)
	}
	if listeners != 0 {
		fail("%d connections ran LISTEN under DATABASE_POOL_MODE=transaction", listeners)
	}
	if !strings.Contains(logs.String(), "polling for due projects instead of listening") {
		fail("the reconciler did not say it polls")
	}
	stopAll()

	// Behind the pooler, `tenantform migrate` needs the direct connection.
	var out syncBuffer
	noDirect := env{"DATABASE_URL": pooled, "DATABASE_POOL_MODE": "transaction", "HOME": os.Getenv("HOME")}
	if code := run([]string{"migrate"}, &out, &out, noDirect.get); code == 0 || !strings.Contains(out.String(), "migrations hold a session advisory lock") {
		t.Errorf("migrate through the pooler without DATABASE_DIRECT_URL: exit %d: %s", code, out.String())
	}
	// serve and reconcile without it only check the schema: fine when it
	// is current, a clear refusal when it is not.
	cfg := Config{DatabaseURL: pooled, DatabasePoolMode: "transaction", DBMaxConns: 4}
	st, err := openStore(ctx, cfg, zap.NewNop())
	if err != nil {
		t.Errorf("a current schema behind the pooler without DATABASE_DIRECT_URL: %v", err)
	} else {
		st.Close()
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE empty"); err != nil {
		t.Fatal(err)
	}
	emptyURL := strings.Replace(pg.URL, "/tenantform?", "/empty?", 1)
	if emptyURL == pg.URL {
		t.Fatalf("cannot name the empty database in %s", pg.URL)
	}
	cfg.DatabaseURL = pgbouncertest.Start(t, emptyURL, pgbouncertest.Options{})
	if _, err := openStore(ctx, cfg, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "migrations need a direct connection") {
		t.Errorf("an empty schema behind the pooler without DATABASE_DIRECT_URL: %v", err)
	}
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
