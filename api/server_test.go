package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestOpenAPIMatchesRoutes fails when the router and the OpenAPI document
// disagree on any path or method, in either direction.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	s := newServer(Config{}, nil)
	var routed []string
	err := s.router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := r.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := r.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			routed = append(routed, m+" "+path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(openAPIDocument), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Errorf("openapi version %q, want 3.0.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for key, op := range item {
			switch key {
			case "get", "put", "post", "delete", "patch", "head", "options":
			default:
				continue // parameters, summary…
			}
			documented = append(documented, strings.ToUpper(key)+" "+path)
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s documents no responses", key, path)
			}
		}
	}
	checkPathParameters(t, []byte(openAPIDocument))
	slices.Sort(routed)
	slices.Sort(documented)
	if diff := cmp.Diff(routed, documented); diff != "" {
		t.Errorf("routes (-) and OpenAPI operations (+) differ:\n%s", diff)
	}
	if len(routed) < 16 {
		t.Errorf("only %d routes walked", len(routed))
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("GET", "/openapi.json", "", nil)
	r.wantStatus(t, http.StatusOK)
	if r.header.Get("Content-Type") != "application/json" || string(r.body) != openAPIDocument {
		t.Errorf("GET /openapi.json did not serve the document")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := newEnvMigrated(t, false, nil)
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
	got := e.do("GET", "/readyz", "", nil).wantError(t, http.StatusServiceUnavailable, codeNotReady)
	if !strings.Contains(got.Error.Message, "schema") {
		t.Errorf("readyz before migrating says %q, want the schema named", got.Error.Message)
	}
	if err := e.st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/readyz", "", nil).wantStatus(t, http.StatusOK)

	// A database that is gone: 503, and the message names no host or user.
	e.st.Close()
	got = e.do("GET", "/readyz", "", nil).wantError(t, http.StatusServiceUnavailable, codeNotReady)
	if strings.Contains(got.Error.Message, "127.0.0.1") || strings.Contains(got.Error.Message, "user=") {
		t.Errorf("readyz leaks connection details: %q", got.Error.Message)
	}
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
}

func TestUnknownRoutesAndWrongMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("GET", "/nope", "", nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", "/api/v1/users/alice/projects/demo/", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	// Unclean paths are unknown routes, not redirects to a clean one.
	e.do("GET", "/api/v1/users/alice//projects", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", "/api/v1/users/bob/../alice/projects", alice, nil).wantError(t, http.StatusNotFound, codeNotFound)

	for _, tc := range []struct{ method, path, allow string }{
		{"PATCH", projectPathAliceDemo, "GET, PUT, DELETE"},
		{"POST", projectPathAliceDemo, "GET, PUT, DELETE"},
		{"GET", projectPathAliceDemo + "/extend", "POST"},
		{"DELETE", "/api/v1/users/alice/quota", "GET, PUT"},
		{"POST", "/healthz", "GET"},
	} {
		r := e.do(tc.method, tc.path, alice, nil)
		r.wantError(t, http.StatusMethodNotAllowed, codeMethodNotAllowed)
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	e := newEnv(t, func(c *Config) { c.CORSOrigin = origin })

	// A preflight carries no token and must still succeed.
	r := e.do("OPTIONS", projectPathAliceDemo, "", nil,
		"Origin", origin, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization, if-match, content-type")
	r.wantStatus(t, http.StatusNoContent)
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("Allow-Origin = %q", h.Get("Access-Control-Allow-Origin"))
	}
	for _, want := range []string{"Authorization", "Content-Type", "If-Match"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
			t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
		}
	}
	for _, want := range []string{"GET", "PUT", "POST", "DELETE"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), want) {
			t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), want)
		}
	}

	// A real request, even a failing one, is readable by the page, ETag
	// included.
	r = e.do("PUT", projectPathAliceDemo, e.token("alice", false), spec(1), "Origin", origin)
	r.wantStatus(t, http.StatusCreated)
	if r.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("CORS headers on PUT: %v", r.header)
	}
	r = e.do("GET", projectPathAliceDemo, "", nil, "Origin", origin)
	if r.status != http.StatusUnauthorized || r.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("a 401 must carry CORS headers too: %d %v", r.status, r.header)
	}

	// Another origin gets nothing.
	r = e.do("OPTIONS", projectPathAliceDemo, "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT")
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("a foreign origin was allowed: %q", got)
	}

	// Without CORS_ORIGIN, no CORS headers at all.
	plain := newEnv(t, nil)
	r = plain.do("GET", "/healthz", "", nil, "Origin", origin)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS header without CORS_ORIGIN: %q", got)
	}

	any := newEnv(t, func(c *Config) { c.CORSOrigin = "*" })
	r = any.do("GET", "/healthz", "", nil, "Origin", "https://whoever.example")
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("CORS_ORIGIN=* answers %q", got)
	}
}

func TestRateLimitPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.RateLimitPerSecond = 0.5
		c.RateLimitBurst = 3
	})
	alice, bob := e.token("alice", false), e.token("bob", false)
	for i := range 3 {
		e.do("GET", "/api/v1/users/alice/projects", alice, nil).wantStatus(t, http.StatusOK)
		_ = i
	}
	r := e.do("GET", "/api/v1/users/alice/projects", alice, nil)
	r.wantError(t, http.StatusTooManyRequests, codeRateLimited)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (one token per 2 s)", got)
	}
	// Each user has their own bucket.
	e.do("GET", "/api/v1/users/bob/projects", bob, nil).wantStatus(t, http.StatusOK)
	// Refused requests do not push the next token further away.
	for range 5 {
		e.do("GET", "/api/v1/users/alice/projects", alice, nil).wantError(t, http.StatusTooManyRequests, codeRateLimited)
	}
	e.clock.Add(2 * time.Second)
	e.do("GET", "/api/v1/users/alice/projects", alice, nil).wantStatus(t, http.StatusOK)
	e.do("GET", "/api/v1/users/alice/projects", alice, nil).wantError(t, http.StatusTooManyRequests, codeRateLimited)
	// Probes do not count against anyone.
	e.do("GET", "/healthz", "", nil).wantStatus(t, http.StatusOK)
}

func TestRateLimitersAreBounded(t *testing.T) {
	t.Parallel()
	l := newLimiters(1, 1, 3)
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		if err := l.allow(u, t0); err != nil {
			t.Fatalf("first request of %s refused: %v", u, err)
		}
	}
	if l.order.Len() != 3 || len(l.byID) != 3 {
		t.Fatalf("%d limiters held (%d indexed), want 3", l.order.Len(), len(l.byID))
	}
	// The most recent users are the ones kept: e's bucket is empty.
	if err := l.allow("e", t0); err == nil {
		t.Error("e's limiter was forgotten while recent")
	}
	if _, ok := l.byID["a"]; ok {
		t.Error("the least recently seen user was kept")
	}
}

func TestRequestLogAndRequestID(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	e := newEnv(t, func(c *Config) { c.Logger = zap.New(core) })
	alice := e.token("alice", false)

	r := e.do("PUT", projectPathAliceDemo, alice, spec(1), "X-Request-Id", "req-123")
	r.wantStatus(t, http.StatusCreated)
	if got := r.header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id echoed as %q", got)
	}
	r = e.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id with spaces {}")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \n") {
		t.Errorf("an unsafe request id was not replaced: %q", got)
	}

	entries := logs.FilterMessage("request").All()
	if len(entries) != 2 {
		t.Fatalf("%d request lines, want one per request", len(entries))
	}
	got := entries[0].ContextMap()
	for k, want := range map[string]any{
		"request_id": "req-123", "method": "PUT", "route": "/api/v1/users/{userId}/projects/{projectId}",
		"status": int64(201), "user_id": "alice",
	} {
		if got[k] != want {
			t.Errorf("log field %s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["duration"]; !ok {
		t.Error("no duration logged")
	}
	for _, entry := range logs.All() {
		line, _ := json.Marshal(entry.ContextMap())
		if strings.Contains(string(line), alice) || strings.Contains(string(line), "terraform_data") {
			t.Errorf("a log line holds the token or the body: %s", line)
		}
	}
}

// orphanLister is a fake inventory.
type orphanLister func(ctx context.Context) (any, error)

func (f orphanLister) ListOrphans(ctx context.Context) (any, error) { return f(ctx) }

func TestOrphans(t *testing.T) {
	t.Parallel()
	none := newEnv(t, nil)
	root := none.token("root", true)
	none.do("GET", "/api/v1/orphans", root, nil).wantError(t, http.StatusNotImplemented, codeInventoryUnavailable)
	none.do("GET", "/api/v1/orphans", none.token("alice", false), nil).wantError(t, http.StatusForbidden, codeForbidden)

	e := newEnv(t, func(c *Config) {
		c.Orphans = orphanLister(func(context.Context) (any, error) {
			return []map[string]string{{"arn": "arn:aws:s3:::x", "userId": "gone"}}, nil
		})
	})
	var got map[string]any
	e.do("GET", "/api/v1/orphans", root, nil).decode(t, &got)
	want := map[string]any{"items": []any{map[string]any{"arn": "arn:aws:s3:::x", "userId": "gone"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("orphans (-want +got):\n%s", diff)
	}
}

// Internal errors and panics answer 500 with the request id and nothing
// of the error itself.
func TestInternalErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Orphans = orphanLister(func(ctx context.Context) (any, error) {
			if infoFrom(ctx).id == "panic" {
				panic("secret-panic-value")
			}
			return nil, errors.New("dial tcp db.internal:5432: password authentication failed")
		})
	})
	root := e.token("root", true)
	for _, id := range []string{"error", "panic"} {
		r := e.do("GET", "/api/v1/orphans", root, nil, "X-Request-Id", id)
		got := r.wantError(t, http.StatusInternalServerError, codeInternal)
		if !strings.Contains(got.Error.Message, id) || strings.Contains(string(r.body), "db.internal") || strings.Contains(string(r.body), "secret") {
			t.Errorf("500 body %s: want the request id and no internals", r.body)
		}
	}
}

func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	none := newEnv(t, nil)
	none.do("GET", "/metrics", "", nil).wantError(t, http.StatusNotFound, codeNotFound)
	e := newEnv(t, func(c *Config) {
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("tenantform_up 1\n")) })
	})
	r := e.do("GET", "/metrics", "", nil)
	if r.status != http.StatusOK || string(r.body) != "tenantform_up 1\n" {
		t.Errorf("GET /metrics = %d %q", r.status, r.body)
	}
}

// checkPathParameters fails when a documented path's {variables} and its
// declared path parameters differ.
func checkPathParameters(t *testing.T, raw []byte) {
	t.Helper()
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	pathParams := func(list []param) []string {
		var out []string
		for _, p := range list {
			if p.Ref != "" {
				p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
			if p.In == "path" {
				out = append(out, p.Name)
			}
		}
		return out
	}
	for path, item := range doc.Paths {
		var want []string
		for _, part := range strings.Split(path, "/") {
			if strings.HasPrefix(part, "{") {
				want = append(want, strings.Trim(part, "{}"))
			}
		}
		var shared []param
		json.Unmarshal(item["parameters"], &shared)
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			var o struct{ Parameters []param }
			json.Unmarshal(op, &o)
			got := append(pathParams(shared), pathParams(o.Parameters)...)
			slices.Sort(got)
			w := slices.Sorted(slices.Values(want))
			if !slices.Equal(got, w) {
				t.Errorf("%s %s declares path parameters %v, want %v", method, path, got, w)
			}
		}
	}
}
