package tf

import (
	"context"
	"errors"
	"strings"

	"github.com/tenantform/tenantform/tf/policy"
)

// Classification of failures, for the reconciler's choice between waiting
// for a new spec and backing off:
//
//   - configuration errors (IsConfigurationError): the spec itself is wrong
//     (a missing variable, an unsupported argument, an invalid reference, a
//     value the provider's schema refuses, a policy violation). Running it
//     again gives the same error: terminal until the spec changes.
//   - limits (*LimitError): terminal until the spec changes too, reported
//     apart because the user must make the configuration cheaper, not
//     correct.
//   - a stale plan (ErrPlanStale): the plan can never be applied; plan
//     again. Neither terminal nor worth retrying as is.
//   - everything else is transient: the network, throttling, a held state
//     lock, a killed or interrupted terraform, a provider crash, expired
//     credentials. Back off and retry.
//
// Deciding from diagnostics means deciding from terraform's wording. The
// lists below are terraform's and the providers' summaries as printed by
// terraform 1.11 (see testdata/diagnostics). A summary not listed counts as
// transient: wrongly retrying costs a few backed-off runs, wrongly calling
// a failure terminal leaves a project stuck until its owner edits it.

// configSummaries are summaries (exact, or prefix when ending in a space)
// of diagnostics about the configuration itself: HCL syntax, terraform's
// static and dynamic validation, and provider schema validation.
var configSummaries = []string{
	// Variables.
	"No value for required variable",
	"Invalid value for input variable",
	"Invalid value for variable",
	"Value for undeclared variable",
	// References and expressions.
	"Invalid reference",
	"Reference to undeclared ",
	"Unsupported attribute",
	"Invalid index",
	"Invalid function argument",
	"Call to unknown function",
	"Error in function call",
	"Invalid template interpolation value",
	"Incorrect attribute value type",
	"Inconsistent conditional result types",
	"Invalid operand",
	"Unsuitable value type",
	"Variables not allowed",
	"Function calls not allowed",
	"Invalid count argument",
	"Invalid for_each argument",
	"Invalid combination of \"count\" and \"for_each\"",
	"Invalid expression",
	"Cycle: ",
	"Output refers to sensitive values",
	// Blocks and arguments.
	"Unsupported argument",
	"Missing required argument",
	"Unsupported block type",
	"Missing required block",
	"Too many ",
	"Insufficient ",
	"Duplicate ",
	"Invalid resource type",
	"Invalid data source",
	"Invalid provider configuration reference",
	"Conflicting configuration arguments",
	"Missing required provider",
	"Resource precondition failed",
	"Resource postcondition failed",
	"Module output value precondition failed",
	"Invalid value for module argument",
	"Module not installed",
	"Unreadable module directory",
	"Instance cannot be destroyed",
	// init on tenant input: a state file that asks to be migrated (the
	// policy refuses them; this keeps older workdirs from retrying), a
	// required_version this terraform is not, a bad version constraint.
	"Can't ask approval for state migration when interactive input is disabled.",
	"Error asking for state migration action: input is disabled",
	"Unsupported Terraform Core version",
	"Invalid version constraint",
	"Invalid provider source string",
	"Invalid provider local name",
	"Invalid module source address",
	// HCL syntax.
	"Argument or block definition required",
	"Unclosed configuration block",
	"Invalid block definition",
	"Invalid argument name",
	"Missing newline after argument",
	"Invalid character",
	"Invalid multi-line string",
	"Unterminated template string",
	"Missing key/value separator",
	"Invalid single-argument block definition",
	"Unexpected ",
	"Extraneous label",
	"Missing name for ",
	"Invalid resource name",
	"Invalid variable name",
	"Invalid output name",
	"Invalid JSON ",
	"Incorrect JSON value type",
	// Provider schema validation (plugin framework and SDKv2).
	"Invalid Attribute Value",
	"Invalid Attribute Combination",
	"Invalid Attribute Value Match",
	"Invalid Attribute Value Length",
	"Invalid Configuration for Read-Only Attribute",
	"Missing Configuration for Required Attribute",
	"Value Conversion Error",
	"expected ",
	"invalid value for ",
	"Attribute Value Length",
}

// transientMarkers are substrings that make a failure transient whatever
// else it says: the network, throttling and server errors, locks,
// credentials, and terraform or a provider being stopped or crashing.
var transientMarkers = []string{
	"connection refused", "connection reset", "no such host", "i/o timeout",
	"TLS handshake", "timeout awaiting", "context deadline exceeded",
	"send request failed", "RequestError", "EOF",
	"Throttling", "ThrottlingException", "TooManyRequests", "Rate exceeded",
	"RequestLimitExceeded", "SlowDown", "ServiceUnavailable", "InternalError",
	"InternalFailure", "StatusCode: 500", "StatusCode: 502", "StatusCode: 503", "StatusCode: 504",
	"state lock", "Workspace is already locked", "locked for workspace creation",
	"ExpiredToken", "InvalidClientTokenId", "security token", "No valid credential sources",
	"execution halted", "Interrupt received", "operation canceled",
	"Plugin did not respond", "plugin exited", "The plugin encountered an error",
	"Failed to load plugin schemas",
}

// IsConfigurationError reports whether err means the spec itself is wrong,
// so that running it again cannot succeed: a policy violation, or a
// terraform failure every one of whose error diagnostics is about the
// configuration (see configSummaries). Limits, stale plans, cancellations,
// lock timeouts and everything unrecognised are not.
func IsConfigurationError(err error) bool {
	if err == nil {
		return false
	}
	var perr *policy.Error
	if errors.As(err, &perr) || errors.Is(err, ErrProviderVersionExcluded) {
		return true
	}
	var lerr *LimitError
	if errors.As(err, &lerr) {
		return false
	}
	if errors.Is(err, ErrPlanStale) || errors.Is(err, ErrStateLocked) || errors.Is(err, ErrProviderNotInstallable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *CommandError
	if !errors.As(err, &ce) {
		return false
	}
	errs := ce.errorDiagnostics()
	if len(errs) == 0 {
		return false
	}
	for _, d := range errs {
		if !isConfigDiagnostic(d) {
			return false
		}
	}
	return true
}

func isConfigDiagnostic(d Diagnostic) bool {
	text := d.Summary + "\n" + d.Detail
	for _, m := range transientMarkers {
		if strings.Contains(text, m) {
			return false
		}
	}
	for _, s := range configSummaries {
		if d.Summary == s || (strings.HasSuffix(s, " ") && strings.HasPrefix(d.Summary, s)) {
			return true
		}
	}
	return false
}

// isStalePlan recognises terraform refusing a saved plan: the state
// changed since the plan ("Saved plan is stale"), or the plan belongs to
// another state lineage ("Saved plan does not match the given state").
func isStalePlan(text string) bool {
	return strings.Contains(text, "Saved plan is stale") ||
		strings.Contains(text, "Saved plan does not match the given state")
}

// DiagnosticsOf returns the diagnostics terraform reported for a failed
// operation (through a *CommandError, also inside a *LimitError), for the
// run history and status.lastError; nil when err carries none.
func DiagnosticsOf(err error) []Diagnostic {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.Diagnostics
	}
	return nil
}
