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
	ErrProviderNotInstallable = errors.New("a required terraform provider cannot be installed: the reconciler cannot reach the provider registry (no network?) and no provider mirror holds it; an operator can put the provider in a filesystem mirror and set TF_PROVIDER_MIRROR")

	// ErrProviderVersionExcluded: the project's version constraints
	// exclude the provider version the platform's lock pins (the policy
	// refuses such constraints at upload; a project accepted under an
	// older lock can still meet it). Terminal: the tenant must change the
	// constraint.
	ErrProviderVersionExcluded = errors.New("the project's provider version constraints exclude the version tenantform runs (its provider lock); change the constraint to admit it")

	// ErrPlanStale: terraform refused a saved plan because the state
	// changed since the plan was made (another apply, a partial apply), or
	// the plan was made for another state. Not transient: the plan can
	// never be applied; plan again (and have the new plan approved).
	ErrPlanStale = errors.New("the saved plan is stale: the state changed since it was made")

	// ErrBinaryNotFound: FindBinary found no usable terraform and was not
	// allowed to install one.
	ErrBinaryNotFound = errors.New("no terraform binary found")
)

// CommandError is a failed terraform command: the operation, the
// diagnostics terraform reported, and the tail of the run's output. Every
// string in it has had the run's secrets redacted.
type CommandError struct {
	// Op names the command: "init", "workspace new", "plan", "apply", ...
	Op string
	// Diagnostics holds terraform's diagnostics: from its machine-readable
	// output for plan, apply and destroy (errors and warnings), parsed from
	// its human-readable output for the other commands (errors only).
	Diagnostics []Diagnostic
	// LogTail is the redacted tail of everything the run printed so far.
	LogTail string
	// Err is the cause. It matches ErrStateLocked, ErrProviderNotInstallable
	// or ErrPlanStale when terraform's output says so, and context.Canceled
	// / context.DeadlineExceeded when the caller stopped the run.
	Err error
}

// maxErrorDiagnostics bounds how many diagnostics Error() lists.
const maxErrorDiagnostics = 5

// Error names the command and each error diagnostic with its file, line,
// summary and detail, one per line when there are several:
//
//	terraform plan failed: main.tf:1: No value for required variable: The root module input variable "n" is not set, ...
func (e *CommandError) Error() string {
	msg := "terraform " + e.Op + " failed"
	if errors.Is(e.Err, ErrProviderVersionExcluded) {
		msg = ErrProviderVersionExcluded.Error() + "\n" + msg
	} else if errors.Is(e.Err, ErrProviderNotInstallable) {
		// The cause and the remedy first, in one sentence; terraform's
		// own words follow.
		msg = ErrProviderNotInstallable.Error() + "\n" + msg
	}
	errs := e.errorDiagnostics()
	switch {
	case len(errs) == 1:
		return msg + ": " + errs[0].String()
	case len(errs) > 1:
		msg += fmt.Sprintf(" with %d errors:", len(errs))
		for i, d := range errs {
			if i == maxErrorDiagnostics {
				msg += fmt.Sprintf("\n- (and %d more)", len(errs)-i)
				break
			}
			msg += "\n- " + d.String()
		}
		return msg
	case e.Err != nil:
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *CommandError) errorDiagnostics() []Diagnostic {
	var out []Diagnostic
	for _, d := range e.Diagnostics {
		if d.Severity != "warning" {
			out = append(out, d)
		}
	}
	return out
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

// newCommandError classifies a failed terraform command from its error, its
// (already redacted) stderr and the diagnostics of its machine-readable
// output, if any. ctx is the context whose cancellation counts as the
// caller's: when the engine stopped the command itself (a limit), pass one
// that is not done.
func newCommandError(ctx context.Context, op string, err error, stderr string, jsonDiags []Diagnostic, logTail string, red *redactor) *CommandError {
	diags := jsonDiags
	if len(diags) == 0 {
		diags = parseDiagnostics(stderr)
	}
	// Terraform reports lock and provider problems as diagnostics in -json
	// mode and on stderr otherwise: look at both.
	text := stderr
	for _, d := range diags {
		text += "\n" + d.Summary + "\n" + d.Detail
	}
	var causes []error
	switch {
	case strings.Contains(text, "Error acquiring the state lock"),
		strings.Contains(text, "already locked for workspace creation"),
		strings.Contains(text, "Already locked for workspace creation"),
		strings.Contains(text, "Workspace is already locked"):
		causes = append(causes, ErrStateLocked)
	case isLockedVersionExcluded(text):
		causes = append(causes, ErrProviderVersionExcluded)
	case isProviderInstallFailure(text):
		causes = append(causes, ErrProviderNotInstallable)
	case isStalePlan(text):
		causes = append(causes, ErrPlanStale)
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
	first, _, _ := strings.Cut(errorText(err), "\n")
	msg := red.redact(first)
	if len(causes) > 0 && (causes[0] == ErrStateLocked || causes[0] == ErrProviderNotInstallable || causes[0] == ErrProviderVersionExcluded || causes[0] == ErrPlanStale) {
		msg = causes[0].Error() + ": " + msg
	}
	return &CommandError{
		Op:          op,
		Diagnostics: diags,
		LogTail:     logTail,
		Err:         &sanitizedError{msg: msg, causes: causes},
	}
}

// isLockedVersionExcluded recognises init refusing the locked version of
// a provider because the configuration's constraints exclude it. The
// words may be wrapped across lines.
func isLockedVersionExcluded(text string) bool {
	flat := strings.Join(strings.Fields(text), " ")
	return strings.Contains(flat, "locked provider") && strings.Contains(flat, "does not match configured version constraint")
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

// errorText is err.Error(), safe for tfexec's errors: when a command it
// ran was cancelled but exited cleanly, tfexec returns a cmdErr wrapping a
// nil error, whose Error method panics.
func errorText(err error) (text string) {
	defer func() {
		if recover() != nil {
			text = "terraform was stopped"
		}
	}()
	return err.Error()
}
