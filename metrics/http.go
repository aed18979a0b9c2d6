package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute labels requests that matched no route, so that scanners
// probing random paths add no series.
const unmatchedRoute = "unmatched"

// HTTP holds the API's request metrics. Wrap the API's handler with
// Middleware; the API names each request's route template and user with
// SetRoute and SetUser.
type HTTP struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	users       *cappedLabel
}

// NewHTTP returns the API metrics; maxSeries caps the users of the
// rate-limited counter (METRICS_MAX_SERIES).
func NewHTTP(maxSeries int) *HTTP {
	return &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_http_requests_total",
			Help: "API requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantform_http_request_duration_seconds",
			Help:    "API request duration, by route template and method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_http_rate_limited_requests_total",
			Help: "API requests refused with 429 by the per-user rate limit, by user (past METRICS_MAX_SERIES users: \"_other\").",
		}, []string{"user"}),
		users: newCappedLabel(maxSeries),
	}
}

// labels travel down the request in its context and are filled in by the
// API once routing and authentication know them.
type labels struct {
	route, user string
}

type labelsKey struct{}

// SetRoute names the route template (such as
// /api/v1/users/{userId}/projects/{projectId}) that serves the request. A
// request outside Middleware is ignored.
func SetRoute(ctx context.Context, template string) {
	if l, ok := ctx.Value(labelsKey{}).(*labels); ok {
		l.route = template
	}
}

// SetUser names the authenticated user of the request.
func SetUser(ctx context.Context, userID string) {
	if l, ok := ctx.Value(labelsKey{}).(*labels); ok {
		l.user = userID
	}
}

// Middleware counts and times every request that passes through it. Put it
// outermost so it sees the final status, recovered panics included.
func (h *HTTP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		l := &labels{}
		rec := &codeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), labelsKey{}, l)))
		route := l.route
		if route == "" {
			route = unmatchedRoute
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		method := methodLabel(r.Method)
		h.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
		h.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		if code == http.StatusTooManyRequests && l.user != "" {
			h.rateLimited.WithLabelValues(h.users.value(l.user)).Inc()
		}
	})
}

// methodLabel keeps the method label to the standard methods: a client can
// send any token as a method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// codeRecorder remembers the status code written.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (w *codeRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *codeRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Describe implements prometheus.Collector.
func (h *HTTP) Describe(ch chan<- *prometheus.Desc) {
	h.requests.Describe(ch)
	h.duration.Describe(ch)
	h.rateLimited.Describe(ch)
}

// Collect implements prometheus.Collector.
func (h *HTTP) Collect(ch chan<- prometheus.Metric) {
	h.requests.Collect(ch)
	h.duration.Collect(ch)
	h.rateLimited.Collect(ch)
}
