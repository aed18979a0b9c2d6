package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// TestActualCostBesideTheEstimate: once Cost Explorer's figures are
// stored under the projects' Project tags (tf.ProjectTag, as AWS carries
// them), GET of a project and the user's quota show the month-to-date
// actual cost; before that, the field is absent rather than $0.
func TestActualCostBesideTheEstimate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice, bob := e.token("alice", false), e.token("bob", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/alice/projects/two", alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/users/bob/projects/demo", bob, spec(1)).wantStatus(t, http.StatusCreated)

	actual := func(path, token string, status bool) (float64, bool) {
		t.Helper()
		r := e.do("GET", path, token, nil)
		r.wantStatus(t, http.StatusOK)
		var body struct {
			ActualMonthToDateUSD *float64 `json:"actualMonthToDateUSD"`
			Status               struct {
				ActualMonthToDateUSD *float64 `json:"actualMonthToDateUSD"`
			} `json:"status"`
		}
		r.decode(t, &body)
		v := body.ActualMonthToDateUSD
		if status {
			v = body.Status.ActualMonthToDateUSD
		}
		if v == nil {
			return 0, false
		}
		return *v, true
	}
	if v, ok := actual(projectPathAliceDemo, alice, true); ok {
		t.Errorf("before Cost Explorer was asked, the project shows %v USD; want no figure", v)
	}
	if v, ok := actual("/api/v1/users/alice/quota", alice, false); ok {
		t.Errorf("before Cost Explorer was asked, the quota shows %v USD; want no figure", v)
	}

	if err := e.st.ReplaceActualCosts(context.Background(), time.Now(), map[string]float64{
		tf.ProjectTag("alice", "demo"): 1.5, tf.ProjectTag("alice", "two"): 2.25, tf.ProjectTag("bob", "demo"): 9,
	}); err != nil {
		t.Fatal(err)
	}
	// A GET may answer with the figure an earlier GET read for up to
	// actualCostMaxAge (actualcostcache.go): alice/demo's "unknown" of a
	// moment ago still stands, and a minute later the new figure shows.
	if v, ok := actual(projectPathAliceDemo, alice, true); ok {
		t.Errorf("within %s of the GET that found no figure, the project shows %v USD; want the remembered answer (none)", actualCostMaxAge, v)
	}
	e.clock.Add(actualCostMaxAge)
	for _, tt := range []struct {
		path, token string
		status      bool
		want        float64
	}{
		{projectPathAliceDemo, alice, true, 1.5},
		{"/api/v1/users/bob/projects/demo", bob, true, 9},
		{"/api/v1/users/alice/quota", alice, false, 3.75},
		{"/api/v1/users/bob/quota", bob, false, 9},
	} {
		if v, ok := actual(tt.path, tt.token, tt.status); !ok || v != tt.want {
			t.Errorf("GET %s: actualMonthToDateUSD %v (present %v), want %v", tt.path, v, ok, tt.want)
		}
	}
}

// With Cost Explorer off, no actual cost is shown, even one recorded
// while it was on, and a GET does not look for one.
func TestNoActualCostWhenCostExplorerIsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.NoActualCosts = true })
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	if err := e.st.ReplaceActualCosts(context.Background(), time.Now(), map[string]float64{tf.ProjectTag("alice", "demo"): 1.5}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{projectPathAliceDemo, "/api/v1/users/alice/quota"} {
		r := e.do("GET", path, alice, nil)
		r.wantStatus(t, http.StatusOK)
		if strings.Contains(string(r.body), "actualMonthToDateUSD") {
			t.Errorf("GET %s shows an actual cost with Cost Explorer off: %s", path, r.body)
		}
	}
}

// A remembered actual cost serves only while it is younger than
// actualCostMaxAge and of the same UTC month: at a month's turn the
// figure is unknown until the poll asks Cost Explorer again, so last
// month's is never shown as this month's.
func TestRememberedActualCostAgesAndEndsWithTheMonth(t *testing.T) {
	t.Parallel()
	var c actualCostCache
	k := store.Key{UserID: "alice", ProjectID: "demo"}
	read := time.Date(2026, 11, 30, 23, 59, 40, 0, time.UTC)
	november := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c.put(k, &store.ActualCost{USD: 1.5, Month: november}, read)
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{read, true},
		{read.Add(15 * time.Second), true},
		{read.Add(-time.Second), false}, // a clock that went back: read again
		{read.Add(actualCostMaxAge), false},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), false}, // the month turned
	} {
		got, ok := c.get(k, tt.at)
		if ok != tt.want || (ok && got.USD != 1.5) {
			t.Errorf("at %s: remembered %v (served %v), want served %v", tt.at, got, ok, tt.want)
		}
	}
	if _, ok := c.get(store.Key{UserID: "alice", ProjectID: "other"}, read); ok {
		t.Error("another project's cost served from alice/demo's entry")
	}
	// Read just after this server's month turned, from a database whose
	// clock was still in the last one: last month's figure is not served
	// as this month's.
	december := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	c.put(k, &store.ActualCost{USD: 1.5, Month: november}, december)
	if got, ok := c.get(k, december.Add(time.Second)); ok {
		t.Errorf("November's figure served in December: %v", got)
	}
}
