package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// Error codes of the envelope. Clients switch on these, not on messages, so
// they are part of the contract (the OpenAPI document lists them).
const (
	codeBadRequest           = "BadRequest"
	codeUnauthorized         = "Unauthorized"
	codeNotFound             = "NotFound"
	codeMethodNotAllowed     = "MethodNotAllowed"
	codeConflict             = "Conflict"
	codeGone                 = "Gone"
	codePreconditionFailed   = "PreconditionFailed"
	codePayloadTooLarge      = "PayloadTooLarge"
	codeInvalidSpec          = "InvalidSpec"
	codeInvalidRequest       = "InvalidRequest"
	codePolicyViolation      = "PolicyViolation"
	codeSyntaxError          = "SyntaxError"
	codeRateLimited          = "RateLimited"
	codeInternal             = "Internal"
	codeNotReady             = "NotReady"
	codeInventoryUnavailable = "InventoryUnavailable"
	codeDatabaseUnavailable  = "DatabaseUnavailable"
	codeForbidden            = "Forbidden"
)

// Not-found messages carry no names on purpose: a user probing another
// user's project must get byte for byte what a missing project of their own
// would give.
const (
	msgProjectNotFound = "project not found"
	msgRunNotFound     = "run not found"
)

// apiError is an error a handler returns to answer with a given status and
// envelope. Anything else a handler returns is an internal error.
type apiError struct {
	status  int
	code    string
	message string
	details any // nil, []policy.Violation or []fieldProblem
	header  http.Header
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeBadRequest, format, args...)
}

func notFound(message string) *apiError {
	return newError(http.StatusNotFound, codeNotFound, "%s", message)
}

// fieldProblem is one reason a request body was refused, naming the field
// (dotted path, e.g. "variables.n") so a client can point at it.
type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// invalid gathers every problem of a body into one 422, so a client fixes
// them all in one round trip.
func invalid(code string, problems []fieldProblem) *apiError {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	msg := msgs[0]
	if len(msgs) > 1 {
		msg = fmt.Sprintf("%d problems in the request: %s", len(msgs), strings.Join(msgs, "; "))
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: code, message: msg, details: problems}
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// fromStore maps the store's errors to answers. notFoundMsg says what was
// missing, since only the caller knows whether it asked for a project or a
// run.
func fromStore(err error, notFoundMsg string) error {
	var gone *store.GoneError
	switch {
	case errors.As(err, &gone):
		e := newError(http.StatusGone, codeGone, "%s; its final status and runs are kept for a while", gone.Error())
		e.details = gone.Tombstone
		return e
	case errors.Is(err, store.ErrNotFound):
		return notFound(notFoundMsg)
	case errors.Is(err, store.ErrPreconditionFailed):
		return newError(http.StatusPreconditionFailed, codePreconditionFailed,
			"If-Match does not name the project's current generation (or the project does not exist); GET it, then retry with its ETag")
	case errors.Is(err, store.ErrConflict):
		// The store's conflict messages name the project and the reason,
		// after the sentinel's own "conflict: " prefix.
		return newError(http.StatusConflict, codeConflict, "%s", strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "))
	}
	return err
}

// writeJSON answers with v. HTML escaping is off: bodies are JSON for API
// clients, and tenant HCL (heredocs, "a && b") should read as written. An
// encoding failure can only be a bug (every value written is built from
// plain structs), so it is logged, not retried.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.logger(r).Error("cannot encode response", zap.Error(err))
		status = http.StatusInternalServerError
		buf.Reset()
		enc.Encode(errorBody{errorPayload{Code: codeInternal, Message: "cannot encode the response"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeError answers with the error envelope. A database that cannot be
// reached is a 503 with Retry-After: the request was fine and will work
// once the database is back, so clients should retry rather than report a
// bug. Other errors that are not apiErrors are logged with the request id
// and answered with a generic 500 that quotes the id, so nothing internal
// (SQL, hosts) reaches the client.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case r.Context().Err() == nil && store.IsUnavailable(err):
		s.logger(r).Warn("database unavailable", zap.Error(err))
		ae = databaseUnavailable()
	default:
		if r.Context().Err() != nil {
			// The client went away; nothing failed on this side.
			s.logger(r).Info("request abandoned by the client", zap.Error(err))
		} else {
			s.logger(r).Error("request failed", zap.Error(err))
		}
		ae = newError(http.StatusInternalServerError, codeInternal, "internal error (request id %s)", requestID(r.Context()))
	}
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	s.writeJSON(w, r, ae.status, errorBody{errorPayload{Code: ae.code, Message: ae.message, Details: ae.details}})
}

// retryAfterSeconds is what a client is told to wait while the database is
// unreachable: long enough not to hammer a restarting server, short enough
// that a blip (a failover, a restart) costs a client seconds.
const retryAfterSeconds = 5

// databaseUnavailable is the 503 of every route while the database cannot
// be reached. It names no host: the store's error is logged, not sent.
func databaseUnavailable() *apiError {
	e := newError(http.StatusServiceUnavailable, codeDatabaseUnavailable,
		"the database is unavailable; retry in %d seconds", retryAfterSeconds)
	e.header = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	return e
}
