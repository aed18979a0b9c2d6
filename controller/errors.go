package controller

import (
	"errors"
	"strings"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// classify names the reason of a failure and says whether it is terminal:
// retrying cannot help until the spec changes (a policy violation, a
// configuration terraform rejects, a resource limit hit, credentials
// refused). Anything else is transient and backed off.
func classify(err error) (reason string, terminal bool) {
	var perr *policy.Error
	var lerr *tf.LimitError
	switch {
	case errors.As(err, &perr):
		return ReasonPolicy, true
	case errors.As(err, &lerr):
		return ReasonLimitExceeded, true
	case errors.Is(err, ErrCredentialsDenied):
		return ReasonCredentialsDenied, true
	case tf.IsConfigurationError(err):
		return ReasonConfiguration, true
	case errors.Is(err, tf.ErrStateLocked), errors.Is(err, store.ErrStateLocked):
		return ReasonLocked, false
	}
	return "", false
}

// ErrCredentialsDenied wraps an AWS refusal to hand out the project's
// credentials (access denied, wrong external id): terminal until an
// operator fixes the role.
var ErrCredentialsDenied = errors.New("AWS refused the project's credentials")

// describe is the user-facing text of a failure: terraform's diagnostics in
// full (severity, summary, detail, file:line), not just its first line.
func describe(err error) string {
	return strings.TrimSpace(err.Error())
}
