package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantform/tenantform/store"
)

// signed builds a token with arbitrary claims and method, for the cases
// SignToken refuses to produce.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds an "alg: none" token by hand: the jwt library only
// produces one under a special key, and the attack does not use a library.
func unsigned(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "."
}

func TestBadTokensAre401(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	secret := []byte(testSecret)
	exp := t0.Add(time.Hour).Unix()
	expired, err := SignToken(secret, "alice", false, time.Hour, t0.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, err := SignToken([]byte("another-secret"), "alice", false, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	valid := e.token("alice", false)
	parts := strings.Split(valid, ".")
	payload := `{"sub":"alice","admin":true,"exp":` + strconv.FormatInt(exp, 10) + `}`
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + parts[2]

	for _, tc := range []struct{ name, authorization string }{
		{"missing", ""},
		{"not bearer", "Basic YWxpY2U6cHc="},
		{"bearer without token", "Bearer "},
		{"malformed", "Bearer not-a-jwt"},
		{"malformed three parts", "Bearer a.b.c"},
		{"expired", "Bearer " + expired},
		{"wrongly signed", "Bearer " + wrongSecret},
		{"tampered payload", "Bearer " + tampered},
		{"alg none", "Bearer " + unsigned(`{"alg":"none","typ":"JWT"}`, payload)},
		{"alg None", "Bearer " + unsigned(`{"alg":"None","typ":"JWT"}`, payload)},
		{"alg HS256 unsigned", "Bearer " + unsigned(`{"alg":"HS256","typ":"JWT"}`, payload)},
		{"HS512 with the right secret", "Bearer " + signed(t, jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "alice", "exp": exp})},
		{"no exp", "Bearer " + signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice"})},
		{"no sub", "Bearer " + signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp})},
		{"invalid sub", "Bearer " + signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "Alice!", "exp": exp})},
		{"admin not a boolean", "Bearer " + signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "admin": "true", "exp": exp})},
		{"not valid yet", "Bearer " + signed(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": exp, "nbf": exp - 60})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.authorization != "" {
				headers = []string{"Authorization", tc.authorization}
			}
			r := e.do("GET", "/api/v1/users/alice/projects", "", nil, headers...)
			r.wantError(t, http.StatusUnauthorized, codeUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			// Nothing of the project routes is reached either.
			e.do("PUT", projectPathAliceDemo, "", spec(1), headers...).wantError(t, http.StatusUnauthorized, codeUnauthorized)
		})
	}

	// The control: the same request with a good token works, so the 401s
	// above are the tokens' doing.
	e.do("GET", "/api/v1/users/alice/projects", valid, nil).wantStatus(t, http.StatusOK)
	e.do("GET", "/api/v1/users/alice/projects", "", nil, "Authorization", "bearer "+valid).wantStatus(t, http.StatusOK)
	// The token expires with the injected clock.
	e.clock.Add(time.Hour + time.Second)
	msg := e.do("GET", "/api/v1/users/alice/projects", valid, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized).Error.Message
	if !strings.Contains(msg, "has expired") || !strings.Contains(msg, "tenantform token --user") {
		t.Errorf("an expired token's 401 says %q; it must say how to get a new one", msg)
	}
}

func TestEmptySecretRefusesEveryToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.JWTSecret = nil })
	// Even a token signed with an empty key, which an attacker can make.
	tok := signed(t, jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"sub": "alice", "exp": t0.Add(time.Hour).Unix()})
	e.do("GET", "/api/v1/users/alice/projects", tok, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized)
}

func TestSignToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		user  string
		admin bool
	}{{"alice", false}, {"root", true}} {
		tok, err := SignToken([]byte("k"), tc.user, tc.admin, time.Hour, t0)
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		parts := strings.Split(tok, ".")
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		body, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if !strings.Contains(string(header), `"alg":"HS256"`) {
			t.Errorf("header %s is not HS256", header)
		}
		json.Unmarshal(body, &claims)
		want := map[string]any{"sub": tc.user, "iat": float64(t0.Unix()), "exp": float64(t0.Add(time.Hour).Unix())}
		if tc.admin {
			want["admin"] = true
		}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		if len(claims) != len(want) {
			t.Errorf("claims %v, want exactly %v", claims, want)
		}
	}
	for _, bad := range []struct {
		secret string
		user   string
		ttl    time.Duration
	}{{"", "alice", time.Hour}, {"k", "Alice", time.Hour}, {"k", "alice", 0}} {
		if _, err := SignToken([]byte(bad.secret), bad.user, false, bad.ttl, t0); err == nil {
			t.Errorf("SignToken(%q, %q, %s) succeeded", bad.secret, bad.user, bad.ttl)
		}
	}
}

// TestOtherUsersGet404OnEveryRoute walks the routing table itself, so a
// route added later is covered without editing this test.
func TestOtherUsersGet404OnEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	alice, bob := e.token("alice", false), e.token("bob", false)
	e.do("PUT", "/api/v1/users/bob/projects/demo", bob, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	bobDemo := e.claimed(store.Key{UserID: "bob", ProjectID: "demo"})
	ref, err := e.st.StartRun(ctx, bobDemo, bobDemo.LeaseToken, store.OpPlan, "Spec", "r1", "test", t0)
	if err != nil {
		t.Fatal(err)
	}
	runID := ref.Number
	plan, err := e.st.QueueSpeculativePlan(ctx, bobDemo.Key, store.Spec{Files: map[string]string{"main.tf": ""}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	planID := strconv.FormatInt(plan.RowID, 10)
	bodies := map[string]any{
		"POST /api/v1/users/{userId}/projects/{projectId}/plan":    spec(2),
		"PUT /api/v1/users/{userId}/projects/{projectId}":          spec(2),
		"POST /api/v1/users/{userId}/projects/{projectId}/extend":  `{"ttlMinutes": 5}`,
		"POST /api/v1/users/{userId}/projects/{projectId}/approve": `{"generation": 1}`,
		"PUT /api/v1/users/{userId}/quota":                         `{"maxResources": 99}`,
	}
	unknownRoute := e.do("GET", "/api/v1/no-such-route", alice, nil)
	unknownRoute.wantError(t, http.StatusNotFound, codeNotFound)

	checked := 0
	for _, rt := range (&server{}).routes() {
		if rt.access == public {
			continue
		}
		checked++
		name := rt.method + " " + rt.path
		t.Run(name, func(t *testing.T) {
			path := strings.NewReplacer("{userId}", "bob", "{projectId}", "demo", "{runId}", strconv.FormatInt(runID, 10),
				"{planId}", planID).Replace(rt.path)
			got := e.do(rt.method, path, alice, bodies[name])
			if rt.access == admin {
				// Admin routes say what they need instead.
				msg := got.wantError(t, http.StatusForbidden, codeForbidden).Error.Message
				if !strings.Contains(msg, "admin token") {
					t.Errorf("403 message %q does not name the admin token", msg)
				}
				return
			}
			got.wantError(t, http.StatusNotFound, codeNotFound)

			// What would a missing one of alice's own look like?
			var want result
			switch {
			case strings.HasSuffix(rt.path, "/plan"):
				return // a project that does not exist may be previewed: nothing is "missing"
			case strings.Contains(rt.path, "{planId}"):
				want = e.do(rt.method, strings.Replace(path, "/plans/"+planID, "/plans/999999", 1), bob, nil)
			case strings.Contains(rt.path, "{runId}"):
				want = e.do(rt.method, strings.Replace(path, "/runs/"+strconv.FormatInt(runID, 10), "/runs/999999", 1), bob, nil)
			case strings.Contains(rt.path, "{projectId}") && rt.method != "PUT":
				want = e.do(rt.method, strings.Replace(path, "/demo", "/ghost", 1), bob, bodies[name])
			case strings.Contains(rt.path, "{projectId}"):
				want = result{status: http.StatusNotFound, body: []byte(`{"error":{"code":"NotFound","message":"project not found"}}` + "\n")}
			default:
				return // a user-level route: there is no "missing" of one's own
			}
			if got.status != want.status || string(got.body) != string(want.body) {
				t.Errorf("another user's resource answers %d %s\nbut a missing one answers %d %s", got.status, got.body, want.status, want.body)
			}
		})
	}
	if checked < 10 {
		t.Fatalf("only %d scoped routes checked", checked)
	}

	// And nothing of bob's changed.
	p, err := e.st.GetProject(ctx, bobDemo.Key)
	if err != nil {
		t.Fatal(err)
	}
	if p.Generation != 1 || p.DeletionRequestedAt != nil || p.ApprovedGeneration != 0 || !p.ExpiresAt.Equal(bobDemo.ExpiresAt) {
		t.Errorf("alice changed bob's project: %+v", p)
	}
	if o, _ := e.st.GetQuotaOverride(ctx, "bob"); o.MaxResources != nil {
		t.Errorf("a non-admin set bob's quota to %d", *o.MaxResources)
	}
	// Bob himself still sees it all.
	e.do("GET", "/api/v1/users/bob/projects/demo/runs/"+strconv.FormatInt(runID, 10), bob, nil).wantStatus(t, http.StatusOK)
}
