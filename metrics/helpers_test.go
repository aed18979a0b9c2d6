package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// db is a migrated store plus a raw pool for seeding rows the way the
// reconciler would have left them.
type db struct {
	st  *store.Store
	raw *pgxpool.Pool
}

func openDB(t testing.TB) db {
	t.Helper()
	ctx := context.Background()
	url := storetest.NewMigratedDatabase(t, store.MigrateURL)
	st, err := store.Open(ctx, url, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	return db{st: st, raw: raw}
}

func (d db) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := d.raw.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// project seeds one project row.
type project struct {
	user, id  string
	phase     store.Phase
	resources int
	cost      float64
	ceiling   float64
	// expiresIn and dueIn are relative to the database's now(), in seconds.
	expiresIn int
	dueIn     int
	leased    bool
}

func (d db) insert(t testing.TB, ps ...project) {
	t.Helper()
	for _, p := range ps {
		lease := "NULL"
		if p.leased {
			lease = "now() + interval '1 minute'"
		}
		d.exec(t, fmt.Sprintf(`INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at,
			phase, resource_count, estimated_monthly_cost, lease_owner, lease_expires_at)
			VALUES ($1, $2, jsonb_build_object('maxMonthlyCostUSD', $3::float8), now(), now(),
				now() + $4 * interval '1 second', now() + $5 * interval '1 second', $6, $7, $8,
				CASE WHEN %[1]s IS NULL THEN NULL ELSE 'r1' END, %[1]s)`, lease),
			p.user, p.id, p.ceiling, p.expiresIn, p.dueIn, string(p.phase), p.resources, p.cost)
	}
}

func (d db) insertRuns(t testing.TB, op, outcome string, n int) {
	t.Helper()
	d.exec(t, `INSERT INTO runs (project_uid, number, user_id, project_id, generation, operation, reconcile_id, owner,
		started_at, finished_at, outcome)
		SELECT gen_random_uuid(), 1, 'u', 'p', 1, $1, 'rc', 'o', now(), now(), $2 FROM generate_series(1, $3)`, op, outcome, n)
}

// gather collects reg into "name{a=\"x\",b=\"y\"}" → value, histograms as
// their _count.
func gather(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			out[seriesName(mf.GetName(), m)] = value(mf.GetType(), m)
		}
	}
	return out
}

// parseExposition reads a text exposition the way gather reads a registry.
func parseExposition(t testing.TB, text string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range fams {
		for _, m := range mf.Metric {
			out[seriesName(mf.GetName(), m)] = value(mf.GetType(), m)
		}
	}
	return out
}

func seriesName(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.Label {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.Counter.GetValue()
	case dto.MetricType_GAUGE:
		return m.Gauge.GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.Histogram.GetSampleCount())
	case dto.MetricType_UNTYPED:
		return m.Untyped.GetValue()
	}
	return 0
}

// countSeries counts the series of one family.
func countSeries(got map[string]float64, family string) int {
	n := 0
	for k := range got {
		if k == family || strings.HasPrefix(k, family+"{") {
			n++
		}
	}
	return n
}

// exposition is what h (a metrics.Handler) serves at /metrics.
func exposition(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// promtool finds promtool or skips the test, saying how to get it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil && os.Getenv("TENANTFORM_REQUIRE_PROMTOOL") != "" {
		t.Fatal("promtool is required here (TENANTFORM_REQUIRE_PROMTOOL) but not installed")
	}
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	return p
}

func goVersion() string { return runtime.Version() }

// keys lists the series of got whose name starts with prefix, for messages.
func keys(got map[string]float64, prefix string) []string {
	var ks []string
	for k := range got {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}
