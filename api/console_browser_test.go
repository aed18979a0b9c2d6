//go:build e2e

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// Settings of the browser test.
const (
	// envRequireChromium makes a missing chromium a failure (CI sets it).
	envRequireChromium = "TENANTFORM_REQUIRE_CHROMIUM"
	// envScreenshots names a directory to write the pages' screenshots
	// to (scripts/console-screenshots.sh).
	envScreenshots = "TENANTFORM_CONSOLE_SCREENSHOTS"
	secret         = "console-browser-test-secret-0123456789"
)

// TestConsoleInBrowser drives the console in headless Chromium against a
// real API server, store and reconciler with real terraform: an admin logs
// in through the form, a project written through the API afterwards shows
// up and turns Ready on the open page without a reload, and its run opens
// with the plan summary and the log. A tenant's hostile output is shown as
// text and never runs.
func TestConsoleInBrowser(t *testing.T) {
	chromium := findChromium(t)
	start := time.Now()
	ctx := context.Background()

	// The server side: store, reconciler with terraform, API.
	dbURL := storetest.NewDatabase(t)
	st, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	bin, _, err := tf.FindBinary(ctx, tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if errors.Is(err, tf.ErrBinaryNotFound) {
		t.Skip("needs terraform >= 1.5 on PATH or TF_PATH")
	}
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	engine, err := tf.New(tf.Config{BinaryPath: bin, WorkRoot: t.TempDir(), PGConnStr: dbURL, Environment: "test",
		StopGrace: 5 * time.Second, LockTimeout: 30 * time.Second, Logger: log.Named("tf")})
	if err != nil {
		t.Fatal(err)
	}
	recCtx, stopReconciler := context.WithCancel(ctx)
	reconcilerDone := make(chan struct{})
	go func() {
		controller.New(controller.Config{Owner: "browser-test", Logger: log.Named("controller")}, st, engine).Run(recCtx)
		close(reconcilerDone)
	}()
	defer func() { stopReconciler(); <-reconcilerDone }()
	// With a change feed the pages follow the watch hub and re-render
	// only once a minute on their own: what turns Ready below without a
	// reload was pushed, not polled.
	srv := httptest.NewServer(api.New(api.Config{JWTSecret: []byte(secret), DefaultRegion: "us-east-1", Logger: log.Named("api"),
		Changes: st}, st))
	defer srv.Close()
	now := time.Now()
	admin, _ := api.SignToken([]byte(secret), "ops", true, time.Hour, now)
	alice, _ := api.SignToken([]byte(secret), "alice", false, time.Hour, now)

	// The browser.
	browser, cancel := newBrowser(t, chromium)
	defer cancel()
	shots := screenshotter(t, browser)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(browser, 120*time.Second) // generous: a loaded machine plans slowly
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			page, _ := chromedp.Run(browser, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v\nthe page:\n%s", what, err, page)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Unauthenticated, /console leads to the login form; a user's token
	// is refused there with the reason.
	do("open the console", chromedp.Navigate(srv.URL+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := location(); !strings.HasSuffix(loc, "/console/login") {
		t.Errorf("unauthenticated /console shows %s, want the login form", loc)
	}
	do("log in with a user token", chromedp.SetValue(chromedp.ID("token"), alice), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(".error")))
	if refusal := text(".error"); !strings.Contains(refusal, "admin token") {
		t.Errorf("a user token's refusal says %q", refusal)
	}
	shots("login")
	do("log in", chromedp.SetValue(chromedp.ID("token"), admin), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("header .who")))
	if loc := location(); strings.Contains(loc, admin) || strings.Contains(loc, "token") {
		t.Errorf("the token is in the URL: %s", loc)
	}
	// A reload would clear this; it must survive until the end.
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__notReloaded = 42; undefined`))

	// A project written now appears and goes Ready on the open page.
	const hostile = `<img src=x onerror=window.__pwned=1>`
	body := `{"files": {"main.tf": "resource \"terraform_data\" \"hello\" { input = \"world\" }\noutput \"greeting\" { value = \"` + hostile + `\" }"}}`
	putProject(t, srv.URL+"/api/v1/users/alice/projects/demo", alice, body)
	do("see the project turn Ready", chromedp.WaitVisible(chromedp.CSS(`tr[data-project="alice/demo"] .phase-ready`)))
	if marker, err := chromedp.Run(browser, chromedp.Evaluate[int](`window.__notReloaded`)); err != nil || marker != 42 {
		t.Errorf("the page was reloaded to show the change (marker %d, %v)", marker, err)
	}
	shots("overview")

	// The project's page lists its runs; the newest is the apply.
	do("open the project", chromedp.Click(chromedp.CSS(`a[href="/console/projects/alice/demo"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.run-link`)))
	if outputs := text("table.outputs"); !strings.Contains(outputs, "<img src=x") {
		t.Errorf("the hostile output is not shown as text: %q", outputs)
	}
	shots("project")
	do("open the run", chromedp.Click(chromedp.CSS(`tr[data-run] a.run-link`)), chromedp.WaitVisible(chromedp.CSS(".plan-counts")))
	if heading := text("h1"); !strings.Contains(heading, "apply") || !strings.Contains(heading, "succeeded") {
		t.Errorf("the newest run is %q, want a succeeded apply", heading)
	}
	if plan := text(".plan-counts"); !strings.Contains(plan, "1 to add") {
		t.Errorf("plan summary %q, want 1 to add", plan)
	}
	if logTail := text("#log"); !strings.Contains(logTail, "Apply complete") {
		t.Errorf("log tail %q lacks terraform's apply output", logTail)
	}
	shots("run")
	if pwned, err := chromedp.Run(browser, chromedp.Evaluate[bool](`window.__pwned === 1`)); err != nil || pwned {
		t.Errorf("the tenant's output ran as HTML on the console (%v, %v)", pwned, err)
	}

	// The console acts. The project page shows the spec; extend moves
	// expiresAt to now + the minutes given.
	do("back to the project", chromedp.Navigate(srv.URL+"/console/projects/alice/demo"), chromedp.WaitVisible(chromedp.ID("extend")))
	if spec := text("section.spec"); !strings.Contains(spec, "main.tf") || !strings.Contains(spec, "us-east-1") {
		t.Errorf("the project page does not show the spec: %q", spec)
	}
	before := time.Now()
	do("extend by 120 minutes", chromedp.SetValue(chromedp.ID("extend-minutes"), "120"), chromedp.Click(chromedp.ID("extend")))
	// The form posts and the browser follows the redirect back to the
	// project page: wait for that page (it says 2h left), not for the
	// button, which the page showed before the post as well.
	extended := time.Now().Add(60 * time.Second)
	for {
		done, err := chromedp.Run(browser, chromedp.Evaluate[bool](
			`document.readyState === "complete" && !!document.getElementById("live") && document.getElementById("live").textContent.includes("2h 0m left")`))
		if err == nil && done {
			break
		}
		if time.Now().After(extended) {
			page, _ := chromedp.Run(browser, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("the project page does not show the extension within 60 s (%v):\n%s", err, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if exp := getProject(t, srv.URL+"/api/v1/users/alice/projects/demo", alice).ExpiresAt; exp.Before(before.Add(119*time.Minute)) || exp.After(time.Now().Add(121*time.Minute)) {
		t.Errorf("after extending by 120 minutes, expiresAt = %s (now %s)", exp, time.Now())
	}
	shots("extended")

	// Approve: a project that requires approval waits; the page shows the
	// plan that will be applied and approves exactly that run.
	putProject(t, srv.URL+"/api/v1/users/alice/projects/gated", alice,
		`{"requireApproval": true, "files": {"main.tf": "resource \"terraform_data\" \"a\" { input = 1 }\nresource \"terraform_data\" \"b\" { input = 2 }"}}`)
	do("see the plan awaiting approval", chromedp.Navigate(srv.URL+"/console/projects/alice/gated"), chromedp.WaitVisible(chromedp.ID("approve")))
	if plan := text("section.approval"); !strings.Contains(plan, "2 to add") {
		t.Errorf("the approval panel does not show the plan to apply: %q", plan)
	}
	shots("approval")
	// One script turn finds and clicks the button, so the page's refresh
	// cannot swap it out between finding and clicking.
	do("approve", chromedp.Evaluate[chromedp.Void](`document.getElementById("approve").click(); undefined`),
		chromedp.WaitVisible(chromedp.CSS(`#live .phase-ready`)))

	// Destroy needs the project's id typed: a wrong one changes nothing.
	do("destroy without confirming", chromedp.SetValue(chromedp.ID("delete-confirm"), "nope"), chromedp.Click(chromedp.ID("delete")),
		chromedp.WaitVisible(chromedp.CSS(".error")))
	if msg := text(".error"); !strings.Contains(msg, "type the project id (gated)") {
		t.Errorf("an unconfirmed destroy says %q", msg)
	}
	if p := getProject(t, srv.URL+"/api/v1/users/alice/projects/gated", alice); p.DeletionRequestedAt != nil {
		t.Fatal("an unconfirmed destroy requested deletion")
	}
	do("destroy, confirmed", chromedp.Navigate(srv.URL+"/console/projects/alice/gated"), chromedp.WaitVisible(chromedp.ID("delete")),
		chromedp.SetValue(chromedp.ID("delete-confirm"), "gated"), chromedp.Click(chromedp.ID("delete")),
		chromedp.WaitVisible(chromedp.CSS(`#live .phase-destroying, #live .phase-destroyed`)))
	do("see it destroyed", chromedp.WaitVisible(chromedp.CSS(`#live .phase-destroyed`)))

	// An admin's force-delete.
	do("force-destroy", chromedp.Navigate(srv.URL+"/console/projects/alice/demo"), chromedp.WaitVisible(chromedp.ID("delete")),
		chromedp.SetValue(chromedp.ID("delete-confirm"), "demo"), chromedp.Click(chromedp.ID("delete-force")), chromedp.Click(chromedp.ID("delete")),
		chromedp.WaitVisible(chromedp.CSS(`#live .phase-destroying, #live .phase-destroyed`)))
	if p, gone := getProjectOrGone(t, srv.URL+"/api/v1/users/alice/projects/demo", alice); !gone && p.DeletionRequestedAt == nil {
		t.Error("force-destroy did not request deletion")
	}
	t.Logf("console browser test took %s", time.Since(start).Round(time.Millisecond))
}

// findChromium returns the browser, or skips (fails under
// TENANTFORM_REQUIRE_CHROMIUM) without one.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(envRequireChromium) != "" {
		t.Fatalf("no chromium on PATH and %s is set (apt-get install chromium)", envRequireChromium)
	}
	t.Skipf("no chromium on PATH (apt-get install chromium; set %s to make this a failure)", envRequireChromium)
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and the flags
// that work in a container without network.
func newBrowser(t *testing.T, path string) (context.Context, context.CancelFunc) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	if err := chromedp.Do(browser); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("cannot start chromium: %v", err)
	}
	return browser, func() { cancelBrowser(); cancelAlloc() }
}

// screenshotter writes full-page PNGs to TENANTFORM_CONSOLE_SCREENSHOTS,
// when it is set.
func screenshotter(t *testing.T, browser context.Context) func(name string) {
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		return func(string) {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(name string) {
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		path := filepath.Join(dir, "console-"+name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("wrote %s", path)
	}
}

func putProject(t *testing.T, url, token, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("PUT %s: %d %s", url, resp.StatusCode, b.String())
	}
}

// apiProject is what the browser test reads of a project through the API.
type apiProject struct {
	ExpiresAt           time.Time  `json:"expiresAt"`
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
}

func getProject(t *testing.T, url, token string) apiProject {
	t.Helper()
	p, gone := getProjectOrGone(t, url, token)
	if gone {
		t.Fatalf("GET %s: 410 Gone", url)
	}
	return p
}

// getProjectOrGone reads a project, or reports that it is gone (410).
func getProjectOrGone(t *testing.T, url, token string) (apiProject, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return apiProject{}, true
	}
	var p apiProject
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p, false
}
