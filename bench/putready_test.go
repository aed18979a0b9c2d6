//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/api/client"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

var pairs = flag.Int("pairs", 12, "interleaved pairs of TestPutToReady")
var putReadySelfSupervisor = flag.Bool("self-supervisor", false, "TestPutToReady: start terraform through a re-exec of the test binary instead of tenantform-tf-supervisor")

// The project both sides create: one terraform_data and an output.
const mainTF = `variable "n" {
  type = number
}
resource "terraform_data" "counter" {
  input = var.n
}
output "n" {
  value = terraform_data.counter.output
}
`

const jwtSecret = "bench-secret-0123456789abcdef0123456789"

// TestPutToReady compares, in interleaved pairs, how long a one-resource
// terraform_data project takes to become Ready through tenantform (PUT on
// the API, the reconciler's plan and apply, Ready seen on the watch
// stream) with the same reviewed workflow by hand (init, plan -out,
// show -json, apply, on the same pg backend and database). Target: the
// median through tenantform at most 1.15× the median by hand.
//
//	go test -tags bench ./bench -run TestPutToReady -v -pairs 12
func TestPutToReady(t *testing.T) {
	bin, _, err := tf.FindBinary(context.Background(), tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if err != nil {
		t.Skip("no terraform: ", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbURL := storetest.NewMigratedDatabase(t, store.MigrateURL)
	st, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// tenantform as deployed: the API, and one reconciler with the default
	// concurrency and the sandbox when the kernel has Landlock.
	// The separate supervisor, as the Dockerfile and Heroku install it
	// (-self-supervisor: the engine re-executes this test binary instead).
	var supervisor string
	if !*putReadySelfSupervisor {
		supervisor = awstest.GoBuild(t, t.TempDir(), "../cmd/tenantform-tf-supervisor", tf.SupervisorBinary)
	}
	engine, err := tf.New(tf.Config{BinaryPath: bin, WorkRoot: t.TempDir(), PGConnStr: dbURL,
		Environment: "bench", Logger: zap.NewNop(), SupervisorPath: supervisor})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckStateDatabase(ctx, dbURL, tf.DefaultPGSchema); err != nil {
		t.Fatal(err)
	}
	rec := controller.New(controller.Config{MaxResourcesPerUser: 1 << 20}, st, engine)
	recDone := make(chan struct{})
	go func() { rec.Run(ctx); close(recDone) }()
	defer func() { cancel(); <-recDone }()
	srv := httptest.NewServer(api.New(api.Config{JWTSecret: []byte(jwtSecret), DefaultRegion: "us-east-1",
		Policy: policy.DefaultRules(), Changes: st, MaxResourcesPerUser: 1 << 20}, st))
	defer srv.Close()
	defer cancel() // before srv.Close, which waits for the watch stream
	token, err := api.SignToken([]byte(jwtSecret), "bench", false, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	ready := watchReady(ctx, t, cl)
	hand := newByHand(t, bin, dbURL)

	through := func(i int) (time.Duration, breakdown) {
		project := fmt.Sprintf("p%d", i)
		spec := client.Spec{Files: map[string]string{"main.tf": mainTF},
			Variables: map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}}
		start := time.Now()
		if _, _, err := cl.PutProject(ctx, "bench", project, spec, 0); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-ready.wait(project):
			return at.Sub(start), breakdownOf(ctx, t, st, project, start, at)
		case <-time.After(2 * time.Minute):
			p, _ := cl.GetProject(ctx, "bench", project)
			t.Fatalf("%s not Ready within 2 minutes: %s %s", project, p.Status.Phase, p.Status.Message)
		}
		return 0, breakdown{}
	}

	// One pair unmeasured: the first init of each side creates its schema
	// in the backend, and the page cache warms up.
	through(0)
	hand.run(t, 0)

	load := loadAverage()
	var tenantform, byHand []time.Duration
	var parts []breakdown
	for i := 1; i <= *pairs; i++ {
		// Alternate which side goes first, so that a trend in the
		// machine's load falls on both.
		var a, b time.Duration
		var bd breakdown
		if i%2 == 1 {
			a, bd = through(i)
			b = hand.run(t, i)
		} else {
			b = hand.run(t, i)
			a, bd = through(i)
		}
		tenantform, byHand, parts = append(tenantform, a), append(byHand, b), append(parts, bd)
		t.Logf("pair %2d: tenantform %6.0f ms, by hand %6.0f ms, ratio %.2f", i, ms(a), ms(b), float64(a)/float64(b))
	}
	ratio := float64(median(tenantform)) / float64(median(byHand))
	t.Logf("load average before: %s; after: %s", load, loadAverage())
	t.Logf("%-12s %8s %8s %8s", "PUT → Ready", "min", "median", "max")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"tenantform", tenantform}, {"by hand", byHand}} {
		t.Logf("%-12s %5.0f ms %5.0f ms %5.0f ms", row.name, ms(slices.Min(row.d)), ms(median(row.d)), ms(slices.Max(row.d)))
	}
	t.Logf("ratio of the medians: %.2f (target ≤ 1.15)", ratio)
	t.Logf("tenantform, median of each part: %s", medianBreakdown(parts))
}

// byHand runs the reviewed workflow as an operator would: a fresh
// directory, the pg backend in the same database, and terraform directly.
type byHand struct {
	bin  string
	root string
	env  []string
}

func newByHand(t *testing.T, bin, dbURL string) *byHand {
	root := t.TempDir()
	rc := filepath.Join(root, "cli.tfrc")
	if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &byHand{bin: bin, root: root, env: []string{
		"PATH=" + tf.DefaultSearchPath, "HOME=" + root, "TF_CLI_CONFIG_FILE=" + rc,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "PG_CONN_STR=" + dbURL,
	}}
}

// run creates project i by hand and returns how long it took: init,
// plan -out, show -json (what a reviewer reads), apply of the saved plan,
// in the project's own workspace.
func (h *byHand) run(t *testing.T, i int) time.Duration {
	dir := filepath.Join(h.root, fmt.Sprintf("p%d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"main.tf": mainTF, "backend.tf": "terraform {\n  backend \"pg\" {\n    schema_name = \"by_hand\"\n  }\n}\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ws := []string{"TF_WORKSPACE=" + fmt.Sprintf("hand%d", i)}
	start := time.Now()
	h.terraform(t, dir, nil, "init", "-input=false", "-no-color")
	h.terraform(t, dir, ws, "plan", "-input=false", "-no-color", "-out=plan.tfplan", fmt.Sprintf("-var=n=%d", i))
	h.terraform(t, dir, ws, "show", "-json", "plan.tfplan")
	h.terraform(t, dir, ws, "apply", "-input=false", "-no-color", "-auto-approve", "plan.tfplan")
	return time.Since(start)
}

func (h *byHand) terraform(t *testing.T, dir string, env []string, args ...string) {
	cmd := exec.Command(h.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(h.env), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform %v: %v\n%s", args, err, out)
	}
}

// readyWatch follows the user's projects on the watch stream and records
// when each was first seen Ready.
type readyWatch struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	waiters map[string]chan time.Time
}

func watchReady(ctx context.Context, t *testing.T, cl *client.Client) *readyWatch {
	w := &readyWatch{seen: map[string]time.Time{}, waiters: map[string]chan time.Time{}}
	go func() {
		err := cl.WatchProjects(ctx, "bench", func(ev client.WatchEvent) error {
			if ev.Project.Status.Phase == "Ready" {
				w.ready(ev.Project.ProjectID, time.Now())
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("watch: %v", err)
		}
	}()
	return w
}

func (w *readyWatch) ready(project string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.seen[project]; ok {
		return
	}
	w.seen[project] = at
	if ch, ok := w.waiters[project]; ok {
		ch <- at
	}
}

func (w *readyWatch) wait(project string) <-chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan time.Time, 1)
	if at, ok := w.seen[project]; ok {
		ch <- at
		return ch
	}
	w.waiters[project] = ch
	return ch
}

// breakdown splits one PUT → Ready through tenantform by the runs the
// reconciler recorded (times from the database's clock, which is this
// machine's).
type breakdown struct {
	toPlan, plan, planToApply, apply, toReady time.Duration
}

func breakdownOf(ctx context.Context, t *testing.T, st *store.Store, project string, put, ready time.Time) breakdown {
	runs, err := st.ListRuns(ctx, store.Key{UserID: "bench", ProjectID: project}, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var plan, apply *store.Run
	for i := range runs {
		switch r := &runs[i]; {
		case r.Operation == store.OpPlan && r.FinishedAt != nil:
			plan = r
		case r.Operation == store.OpApply && r.FinishedAt != nil:
			apply = r
		}
	}
	if plan == nil || apply == nil {
		t.Fatalf("%s: Ready without a finished plan and apply run", project)
	}
	return breakdown{
		toPlan:      plan.StartedAt.Sub(put),
		plan:        plan.FinishedAt.Sub(plan.StartedAt),
		planToApply: apply.StartedAt.Sub(*plan.FinishedAt),
		apply:       apply.FinishedAt.Sub(apply.StartedAt),
		toReady:     ready.Sub(*apply.FinishedAt),
	}
}

func medianBreakdown(bs []breakdown) string {
	part := func(f func(breakdown) time.Duration) float64 {
		d := make([]time.Duration, len(bs))
		for i, b := range bs {
			d[i] = f(b)
		}
		return ms(median(d))
	}
	return fmt.Sprintf("PUT → plan run %.0f ms, plan run %.0f ms, plan end → apply run %.0f ms, apply run %.0f ms, apply end → Ready on the watch %.0f ms",
		part(func(b breakdown) time.Duration { return b.toPlan }),
		part(func(b breakdown) time.Duration { return b.plan }),
		part(func(b breakdown) time.Duration { return b.planToApply }),
		part(func(b breakdown) time.Duration { return b.apply }),
		part(func(b breakdown) time.Duration { return b.toReady }))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
