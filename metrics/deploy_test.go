package metrics_test

import (
	"bytes"
	"encoding/json"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/metrics"
)

const (
	dashboardFile = "../deploy/grafana/tenantform.json"
	rulesDir      = "../deploy/prometheus"
)

func TestAlertRulesPassPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = rulesDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exportedNames is every metric name a tenantform process can serve, taken
// from the collectors themselves: the family names they describe, plus the
// _bucket/_sum/_count series of the histograms among them.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	d := openDB(t)
	seedSeveralPhases(t, d)
	cs := fullCollectors(t, d, 100)
	reg := metrics.NewRegistry("1.2.3", cs...)

	descs := make(chan *prometheus.Desc)
	done := make(chan struct{})
	described := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	go func() {
		for d := range descs {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Errorf("cannot read the name of %s", d)
				continue
			}
			described[m[1]] = true
		}
		close(done)
	}()
	for _, c := range append(cs, metrics.NewBuildInfo("x")) {
		c.Describe(descs)
	}
	close(descs)
	<-done

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[mf.GetName()+s] = true
			}
		}
	}
	// Every tenantform family a collector describes must also be served,
	// or a dashboard could name a metric that never has a value.
	for n := range described {
		if strings.HasPrefix(n, "tenantform_") && !names[n] {
			t.Errorf("%s is described but not served", n)
		}
	}
	return names
}

// fullCollectors are every tenantform collector, the state collector
// first, each with something observed so that its vectors have series.
func fullCollectors(t testing.TB, d db, maxSeries int) []prometheus.Collector {
	rec := metrics.NewReconciler(nil)
	rec.ObserveReconcile(metrics.ResultSuccess, 2*time.Second)
	rec.ObserveReconcile("surprise", time.Second)
	rec.ObserveTerraform("apply", 30*time.Second)
	rec.ObserveStartLatency(time.Now().Add(-time.Second), time.Now())
	rec.SetLeasesHeld(3)
	awsCollectors := awsMetrics(t, d)
	h := metrics.NewHTTP(maxSeries)
	// One request through the middleware, so the HTTP vectors have series.
	srv := httptest.NewServer(h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetRoute(r.Context(), "/x")
		metrics.SetUser(r.Context(), "alice")
		w.WriteHeader(http.StatusTooManyRequests)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	state := metrics.NewState(d.st, metrics.StateConfig{MaxSeries: maxSeries, BudgetUSD: 1000, Inventory: inventory{1, 2}})
	return append([]prometheus.Collector{state, rec, h}, awsCollectors...)
}

// collectorCapture is a Registerer that keeps what is registered on it.
type collectorCapture struct{ cs []prometheus.Collector }

func (c *collectorCapture) Register(col prometheus.Collector) error {
	c.cs = append(c.cs, col)
	return nil
}
func (c *collectorCapture) MustRegister(cols ...prometheus.Collector) { c.cs = append(c.cs, cols...) }
func (c *collectorCapture) Unregister(prometheus.Collector) bool      { return false }

// awsMetrics are the collectors the aws package's credentials, inventory
// and orphan services register in a process: built the way cmd/tenantform
// builds them, so the dashboard may only use what they really export.
func awsMetrics(t testing.TB, d db) []prometheus.Collector {
	t.Helper()
	capture := &collectorCapture{}
	base := awssdk.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	if _, err := aws.NewCredentials(aws.CredentialsConfig{Base: base, Registerer: capture}); err != nil {
		t.Fatal(err)
	}
	if _, err := aws.NewRefresher(aws.InventoryConfig{Base: base, Regions: []string{"us-east-1"}, Store: d.st, Registerer: capture}); err != nil {
		t.Fatal(err)
	}
	if _, err := aws.NewOrphans(aws.OrphanConfig{Base: base, Store: d.st, Registerer: capture}); err != nil {
		t.Fatal(err)
	}
	return capture.cs
}

// queries are the PromQL expressions of the dashboard and the alert rules,
// each with where it comes from.
func queries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			out[p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	groups, errs := rulefmt.ParseFile(filepath.Join(rulesDir, "alerts.yml"), false, model.UTF8Validation,
		parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alert rules: %v", errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out["rule "+r.Alert+r.Record] = r.Expr
		}
	}
	return out
}

func TestDashboardAndRulesUseOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	names := exportedNames(t)
	qs := queries(t)
	if len(qs) < 20 {
		t.Fatalf("found only %d queries; is the dashboard or rules file empty?", len(qs))
	}
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for where, q := range qs {
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", where, q, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name == "" {
				t.Errorf("%s: %q selects series without naming a metric", where, q)
				return nil
			}
			used[name] = true
			if !names[name] {
				t.Errorf("%s: %q uses %s, which tenantform does not export", where, q, name)
			}
			return nil
		})
	}
	var unused []string
	for n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(n, "tenantform_") && !used[n] && !used[base+"_bucket"] && !used[base+"_sum"] && !used[base] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	t.Logf("tenantform metrics no panel or rule uses: %v", unused)
}

// A mistyped metric name must fail the check above: this proves the
// parser sees through functions and aggregations to the selector.
func TestUnknownMetricNameIsCaught(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	expr, err := p.ParseExpr(`histogram_quantile(0.9, sum by (le) (rate(tenantform_no_such_seconds_bucket[5m])))`)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			found = append(found, vs.Name)
		}
		return nil
	})
	if len(found) != 1 || found[0] != "tenantform_no_such_seconds_bucket" {
		t.Fatalf("selectors found: %v", found)
	}
}

// The dashboard must import anywhere: a datasource variable, every query
// bound to it, no fixed UIDs, and a panel for each item of the guide's
// monitoring list.
func TestDashboardIsPortable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash["uid"] != nil || dash["id"] != nil {
		t.Errorf("dashboard uid/id = %v/%v, want null so that Grafana assigns them", dash["uid"], dash["id"])
	}
	vars := dash["templating"].(map[string]any)["list"].([]any)
	if len(vars) == 0 || vars[0].(map[string]any)["name"] != "datasource" || vars[0].(map[string]any)["type"] != "datasource" {
		t.Errorf("first template variable is not the datasource variable: %v", vars)
	}
	// Every "datasource" object anywhere must point at the variable.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "datasource" && path != "" {
					if ds, ok := c.(map[string]any); !ok || ds["uid"] != "${datasource}" {
						t.Errorf("%s.datasource = %v, want uid ${datasource}", path, c)
					}
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(path+"["+string(rune('0'+i%10))+"]", c)
			}
		}
	}
	walk("", dash)
	if bytes.Contains(b, []byte("DS_PROMETHEUS")) {
		t.Error("dashboard refers to an import input; use the datasource variable")
	}
	titles := map[string]bool{}
	for _, p := range dash["panels"].([]any) {
		titles[p.(map[string]any)["title"].(string)] = true
	}
	for _, want := range []string{"Active AWS resources per user", "Estimated monthly cost per project", "API rate limiting",
		"Quota use per user", "Failed deployments", "Cost against budget", "Queue depth and oldest wait",
		"Reconciles by result", "Reconcile latency", "Terraform durations", "Leases held by reconciler"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}
