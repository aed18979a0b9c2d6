package metrics_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/metrics"
)

// seedPlatform inserts projects projects spread over users users (phases
// cycling, costs and resources varying, specKiB KiB of Terraform files in each
// spec), three finished runs per project and a quota override for every
// tenth user, straight in SQL.
func seedPlatform(t testing.TB, d db, projects, users, specKiB int) {
	t.Helper()
	d.exec(t, `INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at,
			phase, resource_count, estimated_monthly_cost)
		SELECT 'user-' || (i % $2), 'project-' || i,
			-- Specs hold the tenant's Terraform files, so like real ones
			-- they are large enough to be stored out of line (TOAST).
			jsonb_build_object('maxMonthlyCostUSD', 50, 'files', jsonb_build_object('main.tf',
				(SELECT coalesce(string_agg(md5(i::text || '-' || j), ' '), '') FROM generate_series(1, $3 * 32) AS j))),
			now(), now(), now() + (i % 600) * interval '1 minute', now() + (i % 50 - 10) * interval '1 minute',
			(ARRAY['Pending','Planning','AwaitingApproval','Applying','Ready','Ready','Ready','Blocked','Failed','Destroying'])[1 + i % 10],
			i % 7, (i % 1000) / 10.0
		FROM generate_series(1, $1) AS i`, projects, users, specKiB)
	d.exec(t, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reconcile_id, owner,
			started_at, finished_at, outcome)
		SELECT uid, n, user_id, project_id, 1, op, 'rc', 'o', f - interval '1 minute', f,
			CASE WHEN random() < 0.1 THEN 'failed' ELSE 'succeeded' END
		FROM projects, unnest(ARRAY['plan','apply','destroy']) WITH ORDINALITY AS ops(op, n),
			-- finished over the last 30 days, a few just now
			LATERAL (SELECT now() - (random() * 720)::int * interval '1 hour' AS f) AS t`)
	d.exec(t, `INSERT INTO user_quotas (user_id, max_resources, updated_at)
		SELECT 'user-' || i, 50, now() FROM generate_series(0, $1 - 1, 10) AS i`, users)
	d.exec(t, `ANALYZE`)
}

const (
	scaleProjects = 10_000
	scaleUsers    = 2_500
	scaleCap      = 2_000
)

// The cap holds at 10,000 projects of 2,500 users, and the capped series
// still add up to the totals, in what /metrics serves.
func TestScrapeOf10000ProjectsIsBoundedByTheCap(t *testing.T) {
	t.Parallel()
	d := openDB(t)
	// The size of the specs matters to the query's time (the benchmarks
	// below), not to its figures.
	seedPlatform(t, d, scaleProjects, scaleUsers, 0)
	state := metrics.NewState(d.st, metrics.StateConfig{MaxSeries: scaleCap, BudgetUSD: 1000})
	got := parseExposition(t, exposition(t, metrics.Handler(metrics.NewRegistry("test"), state)))

	for _, fam := range []string{"tenantform_project_estimated_monthly_cost_dollars", "tenantform_project_max_monthly_cost_dollars",
		"tenantform_project_expiry_remaining_seconds", "tenantform_project_ready",
		"tenantform_user_resources", "tenantform_user_resource_quota", "tenantform_user_projects",
		"tenantform_user_estimated_monthly_cost_dollars"} {
		if n := countSeries(got, fam); n != scaleCap {
			t.Errorf("%s has %d series, want exactly the cap %d", fam, n, scaleCap)
		}
	}
	// Nothing is lost past the cap: the capped series add up to the totals.
	var projectCost, projects, resources float64
	for k, v := range got {
		switch {
		case strings.HasPrefix(k, "tenantform_project_estimated_monthly_cost_dollars{"):
			projectCost += v
		case strings.HasPrefix(k, "tenantform_user_projects{"):
			projects += v
		case strings.HasPrefix(k, "tenantform_user_resources{"):
			resources += v
		}
	}
	total := got["tenantform_estimated_monthly_cost_dollars"]
	if math.Abs(projectCost-total) > 0.01 || projects != scaleProjects {
		t.Errorf("capped series sum to cost %v and %v projects; totals are %v and %d", projectCost, projects, total, scaleProjects)
	}
	var wantResources float64
	for i := 1; i <= scaleProjects; i++ {
		wantResources += float64(i % 7)
	}
	if resources != wantResources {
		t.Errorf("user resources sum to %v, want %v", resources, wantResources)
	}
	if got[`tenantform_user_projects{user="_other"}`] == 0 || got[`tenantform_projects{phase="Ready"}`] != 3000 {
		t.Errorf("_other projects = %v, Ready = %v", got[`tenantform_user_projects{user="_other"}`], got[`tenantform_projects{phase="Ready"}`])
	}
	t.Logf("%d series in all for %d projects of %d users, cap %d", len(got), scaleProjects, scaleUsers, scaleCap)
}

// BenchmarkScrape10000Projects times one full /metrics scrape of the state
// collector with a reading per scrape (METRICS_STATE_MAX_AGE=0s: the
// query, building the series and the text encoding) over 10,000 projects
// of 2,500 users and 30,000 runs, capped at 2,000 series per family. The
// figure is recorded in BENCHMARKS.md.
func BenchmarkScrape10000Projects(b *testing.B) {
	d := openDB(b)
	seedPlatform(b, d, scaleProjects, scaleUsers, 6)
	state := metrics.NewState(d.st, metrics.StateConfig{MaxSeries: scaleCap, BudgetUSD: 1000})
	benchScrape(b, metrics.Handler(metrics.NewRegistry("bench"), state), "")
}

// BenchmarkScrape10000ProjectsCached times a scrape between two readings
// of the database (METRICS_STATE_MAX_AGE set, the reading still young):
// the state families served as they were built for the reading, the live
// collectors gathered and encoded, the whole compressed when asked for,
// as Prometheus does.
func BenchmarkScrape10000ProjectsCached(b *testing.B) {
	d := openDB(b)
	seedPlatform(b, d, scaleProjects, scaleUsers, 0)
	state := metrics.NewState(d.st, metrics.StateConfig{MaxSeries: scaleCap, BudgetUSD: 1000, MaxAge: time.Hour})
	h := metrics.Handler(metrics.NewRegistry("bench"), state)
	for _, encoding := range []string{"identity", "gzip"} {
		b.Run(encoding, func(b *testing.B) { benchScrape(b, h, encoding) })
	}
}

func benchScrape(b *testing.B, h http.Handler, acceptEncoding string) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	scrape := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape answered %d", rec.Code)
		}
		return rec.Body.Len()
	}
	scrape() // the reading, and what is built from it for this request
	var size int
	for b.Loop() {
		size = scrape()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// BenchmarkStateQuery10000Projects times the snapshot query alone, to
// tell the database's share of a scrape from the encoding's.
func BenchmarkStateQuery10000Projects(b *testing.B) {
	d := openDB(b)
	seedPlatform(b, d, scaleProjects, scaleUsers, 6)
	ctx := context.Background()
	for b.Loop() {
		if _, err := d.st.MetricsSnapshot(ctx, scaleCap, 10, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
