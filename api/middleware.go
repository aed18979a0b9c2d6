package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// middleware wraps the router, outermost first: the request log sees the
// final status of everything, panics included; CORS headers are on every
// answer, errors included, or a browser hides the error from the page;
// text that cannot be stored is refused before routing.
func (s *server) middleware(next http.Handler) http.Handler {
	return s.observe(s.recoverPanics(s.cors(s.checkInput(s.limitBody(next)))))
}

// requestInfo is filled in as a request goes down the chain and read by
// the request log when it comes back up. The router hands handlers a new
// *http.Request, so a pointer in the context is the only way back out.
type requestInfo struct {
	id     string
	route  string
	userID string
	// base is the server's logger; log, base with the request id, is
	// made on first use: most requests log nothing but their request
	// line, which names the id itself.
	base    *zap.Logger
	logOnce sync.Once
	log     *zap.Logger
}

// logger is the request's logger (see server.logger).
func (info *requestInfo) logger() *zap.Logger {
	info.logOnce.Do(func() { info.log = info.base.With(zap.String("request_id", info.id)) })
	return info.log
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{base: zap.NewNop()}
}

func requestID(ctx context.Context) string { return infoFrom(ctx).id }

// logger is the request's logger: it carries the request id, so a log line
// of a handler can be matched to the request line and to what the client
// saw in X-Request-Id.
func (s *server) logger(r *http.Request) *zap.Logger { return infoFrom(r.Context()).logger() }

// maxRequestIDLen bounds a client-chosen request id before it is echoed
// and logged.
const maxRequestIDLen = 128

// validRequestID accepts what proxies and clients commonly send (UUIDs,
// hex, base64url) and nothing that could forge log structure.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size of an answer for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe assigns the request id (the client's X-Request-Id when sane, so a
// trace spans proxies) and writes one log line per request. The line names
// the route template, not the raw path, and never the Authorization header,
// a token or a body.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		info := &requestInfo{id: id, base: s.cfg.Logger}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))

		// request_id first, where the request's logger puts it.
		fields := make([]zap.Field, 0, 7)
		fields = append(fields,
			zap.String("request_id", id),
			zap.String("method", r.Method),
			zap.Int("status", rec.status),
			zap.Duration("duration", time.Since(start)),
			zap.Int64("bytes", rec.bytes))
		if info.route != "" {
			fields = append(fields, zap.String("route", info.route))
		} else {
			// No route matched: the path is all there is to debug with.
			fields = append(fields, zap.String("path", truncate(r.URL.Path, 200)))
		}
		if info.userID != "" {
			fields = append(fields, zap.String("user_id", info.userID))
		}
		s.requestLog.Info("request", fields...)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// recoverPanics turns a handler panic into a logged 500 instead of a
// dropped connection. http.ErrAbortHandler is the deliberate way to drop
// one, so it is passed on.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.logger(r).Error("handler panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}()
		next.ServeHTTP(w, r)
	})
}

// CORS settings. Authorization is needed for the bearer token, If-Match for
// optimistic concurrency; ETag and Retry-After must be readable by scripts.
const (
	corsAllowMethods  = "GET, PUT, POST, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, X-Request-Id"
	corsExposeHeaders = "ETag, Retry-After, X-Request-Id, Location"
	corsMaxAge        = "600"
)

// cors answers preflights itself (browsers send them without a token, so
// they must not reach authentication) and marks every answer to an allowed
// origin. An origin that is not allowed gets no CORS headers at all, which
// is how a browser learns it is refused.
func (s *server) cors(next http.Handler) http.Handler {
	if s.cfg.CORSOrigin == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (s.cfg.CORSOrigin == "*" || origin == s.cfg.CORSOrigin)
		if s.cfg.CORSOrigin != "*" {
			// The answer depends on Origin: caches must keep them apart.
			w.Header().Add("Vary", "Origin")
		}
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if allowed {
			h := w.Header()
			if s.cfg.CORSOrigin == "*" {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			if preflight {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			} else {
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
		}
		if preflight {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; reading past the cap fails with
// *http.MaxBytesError, which the decoder turns into 413.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}
