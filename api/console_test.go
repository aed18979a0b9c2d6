package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// consoleClient is a browser-like client of one env: it keeps cookies and
// does not follow redirects, so tests see them.
type consoleClient struct {
	t      *testing.T
	e      *env
	cookie *http.Cookie
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *consoleClient) do(method, path string, form url.Values, headers ...string) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == consoleCookie {
			c.cookie = ck
			if ck.MaxAge < 0 {
				c.cookie = nil
			}
		}
	}
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (p page) want(t *testing.T, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("got %d, want %d:\n%s", p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Errorf("the page does not contain %q:\n%s", s, p.body)
		}
	}
}

func (c *consoleClient) login(token string) page {
	c.t.Helper()
	return c.do("POST", "/console/login", url.Values{"token": {token}})
}

func TestConsoleLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := &consoleClient{t: t, e: e}

	// Without a session: pages redirect to the form, fragments are 401.
	got := c.do("GET", "/console", nil)
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/console/login" {
		t.Fatalf("GET /console without a session: %d to %q", got.status, got.header.Get("Location"))
	}
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusUnauthorized)
	form := c.do("GET", "/console/login", nil)
	form.want(t, http.StatusOK, `<form method="post" action="/console/login"`, `name="token"`)
	if csp := form.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// Refusals say why and set no cookie.
	c.login("").want(t, http.StatusUnauthorized, "paste an admin token")
	c.login("not-a-jwt").want(t, http.StatusUnauthorized, "malformed")
	c.login(e.token("alice", false)).want(t, http.StatusUnauthorized, "needs an admin token", "alice")
	for _, origin := range []string{"https://evil.example", "null"} {
		c.do("POST", "/console/login", url.Values{"token": {e.token("root", true)}}, "Origin", origin).
			want(t, http.StatusForbidden, "only be posted from the console")
	}
	if c.cookie != nil {
		t.Fatalf("a refused login set a cookie: %v", c.cookie)
	}

	// An admin token opens a session kept in a strict, HttpOnly cookie.
	admin := e.token("root", true)
	got = c.login(admin)
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/console" {
		t.Fatalf("login: %d to %q", got.status, got.header.Get("Location"))
	}
	if c.cookie == nil || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode || c.cookie.Path != "/console" {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/console", c.cookie)
	}
	c.do("GET", "/console", nil).want(t, http.StatusOK, "admin <b>root</b>", "No projects yet.")
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusOK, "No projects yet.")

	// The session ends with the token's expiry, and with logging out.
	e.clock.Add(2 * time.Hour)
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusUnauthorized)
	e.clock.Add(-2 * time.Hour)
	c.do("GET", "/console", nil).want(t, http.StatusOK)
	got = c.do("POST", "/console/logout", nil)
	if got.status != http.StatusSeeOther || c.cookie != nil {
		t.Fatalf("logout: %d, cookie %v", got.status, c.cookie)
	}
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusUnauthorized)
}

// TestConsoleIsNotPartOfTheAPI: the console's paths are served as HTML and
// are not in the OpenAPI document (the machine contract); a neighbouring
// path is still the API's JSON 404.
func TestConsoleIsNotPartOfTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if strings.Contains(openAPIDocument, `"/console`) {
		t.Error("the OpenAPI document lists console pages")
	}
	e.do("GET", "/consoles", "", nil).wantError(t, http.StatusNotFound, codeNotFound)
	c := &consoleClient{t: t, e: e}
	c.do("GET", "/console/static/console.js", nil).want(t, http.StatusOK, "fragment")
	c.do("GET", "/console/static/login.html", nil).want(t, http.StatusNotFound)
	c.do("DELETE", "/console", nil).want(t, http.StatusMethodNotAllowed)
}

type orphansFunc func(ctx context.Context) (any, error)

func (f orphansFunc) ListOrphans(ctx context.Context) (any, error) { return f(ctx) }

func TestConsolePages(t *testing.T) {
	t.Parallel()
	var orphans orphansFunc = func(context.Context) (any, error) {
		return []map[string]any{{"arn": "arn:aws:s3:::left-<b>behind</b>", "type": "s3:bucket", "region": "us-east-1",
			"userId": "carol", "projectId": "gone", "lastSeen": t0, "cleanup": "report"}}, nil
	}
	e := newEnv(t, func(c *Config) { c.Orphans = orphans })
	ctx := t.Context()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/bob/projects/web", e.token("bob", false), spec(2)).wantStatus(t, http.StatusCreated)

	// A tenant's outputs, messages and log are hostile text.
	const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	demo := e.claimed(keyAliceDemo)
	ref, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpApply, "Spec", "rec-1", "replica-a", t0)
	if err != nil {
		t.Fatal(err)
	}
	cost := 1.25
	plan := map[string]any{"add": 1, "change": 0, "destroy": 0,
		"resources": []any{map[string]any{"address": `terraform_data.a["` + hostile + `"]`, "type": "terraform_data"}}}
	if err := e.st.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, PlanSummary: plan,
		EstimatedMonthlyCostUSD: &cost, LogTail: "Apply complete!\n" + hostile}, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetStatus(ctx, keyAliceDemo, demo.LeaseToken, store.Status{Phase: store.PhaseReady, ObservedGeneration: 1,
		ResourceCount: 1, EstimatedMonthlyCostUSD: 1.25, Message: "applied " + hostile,
		Outputs: map[string]any{"url": hostile}}); err != nil {
		t.Fatal(err)
	}

	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true))
	overview := c.do("GET", "/console", nil)
	overview.want(t, http.StatusOK, `id="user-alice"`, `id="user-bob"`,
		`href="/console/projects/alice/demo"`, "phase-ready", "$1.25 / $50.00", "1h 0m",
		"1 / 10", // alice's resources against the default quota
		"arn:aws:s3:::left-&lt;b&gt;behind&lt;/b&gt;", "s3:bucket")
	// Ready and Pending are counted; phases are listed in their order.
	if i, j := strings.Index(overview.body, "phase-pending"), strings.Index(overview.body, "phase-ready"); i < 0 || j < 0 {
		t.Errorf("phase counts missing")
	}

	project := c.do("GET", "/console/projects/alice/demo", nil)
	project.want(t, http.StatusOK, `href="/console/projects/alice/demo/runs/1"`, "+1 ~0 -0", "succeeded", "3s")
	run := c.do("GET", "/console/projects/alice/demo/runs/1", nil)
	run.want(t, http.StatusOK, "<b>1</b> to add", "Apply complete!", "terraform_data.a")
	for name, p := range map[string]page{"overview": overview, "project": project, "run": run} {
		if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
			t.Errorf("the %s page carries tenant text unescaped:\n%s", name, p.body)
		}
	}
	if !strings.Contains(project.body, "&lt;script&gt;") || !strings.Contains(run.body, "&lt;img src=x") {
		t.Errorf("tenant text is not shown escaped")
	}

	// A deleted project's page shows its tombstone and keeps its runs.
	webKey := store.Key{UserID: "bob", ProjectID: "web"}
	if _, err := e.st.RequestDeletion(ctx, webKey, false, t0); err != nil {
		t.Fatal(err)
	}
	web := e.claimed(webKey)
	if err := e.st.DeleteFinalized(ctx, webKey, web.LeaseToken, web.UID, "Deleted", store.Status{Phase: store.PhaseDestroying}, t0); err != nil {
		t.Fatal(err)
	}
	c.do("GET", "/console/projects/bob/web", nil).want(t, http.StatusOK, "was destroyed and removed at", "Destroyed", "No runs yet.")

	// Missing things are 404 pages; a bad run number a 400 page.
	c.do("GET", "/console/projects/alice/ghost", nil).want(t, http.StatusNotFound, "project not found")
	c.do("GET", "/console/projects/alice/demo/runs/9", nil).want(t, http.StatusNotFound, "run not found")
	c.do("GET", "/console/projects/alice/demo/runs/x", nil).want(t, http.StatusBadRequest, "run number")
	c.do("GET", "/console/projects/Alice!/demo", nil).want(t, http.StatusBadRequest)
}

func TestConsoleOrphansUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true))
	c.do("GET", "/console", nil).want(t, http.StatusOK, "AWS inventory not configured")

	failing := newEnv(t, func(c *Config) {
		c.Orphans = orphansFunc(func(context.Context) (any, error) { return nil, errors.New("inventory table gone") })
	})
	c = &consoleClient{t: t, e: failing}
	c.login(failing.token("root", true))
	got := c.do("GET", "/console", nil)
	got.want(t, http.StatusOK, "cannot list orphans")
	if strings.Contains(got.body, "inventory table gone") {
		t.Error("the page shows an internal error")
	}
}

func TestTimeLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "expired"}, {20 * time.Second, "< 1m"}, {59 * time.Minute, "59m"},
		{61 * time.Minute, "1h 1m"}, {49 * time.Hour, "2d 1h"},
	} {
		if got := timeLeft(t0.Add(tc.d), t0); got != tc.want {
			t.Errorf("timeLeft(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestConsoleIsRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimitPerSecond, c.RateLimitBurst = 1, 1 })
	c := &consoleClient{t: t, e: e}
	c.login(e.token("root", true))
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusOK)
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusTooManyRequests, "HTTP 429")
	e.clock.Add(time.Second)
	c.do("GET", "/console?fragment=1", nil).want(t, http.StatusOK)
}

// TestConsoleActionsAreGuarded: the console's actions need a session, a
// post from the console's own origin, and (to destroy) the typed project
// id; a refusal changes nothing. (TestConsoleInBrowser clicks them.)
func TestConsoleActionsAreGuarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	c := &consoleClient{t: t, e: e}
	del := url.Values{"confirm": {"demo"}}

	got := c.do("POST", "/console/projects/alice/demo/delete", del)
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/console/login" {
		t.Fatalf("an action without a session: %d to %q", got.status, got.header.Get("Location"))
	}
	c.login(e.token("root", true))
	c.do("POST", "/console/projects/alice/demo/delete", del, "Origin", "https://evil.example").
		want(t, http.StatusForbidden, "only be posted from the console")
	c.do("POST", "/console/projects/alice/demo/delete", url.Values{"confirm": {"dem"}}).
		want(t, http.StatusUnprocessableEntity, "type the project id (demo)")
	c.do("POST", "/console/projects/alice/demo/extend", url.Values{"ttlMinutes": {"0"}}).want(t, http.StatusUnprocessableEntity, "ttlMinutes")
	c.do("POST", "/console/projects/alice/demo/approve", url.Values{"runId": {"1"}}).want(t, http.StatusConflict, "does not require approval")
	if p := e.do("GET", projectPathAliceDemo, alice, nil).project(t); p.DeletionRequestedAt != nil {
		t.Fatal("a refused destroy requested deletion")
	}
	got = c.do("POST", "/console/projects/alice/demo/delete", del)
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/console/projects/alice/demo" {
		t.Fatalf("a confirmed destroy: %d to %q", got.status, got.header.Get("Location"))
	}
	if p := e.do("GET", projectPathAliceDemo, alice, nil).project(t); p.DeletionRequestedAt == nil {
		t.Fatal("a confirmed destroy did not request deletion")
	}
	c.do("GET", "/console/projects/alice/demo", nil).want(t, http.StatusOK, "Destroying")
}
