//go:build e2e

package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// newRealCLIEnv runs, for one test, what `serve` and `reconcile` run: the
// same API handler and controller wiring, real terraform and a fresh
// PostgreSQL database, configured as dev mode with settings added. wrap,
// when not nil, stands between the reconciler and the real engine (to
// hold a run open, say). Everything stops when the test ends: the
// reconciler first, then client streams still open, the server, the
// store. The CLI tests that need a reconciler start here.
func newRealCLIEnv(t *testing.T, settings env, wrap func(*tf.Engine) controller.Terraform) *cliEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("runs terraform")
	}
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH (.ci/run installs one)")
	}
	all := env{
		"DATABASE_URL":        storetest.NewDatabase(t),
		"JWT_SECRET":          cliTestSecret,
		"TENANTFORM_DATA_DIR": t.TempDir(),
		"TF_PATH":             os.Getenv("TF_PATH"),
		"HOME":                os.Getenv("HOME"),
	}
	for k, v := range settings {
		all[k] = v
	}
	cfg, err := parseConfig(modeDev, all.get)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	engine, err := newEngine(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	var reconcilerTF controller.Terraform = engine
	if wrap != nil {
		reconcilerTF = wrap(engine)
	}
	srv := httptest.NewServer(newAPIHandler(cfg, st, metrics.Handler(newMetrics(), nil), nil, nil, log))
	t.Cleanup(srv.Close)
	// A failing test may leave a stream (watch, logs -f) open: it must
	// not keep Close waiting.
	t.Cleanup(srv.CloseClientConnections)
	reconciled := make(chan error, 1)
	go func() {
		reconciled <- controller.New(controllerConfig(cfg, st, nil, nil, log), st, reconcilerTF).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-reconciled; err != nil && ctx.Err() == nil {
			t.Errorf("reconciler: %v", err)
		}
	})
	return &cliEnv{t: t, st: st, url: srv.URL}
}
