package tf

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Sentinel errors the reconciler decides on. They are reached through
// errors.Is on whatever an Engine method returns; a *CommandError wraps them
// together with terraform's own diagnostics.
var (
	// ErrStateLocked: another terraform holds the project's state lock (or,
	// with the pg backend, the global workspace-creation lock) for longer
	// than Config.LockTimeout. Transient: retry later.
	ErrStateLocked = errors.New("terraform state is locked")

	// ErrProviderNotInstallable: init could not install a required
	// provider (not in the plugin cache or mirror, registry unreachable,
	// no matching version). Retrying the same spec only helps once the
	// operator fixes the cache, mirror or network.
	ErrProviderNotInstallable = errors.New("a required terraform provider cannot be installed")

	// ErrBinaryNotFound: FindBinary found no usable terraform and was not
	// allowed to install one.
	ErrBinaryNotFound = errors.New("no terraform binary found")
)

// CommandError is a failed terraform command: the operation, the error
// diagnostics terraform printed, and the tail of the run's output. Every
// string in it has had the run's secrets redacted.
type CommandError struct {
	// Op names the command: "init", "workspace new", "plan", "apply", ...
	Op string
	// Diagnostics holds each "Error: ..." block terraform printed, summary
	// line first, box-drawing removed.
	Diagnostics []string
	// LogTail is the redacted tail of everything the run printed so far.
	LogTail string
	// Err is the cause. It matches ErrStateLocked or
	// ErrProviderNotInstallable when terraform's output says so, and
	// context.Canceled / context.DeadlineExceeded when the run was stopped.
	Err error
}

func (e *CommandError) Error() string {
	msg := "terraform " + e.Op + " failed"
	if len(e.Diagnostics) > 0 {
		first, _, _ := strings.Cut(e.Diagnostics[0], "\n")
		msg += ": " + first
		if n := len(e.Diagnostics) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// sanitizedError stands in for an error whose text may hold secrets: tfexec
// appends terraform's whole stderr to its errors, and the connection string
// or a credential can appear there. It keeps the redacted text and the
// typed causes worth matching (exit status, context errors), nothing else.
type sanitizedError struct {
	msg    string
	causes []error
}

func (e *sanitizedError) Error() string   { return e.msg }
func (e *sanitizedError) Unwrap() []error { return e.causes }

// newCommandError classifies a failed terraform command from its error and
// its (already redacted) stderr.
func newCommandError(ctx context.Context, op string, err error, stderr, logTail string, red *redactor) *CommandError {
	var causes []error
	switch {
	case strings.Contains(stderr, "Error acquiring the state lock"),
		strings.Contains(stderr, "already locked for workspace creation"),
		strings.Contains(stderr, "Already locked for workspace creation"),
		strings.Contains(stderr, "Workspace is already locked"):
		causes = append(causes, ErrStateLocked)
	case isProviderInstallFailure(stderr):
		causes = append(causes, ErrProviderNotInstallable)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		causes = append(causes, ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		causes = append(causes, exitErr)
	}
	// tfexec's message is "exit status N" followed by all of stderr; the
	// first line is enough, the rest is in Diagnostics and LogTail.
	first, _, _ := strings.Cut(err.Error(), "\n")
	msg := red.redact(first)
	if len(causes) > 0 && (causes[0] == ErrStateLocked || causes[0] == ErrProviderNotInstallable) {
		msg = causes[0].Error() + ": " + msg
	}
	return &CommandError{
		Op:          op,
		Diagnostics: parseDiagnostics(stderr),
		LogTail:     logTail,
		Err:         &sanitizedError{msg: msg, causes: causes},
	}
}

func isProviderInstallFailure(stderr string) bool {
	for _, s := range []string{
		"Failed to query available provider packages",
		"Failed to install provider",
		"Failed to resolve provider packages",
		"Inconsistent dependency lock file",
		"Required plugins are not installed",
		"Missing required provider",
	} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// maxDiagnostics bounds what one failure carries into the run history.
const (
	maxDiagnostics   = 20
	maxDiagnosticLen = 4096
)

// parseDiagnostics extracts terraform's error diagnostics from its
// human-readable stderr. With -no-color terraform frames each diagnostic as
//
//	╷
//	│ Error: Summary line
//	│
//	│   on main.tf line 3, in resource ...
//	│ Detail text
//	╵
//
// (older or non-framed output has the same lines without "│ "). Warnings are
// skipped: they do not explain a failure.
func parseDiagnostics(stderr string) []string {
	var (
		out     []string
		cur     []string
		inError bool
		seen    = map[string]bool{}
	)
	flush := func() {
		if inError {
			d := strings.TrimSpace(strings.Join(cur, "\n"))
			if len(d) > maxDiagnosticLen {
				d = d[:maxDiagnosticLen] + "…"
			}
			// An interrupted apply repeats "execution halted" once per
			// pending resource: keep each distinct diagnostic once.
			if d != "" && !seen[d] && len(out) < maxDiagnostics {
				seen[d] = true
				out = append(out, d)
			}
		}
		cur, inError = nil, false
	}
	for _, line := range strings.Split(stderr, "\n") {
		framed := false
		switch {
		case strings.HasPrefix(line, "╷"):
			flush()
			continue
		case strings.HasPrefix(line, "╵"):
			flush()
			continue
		case strings.HasPrefix(line, "│"):
			line = strings.TrimPrefix(strings.TrimPrefix(line, "│"), " ")
			framed = true
		}
		switch {
		case strings.HasPrefix(line, "Error: "):
			flush()
			inError = true
			cur = append(cur, line)
		case strings.HasPrefix(line, "Warning: "):
			flush()
		case inError:
			if !framed && line == "" && len(cur) > 1 && cur[len(cur)-1] == "" {
				// Two blank lines end an unframed diagnostic.
				flush()
				continue
			}
			cur = append(cur, line)
		}
	}
	flush()
	return out
}
