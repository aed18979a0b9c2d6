package tf

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const lockedStderr = `
Error: Error acquiring the state lock

Error message: Cannot lock workspace; already locked for workspace creation:
u_p
Lock Info:
  ID:        e3a502d8

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.
`

func TestParseDiagnostics(t *testing.T) {
	framed := strings.Join([]string{
		"╷",
		"│ Warning: Deprecated attribute",
		"│ ",
		"│ Something old.",
		"╵",
		"╷",
		"│ Error: Unsupported argument",
		"│ ",
		"│   on main.tf line 3, in resource \"terraform_data\" \"x\":",
		"│    3:   bogus = 1",
		"│ ",
		"│ An argument named \"bogus\" is not expected here.",
		"╵",
		"╷",
		"│ Error: Unsupported argument",
		"│ ",
		"│   on main.tf line 3, in resource \"terraform_data\" \"x\":",
		"│    3:   bogus = 1",
		"│ ",
		"│ An argument named \"bogus\" is not expected here.",
		"╵",
		"╷",
		"│ Error: Invalid reference",
		"╵",
	}, "\n")
	want := []Diagnostic{
		{Severity: "error", Summary: "Unsupported argument", File: "main.tf", Line: 3, Detail: "An argument named \"bogus\" is not expected here."},
		{Severity: "error", Summary: "Invalid reference"},
	}
	if diff := cmp.Diff(want, parseDiagnostics(framed)); diff != "" {
		t.Errorf("framed (-want +got):\n%s", diff)
	}

	got := parseDiagnostics(lockedStderr)
	if len(got) != 1 || got[0].Summary != "Error acquiring the state lock" || !strings.HasPrefix(got[0].Detail, "Error message: Cannot lock") {
		t.Errorf("unframed: %q", got)
	}
	if parseDiagnostics("Workspace \"x\" doesn't exist.\n") != nil {
		t.Error("plain text parsed as a diagnostic")
	}
}

func TestCommandErrorClassification(t *testing.T) {
	red := newRedactor("s3cr3t")
	exitErr := exitError(t)
	for name, tc := range map[string]struct {
		stderr   string
		cancel   bool
		want     []error
		wantNot  []error
		errorMsg string
	}{
		"state lock": {
			stderr: lockedStderr, want: []error{ErrStateLocked}, wantNot: []error{ErrProviderNotInstallable, context.Canceled},
			errorMsg: "terraform plan failed: Error acquiring the state lock: Error message: Cannot lock workspace; already locked for workspace creation: u_p Lock Info: ID: e3a502d8 Terraform acquires a state lock to protect the state from being written by multiple users at the same time. conn [REDACTED]",
		},
		"workspace creation lock": {
			stderr: "failed to lock state in Postgres: Already locked for workspace creation: u_p\n", want: []error{ErrStateLocked},
		},
		"provider": {
			stderr:  "Error: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/aws: could not connect to registry.terraform.io\n",
			want:    []error{ErrProviderNotInstallable},
			wantNot: []error{ErrStateLocked},
		},
		"cancelled": {
			stderr: "Error: execution halted\n", cancel: true, want: []error{context.Canceled},
			wantNot: []error{ErrStateLocked},
		},
		"plain failure": {
			stderr: "Error: Invalid reference\n", wantNot: []error{ErrStateLocked, ErrProviderNotInstallable, context.Canceled},
			errorMsg: "terraform plan failed: Invalid reference: conn [REDACTED]",
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			// tfexec's error carries all of stderr, secrets included.
			cause := errors.Join(exitErr, errors.New("s3cr3t in stderr"))
			ce := newCommandError(ctx, "plan", cause, red.redact(tc.stderr+"\nconn s3cr3t\n"), nil, "tail", red)
			var err error = ce
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("errors.Is(err, %v) = false", w)
				}
			}
			for _, w := range tc.wantNot {
				if errors.Is(err, w) {
					t.Errorf("errors.Is(err, %v) = true", w)
				}
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Error("exit error not reachable through errors.As")
			}
			if tc.errorMsg != "" && err.Error() != tc.errorMsg {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.errorMsg)
			}
			for e := error(ce); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "s3cr3t") {
					t.Errorf("error chain leaks the secret: %q", e.Error())
				}
			}
			if strings.Contains(toJSON(t, ce.Diagnostics), "s3cr3t") {
				t.Error("diagnostics leak the secret")
			}
		})
	}
}

func exitError(t *testing.T) *exec.ExitError {
	t.Helper()
	err := exec.Command("sh", "-c", "exit 1").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("no exit error: %v", err)
	}
	return ee
}
