package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/store/storetest"
)

// IgnoreCurrent: the e2e tests link the AWS emulator (kumo), whose
// packages start goroutines at init.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }

var (
	terraformOnce sync.Once
	terraformPath string
	terraformErr  error
)

// terraformBinary finds the terraform the tests run: TF_PATH, else PATH.
// Tests skip only when there is none; CI always has one.
func terraformBinary(t testing.TB) string {
	t.Helper()
	terraformOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		terraformPath, _, terraformErr = FindBinary(ctx, FindOptions{TFPath: os.Getenv("TF_PATH")})
	})
	if errors.Is(terraformErr, ErrBinaryNotFound) {
		t.Skip("no terraform binary on PATH or TF_PATH")
	}
	if terraformErr != nil {
		t.Fatal(terraformErr)
	}
	return terraformPath
}

// newTestEngine returns an engine on a fresh database. connStr, when not
// empty, shares a database between engines.
func newTestEngine(t testing.TB, connStr string, mutate ...func(*Config)) *Engine {
	t.Helper()
	bin := terraformBinary(t)
	if connStr == "" {
		connStr = storetest.NewDatabase(t)
	}
	cfg := Config{
		BinaryPath:  bin,
		WorkRoot:    t.TempDir(),
		PGConnStr:   connStr,
		Environment: "test",
		StopGrace:   5 * time.Second,
		LockTimeout: 20 * time.Second,
		Logger:      zaptest.NewLogger(t),
		// TF_SANDBOX=require go test ./tf/ proves every engine test
		// runs under the sandbox; the default, auto, uses it wherever
		// the kernel has Landlock.
		Sandbox: SandboxMode(os.Getenv("TF_SANDBOX")),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// counterProject is the test project: one terraform_data holding var.n,
// exposed as an output.
func counterProject(user, project string, n int) Project {
	return Project{
		UserID:    user,
		ProjectID: project,
		Region:    "us-east-1",
		Files: map[string]string{
			"main.tf": `variable "n" {
  type = number
}

resource "terraform_data" "counter" {
  input = var.n
}

output "n" {
  value = terraform_data.counter.output
}
`,
		},
		Variables: map[string]any{"n": n},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// writeScript writes an executable shell script.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTestDatabase(t testing.TB) string {
	t.Helper()
	terraformBinary(t) // skip before starting PostgreSQL when there is no terraform
	return storetest.NewDatabase(t)
}

// describe adds what a *CommandError carries to an error message.
func describe(err error) string {
	var ce *CommandError
	if errors.As(err, &ce) {
		return fmt.Sprintf("%v\ndiagnostics: %q\nlog tail:\n%s", err, ce.Diagnostics, ce.LogTail)
	}
	return fmt.Sprint(err)
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
