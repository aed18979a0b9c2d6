package tf

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// rawStateFromDatabase reads a workspace's state the way the reconciler's
// store does: straight from the pg backend's table, without terraform.
func rawStateFromDatabase(t *testing.T, e *Engine, workspace string) []byte {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, e.cfg.PGConnStr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var data string
	err = conn.QueryRow(ctx, `SELECT data FROM `+pgx.Identifier{e.cfg.PGSchema, "states"}.Sanitize()+` WHERE name = $1`, workspace).Scan(&data)
	if err != nil {
		t.Fatalf("reading the state of %s: %v", workspace, err)
	}
	return []byte(data)
}

// TestApplySavedOnAnotherEngine: a plan made by one engine is applied from
// its bytes by another engine with its own, empty WorkRoot (another
// replica, or this one after a restart), sharing only the state database.
// Both run under limits far below the defaults, which normal runs do not
// notice.
func TestApplySavedOnAnotherEngine(t *testing.T) {
	t.Parallel()
	db := newTestDatabase(t)
	lowLimits := func(c *Config) {
		c.MemoryLimitMB = 2048
		c.CPULimit = 5 * time.Second
		c.OutputLimitBytes = 256 << 10
	}
	a := newTestEngine(t, db, lowLimits)
	b := newTestEngine(t, db, lowLimits)
	ctx := testContext(t)
	p := counterProject("ivan", "moved", 5)

	creds := &Credentials{AccessKeyID: "AKIASAVED", SecretAccessKey: "saved-plan-secret"}
	plan := mustPlan(t, a, p, creds)
	// The planfile goes into the database: it must hold neither the
	// run's credentials nor the state database's connection string.
	assertPlanHoldsNo(t, plan.Bytes, creds.AccessKeyID, creds.SecretAccessKey, a.cfg.PGConnStr, pgPassword(t, a))
	if _, err := b.ApplySaved(ctx, p, plan.Bytes, creds); err != nil {
		t.Fatalf("apply on engine B: %s", describe(err))
	}
	want := []StateResource{{Address: "terraform_data.counter", Type: "terraform_data"}}
	got, err := b.StateResources(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state seen by B (-want +got):\n%s", diff)
	}
	// Engine A's workdir did not see the apply; the state did.
	outs, err := a.Outputs(ctx, p, nil)
	if err != nil || outs["n"] != float64(5) {
		t.Errorf("outputs seen by A = %v, %v; want n = 5", outs, err)
	}
	// The raw state in the database parses without terraform.
	got, err = ParseState(rawStateFromDatabase(t, a, p.workspace()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseState of the stored state (-want +got):\n%s", diff)
	}
}

func pgPassword(t *testing.T, e *Engine) string {
	t.Helper()
	u, err := url.Parse(e.cfg.PGConnStr)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if pw == "" {
		t.Fatal("test database URL has no password")
	}
	return pw
}

// assertPlanHoldsNo fails when any file of the planfile (a zip archive)
// contains one of secrets.
func assertPlanHoldsNo(t *testing.T, planfile []byte, secrets ...string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(planfile), int64(len(planfile)))
	if err != nil {
		t.Fatalf("planfile is not a zip archive: %v", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("planfile member %s holds a secret", f.Name)
			}
		}
	}
}

// TestApplySavedStale: a plan made before another apply changed the state
// is refused with ErrPlanStale, and so is applying a plan twice.
func TestApplySavedStale(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	ctx := testContext(t)
	p1 := counterProject("judy", "stale", 1)
	p2 := counterProject("judy", "stale", 2)
	plan1 := mustPlan(t, e, p1, nil)
	plan2 := mustPlan(t, e, p2, nil)
	if _, err := e.ApplySaved(ctx, p2, plan2.Bytes, nil); err != nil {
		t.Fatalf("apply of the newer plan: %s", describe(err))
	}
	for name, tc := range map[string]struct {
		p    Project
		plan *Plan
	}{"older plan": {p1, plan1}, "applied plan again": {p2, plan2}} {
		_, err := e.ApplySaved(ctx, tc.p, tc.plan.Bytes, nil)
		if !errors.Is(err, ErrPlanStale) {
			t.Fatalf("%s: err = %s, want ErrPlanStale", name, describe(err))
		}
		if IsConfigurationError(err) {
			t.Errorf("%s: a stale plan is not a configuration error", name)
		}
		t.Logf("%s: %v", name, err)
	}
	// Nothing of the older plan was applied.
	outs, err := e.Outputs(ctx, p2, nil)
	if err != nil || outs["n"] != float64(2) {
		t.Errorf("outputs = %v, %v; want n = 2 from the newer plan", outs, err)
	}
	// A workspace that is gone makes any plan for it stale.
	if _, err := e.Destroy(ctx, p2, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteWorkspace(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplySaved(ctx, p2, plan2.Bytes, nil); !errors.Is(err, ErrPlanStale) {
		t.Errorf("apply after the workspace was deleted: err = %v, want ErrPlanStale", err)
	}
}

func TestPlanSizeLimit(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "", func(c *Config) { c.MaxPlanBytes = 512 })
	_, err := e.Plan(testContext(t), counterProject("kim", "big", 1), nil)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitPlanSize {
		t.Fatalf("err = %s, want a plan size *LimitError", describe(err))
	}
	if _, err := e.ApplySaved(testContext(t), counterProject("kim", "big", 1), make([]byte, 513), nil); !errors.As(err, &le) || le.Limit != LimitPlanSize {
		t.Errorf("ApplySaved of an oversized plan: err = %v", err)
	}
	// A speculative plan (anyone may ask for one) is held to it too.
	if _, err := e.PlanSpeculative(testContext(t), counterProject("kim", "big", 2), nil, nil); !errors.As(err, &le) || le.Limit != LimitPlanSize {
		t.Errorf("PlanSpeculative over the limit: err = %s, want a plan size *LimitError", describe(err))
	}
}

// TestPlanDiagnostics: a failed plan reports terraform's structured
// diagnostics, with file, line and the variable's name, classified as a
// configuration error, and with the run's secrets redacted everywhere.
func TestPlanDiagnostics(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	ctx := testContext(t)
	creds := &Credentials{AccessKeyID: "AKIADIAG", SecretAccessKey: "diag-secret-value-123"}

	p := counterProject("liam", "diag", 1)
	p.Variables = nil
	_, err := e.Plan(ctx, p, creds)
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CommandError", err)
	}
	want := []Diagnostic{{Severity: "error", Summary: "No value for required variable", File: "main.tf", Line: 1,
		Detail: `The root module input variable "n" is not set, and has no default value. Use a -var or -var-file command line argument to provide a value for this variable.`}}
	if diff := cmp.Diff(want, ce.Diagnostics); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	if !IsConfigurationError(err) {
		t.Errorf("a missing variable is a configuration error: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "main.tf:1") || !strings.Contains(msg, `variable "n"`) {
		t.Errorf("Error() = %q: want the file, line and variable", msg)
	}

	// A precondition whose message holds a secret (the tenant passed it
	// in a variable): kept, but redacted.
	p = Project{UserID: "liam", ProjectID: "diag", Files: map[string]string{"main.tf": `
variable "token" { type = string }
resource "terraform_data" "x" {
  input = 1
  lifecycle {
    precondition {
      condition     = length(var.token) < 3
      error_message = "token ${var.token} is too long"
    }
  }
}
`}, Variables: map[string]any{"token": creds.SecretAccessKey}}
	_, err = e.Plan(ctx, p, creds)
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 {
		t.Fatalf("err = %s, want one diagnostic", describe(err))
	}
	d := ce.Diagnostics[0]
	if d.Summary != "Resource precondition failed" || d.Detail != "token "+Redacted+" is too long" || d.File != "main.tf" || d.Line != 7 {
		t.Errorf("diagnostic %+v", d)
	}
	for name, s := range map[string]string{"Error()": err.Error(), "log tail": ce.LogTail, "diagnostics": toJSON(t, ce.Diagnostics)} {
		if strings.Contains(s, creds.SecretAccessKey) {
			t.Errorf("%s leaks the secret: %s", name, s)
		}
	}
	if !strings.Contains(ce.LogTail, "Error: Resource precondition failed") {
		t.Errorf("log tail should show the diagnostic readably:\n%s", ce.LogTail)
	}
}

// TestOutputsBounded: values over MaxOutputBytes, and those past
// MaxOutputsTotalBytes in name order, are replaced by a marker with their
// size; sensitive ones stay masked.
func TestOutputsBounded(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "", func(c *Config) {
		c.MaxOutputBytes = 1000
		c.MaxOutputsTotalBytes = 2500
	})
	ctx := testContext(t)
	p := Project{UserID: "mia", ProjectID: "outs", Files: map[string]string{"main.tf": `
locals { s900 = join("", [for i in range(90) : "0123456789"]) }
resource "terraform_data" "x" { input = 1 }
output "a" { value = "x" }
output "b" { value = join("", [for i in range(500) : "0123456789"]) }
output "c" { value = local.s900 }
output "d" { value = local.s900 }
output "e" { value = local.s900 }
output "s" {
  value     = local.s900
  sensitive = true
}
`}}
	mustApply(t, e, p, mustPlan(t, e, p, nil), nil)
	got, err := e.Outputs(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	s900 := strings.Repeat("0123456789", 90)
	want := map[string]any{
		"a": "x",
		"b": TruncatedOutput{Truncated: true, Bytes: 5002}, // over MaxOutputBytes
		"c": s900,                                          // 3 + 902
		"d": s900,                                          // 1807
		"e": TruncatedOutput{Truncated: true, Bytes: 902},  // 2709 would pass the total
		"s": SensitiveMask,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if j := toJSON(t, got["b"]); j != `{"truncated":true,"bytes":5002}` {
		t.Errorf("marker JSON = %s", j)
	}
}
