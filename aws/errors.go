package aws

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// DeniedError is a terminal refusal by AWS of the credentials tenantform
// asked for: the role does not trust tenantform's identity, the external id
// is wrong, or the base credentials are invalid. Retrying cannot help until
// someone changes the role or the configuration, so the reconciler shows it
// (condition CredentialsDenied, with Message) instead of backing off.
type DeniedError struct {
	// RoleARN is the role that was refused (empty without a role).
	RoleARN string
	// Code is AWS's error code, such as AccessDenied.
	Code string
	// Message is AWS's message. It names the principal and the role, never
	// a credential.
	Message string
	err     error
}

func (e *DeniedError) Error() string {
	if e.RoleARN == "" {
		return fmt.Sprintf("AWS refused tenantform's credentials (%s): %s", e.Code, e.Message)
	}
	return fmt.Sprintf("AWS refused to let tenantform assume %s (%s): %s", e.RoleARN, e.Code, e.Message)
}

func (e *DeniedError) Unwrap() error { return e.err }

// ThrottledError is AWS asking tenantform to slow down after the SDK's own
// retries were spent. The caller backs off and tries again.
type ThrottledError struct {
	Code string
	err  error
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("AWS throttled the request (%s); try again later: %v", e.Code, e.err)
}

func (e *ThrottledError) Unwrap() error { return e.err }

// Retryable reports true: throttling passes.
func (e *ThrottledError) Retryable() bool { return true }

// IsDenied reports whether err is (or wraps) a DeniedError.
func IsDenied(err error) bool {
	var d *DeniedError
	return errors.As(err, &d)
}

// IsThrottled reports whether err is (or wraps) a ThrottledError.
func IsThrottled(err error) bool {
	var t *ThrottledError
	return errors.As(err, &t)
}

// deniedCodes are the STS error codes that no retry can fix. An ExternalId
// that does not match the role's condition is an AccessDenied.
var deniedCodes = map[string]bool{
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"RegionDisabledException":     true,
}

// classify turns an SDK error into a DeniedError, a ThrottledError or
// leaves it as it is (a transient failure the caller retries).
func classify(err error, roleARN string) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return err
	}
	code := api.ErrorCode()
	if deniedCodes[code] {
		return &DeniedError{RoleARN: roleARN, Code: code, Message: api.ErrorMessage(), err: err}
	}
	if (retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}).IsErrorThrottle(err).Bool() {
		return &ThrottledError{Code: code, err: err}
	}
	return err
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
