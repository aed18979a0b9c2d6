//go:build bench

package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/crash"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

var (
	steadyProjects   = flag.String("projects", "10000", "TestSteadyStateProcess: comma-separated project counts (ten per user)")
	steadyDuration   = flag.Duration("duration", 3*time.Minute, "TestSteadyStateProcess: how long the reconciler runs at each size")
	steadyResync     = flag.Duration("resync", time.Minute, "TestSteadyStateProcess: RESYNC_INTERVAL of the reconciler (default 10m in production)")
	steadyListing    = flag.Duration("inventory-interval", 30*time.Second, "TestSteadyStateProcess: INVENTORY_INTERVAL of the reconciler (at least 30s; default 5m in production)")
	steadyWorkers    = flag.String("concurrency", "", "TestSteadyStateProcess: TF_CONCURRENCY of the reconciler (default: its own, auto)")
	steadyMetricsAge = flag.String("metrics-max-age", "", "TestSteadyStateProcess: METRICS_STATE_MAX_AGE of the reconciler (default: its own, 1m)")
)

// TestSteadyStateProcess runs the real `tenantform reconcile` binary at
// rest: N Ready projects of N/10 users, each with one S3 bucket in its
// terraform state, in the AWS emulator (its own process, behind a
// counting proxy) with the platform's tags, and in the stored inventory,
// so that nothing drifts. The resync and inventory intervals are shortened
// (-resync, -inventory-interval) so that several pass in the run. It
// reports, beside issue 18's targets:
//
//   - terraform processes started (TF_PATH is a wrapper that logs each):
//     0 while nothing drifts;
//
//   - whether every project's state was compared with the inventory in
//     every resync interval (tenantform_inventory_comparisons_total, and
//     no project left overdue);
//
//   - tagging calls (GetResources pages) per listing against resources:
//     at most 1 per 100; every other AWS call, by operation;
//
//   - the reconciler's peak RSS (VmHWM): at most 200 MB; its CPU seconds
//     per resync interval and per pass;
//
//   - a /metrics scrape, and, timed by the bench against the same
//     database once the reconciler stopped, the claim finding nothing due,
//     NextDueAt and one project's inventory comparison (state + tagged
//     inventory + comparison, as a pass runs it): each under 50 ms.
//
//     go test -tags bench ./bench -run TestSteadyStateProcess -v -timeout 60m -projects 1000,10000,50000
func TestSteadyStateProcess(t *testing.T) {
	var sizes []int
	for _, f := range strings.Split(*steadyProjects, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 10 {
			t.Fatalf("-projects %q: want comma-separated counts of at least 10", *steadyProjects)
		}
		sizes = append(sizes, n)
	}
	realTF, _, err := tf.FindBinary(context.Background(), tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if err != nil {
		t.Skip("no terraform: ", err)
	}
	dir := t.TempDir()
	bin := awstest.BuildTenantform(t, dir)
	emuBin := awstest.GoBuild(t, dir, "../aws/awstest/cmd/emulator", "emulator")
	var results []steadyResult
	for _, n := range sizes {
		t.Run(fmt.Sprintf("projects=%d", n), func(t *testing.T) {
			results = append(results, runSteady(t, n, bin, emuBin, realTF))
		})
	}
	t.Logf("\n%s", steadyTable(results))
}

// steadyResult is one size's figures.
type steadyResult struct {
	projects               int
	load                   string
	seedTook               time.Duration
	ran                    time.Duration
	resync, listingEvery   time.Duration
	terraform              []string
	passes                 float64
	comparisons            map[string]float64
	notPassed, overdueEnd  int
	maxLag                 time.Duration
	listings, listed       float64
	listingFailures        float64
	passMean               time.Duration
	concurrency            string
	snapshot, orphans      []time.Duration
	getResources           int
	otherCalls             map[string]int
	hwmMB, rssEndMB        float64
	cpu                    float64
	txPerSec               float64
	scrape, claim, nextDue []time.Duration
	claimDue               []time.Duration
	compare                []time.Duration
	series                 int
}

func runSteady(t *testing.T, n int, bin, emuBin, realTF string) steadyResult {
	ctx := context.Background()
	res := steadyResult{projects: n, resync: *steadyResync, listingEvery: *steadyListing, load: loadAverage()}
	dir := t.TempDir()
	start := time.Now()

	dbURL := storetest.NewMigratedDatabase(t, store.MigrateURL)
	st, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckStateDatabase(ctx, dbURL, tf.DefaultPGSchema); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(ctx, dbURL) // the bench's own SQL
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	emuURL := awstest.StartProcess(t, emuBin)
	proxy, err := crash.NewProxy(emuURL)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	created := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	verified := time.Now().Add(-10 * time.Minute).UTC()
	seedBuckets(ctx, t, emuURL, n, created)
	// The listing first: storing it makes due the projects whose
	// resources it shows for the first time, and there are none yet.
	seedInventory(ctx, t, st, db, n, created)
	seededDue := seedProjects(ctx, t, st, db, n, created, verified, *steadyResync)
	res.seedTook = time.Since(start)
	t.Logf("seeded %d projects, states, buckets and their listing in %s (load average %s)", n, res.seedTook.Round(time.Second), loadAverage())

	// terraform behind a wrapper that logs every process it starts.
	procLog := filepath.Join(dir, "terraform-processes.log")
	wrapper := filepath.Join(dir, "terraform")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %q\nexec %q \"$@\"\n", procLog, realTF)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	metricsPort := freePort(t)
	cmd := exec.Command(bin, "reconcile")
	cmd.Env = append(awstest.CleanEnv(),
		"DATABASE_URL="+dbURL, "JWT_SECRET="+jwtSecret, "METRICS_PORT="+strconv.Itoa(metricsPort),
		"LOG_FORMAT=json", "LOG_LEVEL=info", "ENVIRONMENT="+seedEnvironment,
		"AWS_ENDPOINT_URL="+proxy.URL, "AWS_REGION=us-east-1", "AWS_ALLOWED_REGIONS=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCHPLATFORM", "AWS_SECRET_ACCESS_KEY=bench-platform-secret",
		"AWS_ROLE_ARN=arn:aws:iam::000000000000:role/tenantform",
		"RESYNC_INTERVAL="+steadyResync.String(), "INVENTORY_INTERVAL="+steadyListing.String(),
		"TF_PATH="+wrapper, "TENANTFORM_DATA_DIR="+filepath.Join(dir, "data"),
		// Billing would ask the emulator for prices and costs it does
		// not have: not part of the steady state measured here.
		"COST_EXPLORER_INTERVAL=off",
	)
	if *steadyWorkers != "" {
		cmd.Env = append(cmd.Env, "TF_CONCURRENCY="+*steadyWorkers)
	}
	if *steadyMetricsAge != "" {
		cmd.Env = append(cmd.Env, "METRICS_STATE_MAX_AGE="+*steadyMetricsAge)
	}
	logPath := filepath.Join(dir, "reconcile.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	procStart := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	if err := waitMetrics(metricsURL, exited); err != nil {
		t.Fatalf("%v\n%s", err, tailFile(logPath))
	}
	// From here on the process is at rest: its start-up (the terraform
	// version check, the first listing's clients) is behind it.
	cpu0, _ := procCPU(pid)
	xact0 := commits(ctx, t, db)
	runStart := time.Now()
	m0 := scrape(t, metricsURL)
	calls0 := proxy.Counts()
	t.Logf("reconciler pid %d serving /metrics %s after its start; running %s (RESYNC_INTERVAL=%s, INVENTORY_INTERVAL=%s)",
		pid, time.Since(procStart).Round(time.Millisecond), *steadyDuration, *steadyResync, *steadyListing)

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	deadline := time.After(*steadyDuration)
	ticks := 0
loop:
	for {
		select {
		case <-exited:
			t.Fatalf("the reconciler exited:\n%s", tailFile(logPath))
		case <-deadline:
			break loop
		case <-tick.C:
			ticks++
			if ticks%3 == 0 {
				// Every 15 s, as Prometheus scrapes (its default is a
				// minute): a scrape's own cost is part of the CPU figure.
				t0 := time.Now()
				m := scrape(t, metricsURL)
				res.scrape = append(res.scrape, time.Since(t0))
				res.series = len(m)
			}
			// How late the most overdue project not held by a lease is.
			var lag float64
			if err := db.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM now() - min(due_at)), 0) FROM projects
				WHERE due_at < now() AND (lease_expires_at IS NULL OR lease_expires_at < now())`).Scan(&lag); err != nil {
				t.Fatal(err)
			}
			res.maxLag = max(res.maxLag, time.Duration(lag*float64(time.Second)))
		}
	}
	res.ran = time.Since(runStart)
	m1 := scrape(t, metricsURL)
	cpu1, _ := procCPU(pid)
	res.cpu = cpu1 - cpu0
	res.hwmMB, res.rssEndMB = procMemory(t, pid)
	res.txPerSec = float64(commits(ctx, t, db)-xact0) / res.ran.Seconds()
	calls1 := proxy.Counts()
	res.passes = m1.sum("tenantform_reconciles_total") - m0.sum("tenantform_reconciles_total")
	res.comparisons = map[string]float64{}
	for _, r := range []string{"in_sync", "drift", "strays", "stale", "error"} {
		k := `tenantform_inventory_comparisons_total{result="` + r + `"}`
		res.comparisons[r] = m1[k] - m0[k]
	}
	res.listings = m1.sum("tenantform_aws_inventory_listings_total") - m0.sum("tenantform_aws_inventory_listings_total")
	res.listingFailures = m1.sum("tenantform_aws_inventory_listing_failures_total") - m0.sum("tenantform_aws_inventory_listing_failures_total")
	res.listed = m1.sum("tenantform_aws_inventory_listing_duration_seconds_count") - m0.sum("tenantform_aws_inventory_listing_duration_seconds_count")
	if c := m1["tenantform_reconcile_duration_seconds_count"] - m0["tenantform_reconcile_duration_seconds_count"]; c > 0 {
		res.passMean = time.Duration((m1["tenantform_reconcile_duration_seconds_sum"] - m0["tenantform_reconcile_duration_seconds_sum"]) / c * float64(time.Second))
	}
	if b, _ := os.ReadFile(logPath); concurrencyRe.Match(b) {
		m := concurrencyRe.FindSubmatch(b)
		res.concurrency = string(m[1])
	}
	res.otherCalls = map[string]int{}
	for op, c := range calls1 {
		if d := c - calls0[op]; d > 0 {
			if op == "tagging:GetResources" {
				res.getResources = d
			} else {
				res.otherCalls[op] = d
			}
		}
	}
	// Projects never passed since the start: their seeded due time is
	// still theirs (a pass moves it a resync past the pass).
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE due_at <= $1), count(*) FILTER (WHERE due_at < now() - interval '5 seconds') FROM projects`,
		seededDue).Scan(&res.notPassed, &res.overdueEnd); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(procLog); err == nil {
		res.terraform = strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	// Stop the reconciler, then time its queries against the same data.
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	res.claim, res.claimDue, res.nextDue, res.compare = timeQueries(ctx, t, st, db, n, created)
	res.snapshot, res.orphans = timeScrapeParts(ctx, t, st)

	t.Logf("%d projects: %.0f passes in %s, comparisons %v, %d projects never passed, %d overdue at the end, max lag %s",
		n, res.passes, res.ran.Round(time.Second), res.comparisons, res.notPassed, res.overdueEnd, res.maxLag.Round(time.Millisecond))
	t.Logf("concurrency %s, mean pass %s", res.concurrency, res.passMean.Round(time.Millisecond))
	t.Logf("/metrics scrapes in order: %v", roundAll(res.scrape, 100*time.Microsecond))
	t.Logf("terraform processes: %d %q", len(res.terraform), res.terraform)
	t.Logf("AWS calls: GetResources %d in %.0f listings; others %v", res.getResources, res.listings, res.otherCalls)
	t.Logf("RSS peak %.0f MB (end %.0f MB), CPU %.1f s in %s, %.0f transactions/s", res.hwmMB, res.rssEndMB, res.cpu, res.ran.Round(time.Second), res.txPerSec)
	return res
}

// timeQueries times, 20 times each, what a reconciler runs at rest: the
// claim when nothing is due and when everything is (what bounds the passes
// per second: one claim at a time), NextDueAt, and one project's comparison with
// the inventory as a pass makes it (its state from the pg backend, its
// part of the inventory, aws.CompareProject).
func timeQueries(ctx context.Context, t *testing.T, st *store.Store, db *pgxpool.Pool, n int, created time.Time) (claim, claimDue, nextDue, compare []time.Duration) {
	var earliest time.Time
	if err := db.QueryRow(ctx, `SELECT min(due_at) FROM projects`).Scan(&earliest); err != nil {
		t.Fatal(err)
	}
	before := earliest.Add(-time.Second)
	for i := range 20 {
		t0 := time.Now()
		if _, ok, err := st.ClaimDue(ctx, store.Claim{Owner: "bench", LeaseFor: time.Minute, Now: before, MaxPerUser: 1}); err != nil || ok {
			t.Fatalf("claim with nothing due: claimed %v, %v", ok, err)
		}
		claim = append(claim, time.Since(t0))

		// A claim when every project is due: it leases one (the
		// reconciler is stopped), walking the users round-robin.
		t0 = time.Now()
		if _, ok, err := st.ClaimDue(ctx, store.Claim{Owner: "bench", LeaseFor: time.Hour, Now: time.Now().Add(24 * time.Hour), MaxPerUser: 1}); err != nil || !ok {
			t.Fatalf("claim with everything due: claimed %v, %v", ok, err)
		}
		claimDue = append(claimDue, time.Since(t0))

		t0 = time.Now()
		if _, ok, err := st.NextDueAt(ctx, before); err != nil || !ok {
			t.Fatalf("NextDueAt: %v %v", ok, err)
		}
		nextDue = append(nextDue, time.Since(t0))

		s := seededProject(1 + (i*7919)%n)
		t0 = time.Now()
		raw, exists, err := st.TerraformState(ctx, tf.DefaultPGSchema, tf.WorkspaceName(s.user, s.project))
		if err != nil || !exists {
			t.Fatalf("state of %s/%s: %v %v", s.user, s.project, exists, err)
		}
		resources, err := tf.ParseState(raw)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := st.ProjectInventory(ctx, tf.ProjectTag(s.user, s.project))
		if err != nil {
			t.Fatal(err)
		}
		facts := aws.ProjectFacts{UserID: s.user, ProjectID: s.project, Region: "us-east-1", PlatformTags: s.platformTags(created)}
		for _, r := range resources {
			facts.StateARNs = append(facts.StateARNs, r.ARN)
		}
		if c := aws.CompareProject(facts, inv); !c.InSync() {
			t.Fatalf("%s/%s does not match the inventory: %+v", s.user, s.project, c)
		}
		compare = append(compare, time.Since(t0))
	}
	return claim, claimDue, nextDue, compare
}

// concurrencyRe finds the reconciler's worker count in its start-up log.
var concurrencyRe = regexp.MustCompile(`"reconciler started".*"concurrency":(\d+)`)

// timeScrapeParts times, 5 times each, the two reads of a /metrics scrape
// of the reconciler: the state snapshot (store.MetricsSnapshot, as the
// state collector calls it) and the orphan count (the whole inventory and
// every project row, compared: aws.Orphans.List).
func timeScrapeParts(ctx context.Context, t *testing.T, st *store.Store) (snapshot, orphans []time.Duration) {
	for range 5 {
		t0 := time.Now()
		if _, err := st.MetricsSnapshot(ctx, metrics.DefaultMaxSeries, 10, time.Now().Add(-10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		snapshot = append(snapshot, time.Since(t0))
		t0 = time.Now()
		inv, err := st.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		live, err := st.LiveProjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o := aws.FindOrphans(inv.Items, live); len(o) != 0 {
			t.Fatalf("%d orphans, want none", len(o))
		}
		orphans = append(orphans, time.Since(t0))
	}
	return snapshot, orphans
}

func steadyTable(rs []steadyResult) string {
	var b strings.Builder
	row := func(name string, target string, f func(r steadyResult) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range rs {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		fmt.Fprintf(&b, " %s |\n", target)
	}
	fmt.Fprintf(&b, "| projects |")
	for _, r := range rs {
		fmt.Fprintf(&b, " %d |", r.projects)
	}
	fmt.Fprintf(&b, " target |\n|---|")
	for range rs {
		fmt.Fprintf(&b, "---:|")
	}
	fmt.Fprintf(&b, "---|\n")
	intervals := func(r steadyResult) float64 { return r.ran.Seconds() / r.resync.Seconds() }
	row("load average at the start", "", func(r steadyResult) string { return r.load })
	row("seeding (SQL, buckets, listing)", "", func(r steadyResult) string { return r.seedTook.Round(time.Second).String() })
	row("run / resync / inventory interval", "", func(r steadyResult) string {
		return fmt.Sprintf("%s / %s / %s", r.ran.Round(time.Second), r.resync, r.listingEvery)
	})
	row("terraform processes", "0", func(r steadyResult) string { return strconv.Itoa(len(r.terraform)) })
	row("TF_CONCURRENCY (workers)", "", func(r steadyResult) string { return r.concurrency })
	row("passes per resync interval", "= projects", func(r steadyResult) string { return fmt.Sprintf("%.0f", r.passes/intervals(r)) })
	row("passes/s, mean pass", "", func(r steadyResult) string {
		return fmt.Sprintf("%.1f/s, %s", r.passes/r.ran.Seconds(), r.passMean.Round(time.Millisecond))
	})
	row("comparisons in sync / drift, strays, stale, error", "every pass", func(r steadyResult) string {
		return fmt.Sprintf("%.0f / %.0f", r.comparisons["in_sync"], r.comparisons["drift"]+r.comparisons["strays"]+r.comparisons["stale"]+r.comparisons["error"])
	})
	row("projects not compared in the run", "0", func(r steadyResult) string { return strconv.Itoa(r.notPassed) })
	row("most overdue project (max lag)", "< resync", func(r steadyResult) string { return r.maxLag.Round(time.Millisecond).String() })
	row("GetResources calls / listings started, finished, failed", "≤ projects ÷ 100 per listing", func(r steadyResult) string {
		return fmt.Sprintf("%d / %.0f, %.0f, %.0f", r.getResources, r.listings, r.listed, r.listingFailures)
	})
	row("other AWS calls in the run", "", func(r steadyResult) string {
		var ops []string
		for op, c := range r.otherCalls {
			ops = append(ops, fmt.Sprintf("%s %d", op, c))
		}
		slices.Sort(ops)
		return strings.Join(ops, ", ")
	})
	row("RSS peak (VmHWM)", "≤ 200 MB", func(r steadyResult) string { return fmt.Sprintf("%.0f MB", r.hwmMB) })
	row("CPU per resync interval", "", func(r steadyResult) string { return fmt.Sprintf("%.1f s", r.cpu/intervals(r)) })
	row("CPU per pass", "", func(r steadyResult) string {
		if r.passes == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", 1000*r.cpu/r.passes)
	})
	row("CPU per 10 min at the default RESYNC_INTERVAL (extrapolated)", "", func(r steadyResult) string {
		if r.passes == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f s", r.cpu/r.passes*float64(r.projects))
	})
	row("database transactions/s", "", func(r steadyResult) string { return fmt.Sprintf("%.0f", r.txPerSec) })
	ms3 := func(d []time.Duration) string {
		if len(d) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f / %.1f / %.1f ms", ms(slices.Min(d)), ms(median(d)), ms(slices.Max(d)))
	}
	row("/metrics scrape, min / median / max", "< 50 ms", func(r steadyResult) string { return ms3(r.scrape) + fmt.Sprintf(" (%d series)", r.series) })
	row("claim, nothing due", "< 50 ms", func(r steadyResult) string { return ms3(r.claim) })
	row("claim, everything due (leases one)", "< 50 ms", func(r steadyResult) string { return ms3(r.claimDue) })
	row("NextDueAt", "< 50 ms", func(r steadyResult) string { return ms3(r.nextDue) })
	row("one project's inventory comparison", "< 50 ms", func(r steadyResult) string { return ms3(r.compare) })
	row("scrape part: state snapshot (MetricsSnapshot)", "", func(r steadyResult) string { return ms3(r.snapshot) })
	row("scrape part: orphan count (inventory, projects, FindOrphans)", "", func(r steadyResult) string { return ms3(r.orphans) })
	return b.String()
}

// metricValues are the samples of one scrape, by series as written.
type metricValues map[string]float64

func (m metricValues) sum(family string) float64 {
	var s float64
	for k, v := range m {
		if k == family || strings.HasPrefix(k, family+"{") {
			s += v
		}
	}
	return s
}

func scrape(t *testing.T, url string) metricValues {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	m := metricValues{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && i > 0 {
			m[line[:i]] = v
		}
	}
	return m
}

func waitMetrics(url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("the reconciler exited before serving %s", url)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within 2 minutes", url)
}

// procCPU is a process's user and system CPU seconds (/proc/pid/stat).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (in parentheses, which may hold spaces):
	// state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

// procMemory is a process's peak and current resident set (MB).
func procMemory(t *testing.T, pid int) (hwm, rss float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb / 1024
		case "VmRSS:":
			rss = kb / 1024
		}
	}
	return hwm, rss
}

func commits(ctx context.Context, t *testing.T, db *pgxpool.Pool) int64 {
	var n int64
	if err := db.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// roundAll rounds every duration of ds to m, for a log line.
func roundAll(ds []time.Duration, m time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(m)
	}
	return out
}
