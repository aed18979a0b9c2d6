package tf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

// recordedError replays terraform's recorded -json output of a failed
// command (testdata/diagnostics/NAME.jsonl, written by record.sh with
// terraform 1.11.4 and the aws provider 5.100) through the engine's
// reader, as a failed plan would produce it.
func recordedError(t *testing.T, name string) *CommandError {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "diagnostics", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	red := newRedactor("s3cr3t")
	log := newRunLog(red, DefaultLogTail)
	var diags diagnosticSet
	w := &jsonUIWriter{log: log, diags: &diags}
	// Odd chunk sizes: lines split across writes must still parse.
	for len(b) > 0 {
		n := min(len(b), 97)
		w.Write(b[:n])
		b = b[n:]
	}
	w.Close()
	return newCommandError(context.Background(), "plan", exitError(t), "", diags.all(), log.String(), red)
}

func TestClassifyRecordedDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name       string
		config     bool
		wantFirst  Diagnostic // Detail compared by prefix
		errorMatch string     // a part of Error()
	}{
		{"missing_variable", true, Diagnostic{Severity: "error", Summary: "No value for required variable", Detail: `The root module input variable "n" is not set`, File: "main.tf", Line: 1},
			`terraform plan failed: main.tf:1: No value for required variable: The root module input variable "n" is not set`},
		{"unsupported_argument", true, Diagnostic{Severity: "error", Summary: "Unsupported argument", Detail: `An argument named "bogus"`, File: "main.tf", Line: 2}, `main.tf:2: Unsupported argument`},
		{"undeclared_reference", true, Diagnostic{Severity: "error", Summary: "Reference to undeclared resource", Detail: `A managed resource "terraform_data" "nope"`, File: "main.tf", Line: 1}, `main.tf:1: Reference to undeclared resource`},
		{"undeclared_variable", true, Diagnostic{Severity: "error", Summary: "Reference to undeclared input variable", Detail: `An input variable with the name "missing"`, File: "main.tf", Line: 1}, `"missing"`},
		{"unsupported_block", true, Diagnostic{Severity: "error", Summary: "Unsupported block type", Detail: `Blocks of type "weird"`, File: "main.tf", Line: 2}, `main.tf:2: Unsupported block type`},
		{"invalid_function_argument", true, Diagnostic{Severity: "error", Summary: "Invalid function argument", Detail: `Invalid value for "path" parameter`, File: "main.tf", Line: 1}, `no-such-file`},
		{"syntax_error", true, Diagnostic{Severity: "error", Summary: "Invalid expression", Detail: "Expected the start of an expression", File: "main.tf", Line: 2}, `main.tf:2: Invalid expression`},
		{"precondition", true, Diagnostic{Severity: "error", Summary: "Resource precondition failed", Detail: "one is not two", File: "main.tf", Line: 6}, `one is not two`},
		{"prevent_destroy", true, Diagnostic{Severity: "error", Summary: "Instance cannot be destroyed", Detail: "Resource terraform_data.x has lifecycle.prevent_destroy set", File: "main.tf", Line: 1}, `prevent_destroy`},
		{"provider_validation", true, Diagnostic{Severity: "error", Summary: `expected billing_mode to be one of ["PROVISIONED" "PAY_PER_REQUEST"], got BOGUS`, Address: "aws_dynamodb_table.t", File: "main.tf"}, `aws_dynamodb_table.t: expected billing_mode`},
		{"network_error", false, Diagnostic{Severity: "error", Summary: "reading Dynamodb Table (some-table): operation error DynamoDB: DescribeTable", Address: "data.aws_dynamodb_table.t", File: "main.tf", Line: 11}, `connection refused`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := recordedError(t, tc.name)
			if got := IsConfigurationError(ce); got != tc.config {
				t.Errorf("IsConfigurationError = %v, want %v for %v", got, tc.config, ce.Diagnostics)
			}
			errs := ce.errorDiagnostics()
			if len(errs) == 0 {
				t.Fatalf("no error diagnostics; log:\n%s", ce.LogTail)
			}
			got := errs[0]
			if !strings.HasPrefix(got.Detail, tc.wantFirst.Detail) {
				t.Errorf("detail %q, want it to start with %q", got.Detail, tc.wantFirst.Detail)
			}
			if !strings.HasPrefix(got.Summary, tc.wantFirst.Summary) {
				t.Errorf("summary %q, want it to start with %q", got.Summary, tc.wantFirst.Summary)
			}
			got.Detail, got.Summary = tc.wantFirst.Detail, tc.wantFirst.Summary
			if tc.wantFirst.Line == 0 {
				got.Line = 0
			}
			if diff := cmp.Diff(tc.wantFirst, got); diff != "" {
				t.Errorf("first diagnostic (-want +got):\n%s", diff)
			}
			if msg := ce.Error(); !strings.Contains(msg, tc.errorMatch) {
				t.Errorf("Error() = %q, want it to contain %q", msg, tc.errorMatch)
			}
			// The log shows the diagnostic readably, not as JSON.
			if !strings.Contains(ce.LogTail, "Error: "+errs[0].Summary) || strings.Contains(ce.LogTail, `"@level"`) {
				t.Errorf("log tail:\n%s", ce.LogTail)
			}
		})
	}
}

func TestIsConfigurationError(t *testing.T) {
	red := newRedactor()
	cmdErr := func(stderr string, diags ...Diagnostic) error {
		return newCommandError(context.Background(), "plan", exitError(t), stderr, diags, "", red)
	}
	unsupported := Diagnostic{Severity: "error", Summary: "Unsupported argument", File: "main.tf", Line: 2}
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                        {nil, false},
		"policy violation":           {fmt.Errorf("planning: %w", &policy.Error{Violations: []policy.Violation{{File: "main.tf", Line: 1, Message: "no"}}}), true},
		"config diagnostic, wrapped": {fmt.Errorf("project x: %w", cmdErr("", unsupported)), true},
		"warning only":               {cmdErr("", Diagnostic{Severity: "warning", Summary: "Unsupported argument"}), false},
		"config and network": {cmdErr("", unsupported,
			Diagnostic{Severity: "error", Summary: "reading S3 Bucket: dial tcp: connection refused"}), false},
		"config summary, throttled": {cmdErr("", Diagnostic{Severity: "error", Summary: "Invalid Attribute Value", Detail: "ThrottlingException: Rate exceeded"}), false},
		"unknown provider error":    {cmdErr("", Diagnostic{Severity: "error", Summary: "creating S3 Bucket (b): BucketAlreadyExists"}), false},
		"state lock":                {cmdErr(lockedStderr), false},
		"lock as diagnostic":        {cmdErr("", Diagnostic{Severity: "error", Summary: "Error acquiring the state lock", Detail: "Lock Info: ..."}), false},
		"stale plan": {cmdErr("", Diagnostic{Severity: "error", Summary: "Saved plan is stale",
			Detail: "The given plan file can no longer be applied because the state was changed by another operation after the plan was created."}), false},
		"killed, no diagnostics": {cmdErr(""), false},
		"limit":                  {&LimitError{Limit: LimitCPU, Value: "1s", Op: "plan", Cmd: cmdErr("", unsupported).(*CommandError)}, false},
		"cancelled":              {context.Canceled, false},
		"plain error":            {errors.New("disk full"), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := IsConfigurationError(tc.err); got != tc.want {
				t.Errorf("IsConfigurationError(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	wrapped := fmt.Errorf("x: %w", &LimitError{Limit: LimitCPU, Value: "1s", Op: "plan", Cmd: cmdErr("", unsupported).(*CommandError)})
	if diff := cmp.Diff([]Diagnostic{unsupported}, DiagnosticsOf(wrapped)); diff != "" {
		t.Errorf("DiagnosticsOf (-want +got):\n%s", diff)
	}
	if DiagnosticsOf(errors.New("plain")) != nil {
		t.Error("DiagnosticsOf a plain error")
	}
	stale := cmdErr("", Diagnostic{Severity: "error", Summary: "Saved plan is stale"})
	if !errors.Is(stale, ErrPlanStale) {
		t.Error("a stale plan diagnostic does not match ErrPlanStale")
	}
	if !errors.Is(cmdErr("", Diagnostic{Severity: "error", Summary: "Error acquiring the state lock"}), ErrStateLocked) {
		t.Error("a lock diagnostic (-json output) does not match ErrStateLocked")
	}
}

func TestDiagnosticsRedactedAndBounded(t *testing.T) {
	red := newRedactor("s3cr3t")
	log := newRunLog(red, DefaultLogTail)
	var diags diagnosticSet
	w := &jsonUIWriter{log: log, diags: &diags}
	line := `{"@level":"error","@message":"Error: bad","type":"diagnostic","diagnostic":{"severity":"error","summary":"bad s3cr3t","detail":"value \"s3cr3t\"","address":"x.s3cr3t","range":{"filename":"s3cr3t.tf","start":{"line":3}}}}` + "\n"
	for i := 0; i < 3; i++ {
		w.Write([]byte(line)) // repeated: kept once
	}
	for i := 0; i < 2*maxDiagnostics; i++ {
		fmt.Fprintf(w, `{"type":"diagnostic","diagnostic":{"severity":"error","summary":"n%d","detail":"%s"}}`+"\n", i, strings.Repeat("x", 2*maxDiagnosticLen))
	}
	// A line too long to keep is left out, and what follows still parses.
	w.Write([]byte(`{"type":"log","@message":"` + strings.Repeat("y", 2*maxPendingLine) + "\"}\n"))
	w.Write([]byte(`{"type":"log","@message":"after"}` + "\n"))
	w.Close()
	got := diags.all()
	if len(got) != maxDiagnostics {
		t.Errorf("%d diagnostics kept, want %d", len(got), maxDiagnostics)
	}
	want := Diagnostic{Severity: "error", Summary: "bad [REDACTED]", Detail: `value "[REDACTED]"`, Address: "x.[REDACTED]", File: "[REDACTED].tf", Line: 3}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(got[1].Detail) > maxDiagnosticLen+len("…") {
		t.Errorf("detail of %d bytes kept", len(got[1].Detail))
	}
	tail := log.String()
	if strings.Contains(tail, "s3cr3t") || !strings.Contains(tail, "left out") || !strings.HasSuffix(tail, "after\n") {
		t.Errorf("log tail:\n%.2000s", tail)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // é is two bytes: never cut in half
		{"éé", 2, "é…"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
