package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// Regression tests: each reproduces a way the reconciler once broke its
// promises, against the fake terraform and a real PostgreSQL.

func oneResource() store.Spec {
	return store.Spec{Region: "us-east-1", TTLMinutes: 60, MaxMonthlyCostUSD: 50,
		Files: map[string]string{"main.tf": `resource "terraform_data" "a" {}`}}
}

func (h *harness) key(user, project string) store.Key {
	return store.Key{UserID: user, ProjectID: project}
}

// claimOnly leases the next due project without reconciling it.
func (h *harness) claimOnly() store.Project {
	h.t.Helper()
	p, ok, err := h.c.claim(context.Background())
	if err != nil || !ok {
		h.t.Fatalf("nothing to claim: %v %v", ok, err)
	}
	return p
}

// Two plans of one user at once against a quota of 1: exactly one is
// admitted, whatever the interleaving.
func TestConcurrentAdmission(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxResourcesPerUser = 1; c.Concurrency = 2 })
	var started sync.WaitGroup
	started.Add(2)
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		started.Done()
		started.Wait() // both plans are in flight before either is admitted
		return nil
	}
	h.put("q", "a", oneResource())
	h.put("q", "b", oneResource())
	a := h.claimOnly()
	b, ok, err := h.st.ClaimDue(context.Background(), store.Claim{Owner: h.cfg.Owner, LeaseFor: time.Minute, Now: h.clock.Now(), InFlight: []store.Key{a.Key}})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	var wg sync.WaitGroup
	for _, p := range []store.Project{a, b} {
		wg.Go(func() { h.c.reconcileClaimed(context.Background(), context.Background(), p) })
	}
	wg.Wait()
	phases := map[store.Phase]int{}
	for _, k := range []string{"a", "b"} {
		phases[h.get("q", k).Status.Phase]++
	}
	if phases[store.PhaseReady] != 1 || phases[store.PhaseBlocked] != 1 {
		t.Fatalf("phases %v, want one Ready and one Blocked", phases)
	}
	if n := h.fake.resources("q/a") + h.fake.resources("q/b"); n != 1 {
		t.Fatalf("%d resources applied against a quota of 1", n)
	}
}

// An extend that lands after the reconciler read an expired project wins:
// the project lives. One that lands after the expiry was recorded gets a
// conflict, and the project is destroyed. Never both.
func TestExtendDuringExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.put("e", "lives", oneResource())
	later := oneResource()
	later.TTLMinutes = 120
	h.put("e", "dies", later)
	other := "dies"
	h.reconcileDue()
	h.clock.Advance(61 * time.Minute)

	p := h.claimOnly()
	if p.ProjectID != "lives" {
		t.Fatalf("claimed %s", p.Key)
	}
	// The extend lands between the claim and the expiry.
	if _, err := h.st.Extend(context.Background(), p.Key, h.clock.Now().Add(3*time.Hour), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.c.reconcileClaimed(context.Background(), context.Background(), p)
	h.reconcileDue()
	if got := h.get("e", p.ProjectID); got.DeletionRequestedAt != nil || h.fake.resources(p.Key.String()) != 1 {
		t.Fatalf("an extended project was destroyed: %+v", got.Status)
	}

	// The extend lands during the destroy: it is refused.
	h.clock.Advance(60 * time.Minute)
	var extendErr error
	h.fake.destroyHook = func(ctx context.Context, tp tf.Project) error {
		_, extendErr = h.st.Extend(ctx, h.key("e", other), h.clock.Now().Add(time.Hour), h.clock.Now())
		return nil
	}
	h.reconcileDue()
	if !errors.Is(extendErr, store.ErrConflict) {
		t.Fatalf("extend during the expiry destroy: %v, want a conflict", extendErr)
	}
	if _, err := h.st.GetProject(context.Background(), h.key("e", other)); !errors.Is(err, store.ErrGone) {
		t.Fatalf("expired project: %v", err)
	}
}

// A failed apply of an approved plan drops that plan: the project re-plans
// and waits for a new approval instead of re-applying a stale plan.
func TestFailedApprovedApplyDropsThePlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := oneResource()
	spec.RequireApproval = true
	h.put("ap", "p", spec)
	h.reconcileDue()
	p := h.get("ap", "p")
	if p.Status.Phase != store.PhaseAwaitingApproval || p.Status.PendingPlanRun != 1 {
		t.Fatalf("after plan: %s pending %d", p.Status.Phase, p.Status.PendingPlanRun)
	}
	if _, err := h.st.Approve(context.Background(), p.Key, store.Approval{RunID: 1}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.fake.applyHook = func(context.Context, tf.Project) error { return errors.New("RequestError: send request failed") }
	h.reconcileDue()
	p = h.get("ap", "p")
	if p.Status.Phase != store.PhaseRetrying || p.Status.PendingPlanRun != 0 {
		t.Fatalf("after the failed apply: %s pending %d", p.Status.Phase, p.Status.PendingPlanRun)
	}
	h.fake.applyHook = nil
	for i := 0; i < 3; i++ {
		h.clock.Advance(10 * time.Minute)
		h.reconcileDue()
	}
	p = h.get("ap", "p")
	if p.Status.Phase != store.PhaseAwaitingApproval || p.Status.PendingPlanRun == 1 {
		t.Fatalf("after the backoff: %s pending %d, want a new plan awaiting approval", p.Status.Phase, p.Status.PendingPlanRun)
	}
	if n := h.fake.count("apply", "ap/p"); n != 1 {
		t.Fatalf("%d applies, want the one that failed", n)
	}
}

// A destroy that keeps failing stays visible as DestroyFailed, backs off,
// accepts a corrective PUT, then destroys from state alone.
func TestFailingDestroy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.put("d", "p", oneResource())
	h.reconcileDue()
	h.fake.destroyHook = func(ctx context.Context, p tf.Project) error {
		if strings.Contains(p.Files["main.tf"], "withheld") {
			return nil // the state-only configuration
		}
		return errors.New("Error: Instance cannot be destroyed (prevent_destroy)")
	}
	if _, err := h.st.RequestDeletion(context.Background(), h.key("d", "p"), false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		if n := h.reconcileDue(); n != 1 {
			t.Fatalf("attempt %d: %d passes", attempt, n)
		}
		p := h.get("d", "p")
		c, ok := findCondition(p.Status, CondDestroyFailed)
		if p.Status.Phase != store.PhaseDestroying || !ok || c.Status != "True" || !strings.Contains(p.Status.LastError, "prevent_destroy") {
			t.Fatalf("attempt %d: phase %s condition %+v error %q", attempt, p.Status.Phase, c, p.Status.LastError)
		}
		if attempt == 1 {
			// A corrective PUT is accepted while the destroy fails.
			if _, _, err := h.st.PutSpec(context.Background(), p.Key, counterSpec(1), nil, h.clock.Now()); err != nil {
				t.Fatalf("corrective PUT: %v", err)
			}
			h.put("d", "p", oneResource()) // and back, to keep failing
		}
		h.clock.Advance(h.cfg.BackoffMax + time.Minute)
	}
	h.reconcileDue()
	if p, err := h.st.GetProject(context.Background(), h.key("d", "p")); !errors.Is(err, store.ErrGone) {
		t.Fatalf("after the state-only destroy: %v %+v", err, p.Status)
	}
	if h.fake.resources("d/p") != 0 {
		t.Fatal("resources left in state")
	}
	if n := h.fake.count("rmworkdir", "d/p"); n != 1 {
		t.Errorf("the work directory was removed %d times, want once", n)
	}
}

// A project whose stored variables do not decode can still be deleted.
func TestUndecodableVariablesStillDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.put("v", "p", oneResource())
	h.reconcileDue()
	if _, err := h.st.RequestDeletion(context.Background(), h.key("v", "p"), false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p := h.claimOnly()
	p.Spec.Variables = map[string]json.RawMessage{"n": json.RawMessage(`{not json`)}
	h.c.reconcileClaimed(context.Background(), context.Background(), p)
	if _, err := h.st.GetProject(context.Background(), p.Key); !errors.Is(err, store.ErrGone) {
		t.Fatalf("project with undecodable variables not deleted: %v", err)
	}
}

// A Blocked project with nothing changed is not planned again at resyncs;
// it is when room appears.
func TestBlockedWaitsForRoom(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.MaxResourcesPerUser = 1 })
	h.put("b", "first", oneResource())
	h.reconcileDue()
	h.put("b", "second", oneResource())
	h.reconcileDue()
	if p := h.get("b", "second"); p.Status.Phase != store.PhaseBlocked {
		t.Fatalf("second: %s", p.Status.Phase)
	}
	for i := 0; i < 3; i++ {
		h.clock.Advance(11 * time.Minute)
		h.reconcileDue()
	}
	h.restart()
	if err := h.st.WakeBlocked(context.Background(), h.clock.Now()); err != nil { // a deploy
		t.Fatal(err)
	}
	h.reconcileDue()
	if n := h.fake.count("plan", "b/second"); n != 1 {
		t.Fatalf("%d plans of an unchanged Blocked project across 3 resyncs and a restart, want 1", n)
	}
	if _, err := h.st.RequestDeletion(context.Background(), h.key("b", "first"), false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	if p := h.get("b", "second"); p.Status.Phase != store.PhaseReady {
		t.Fatalf("after room appeared: %s %q", p.Status.Phase, p.Status.Message)
	}
}

// The approved planfile is applied byte for byte by another replica after
// a restart; nothing is planned again.
func TestRestartBetweenApprovalAndApply(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := oneResource()
	spec.RequireApproval = true
	h.put("r", "p", spec)
	h.reconcileDue()
	p := h.get("r", "p")
	saved, _, err := h.st.Planfile(context.Background(), p.UID, p.Status.PendingPlanRun)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.Approve(context.Background(), p.Key, store.Approval{Generation: 1}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Another replica, another engine with an empty workdir.
	other := newFakeTerraform(t, h.dbURL)
	h.tf = other
	h.cfg.Owner = "replica-b"
	h.restart()
	h.reconcileDue()
	if p := h.get("r", "p"); p.Status.Phase != store.PhaseReady {
		t.Fatalf("after approval: %s %q", p.Status.Phase, p.Status.LastError)
	}
	if other.count("plan", "r/p") != 0 || len(other.applied) != 1 || !bytes.Equal(other.applied[0], saved) {
		t.Fatalf("replica b planned %d times and applied %q, want exactly %q", other.count("plan", "r/p"), other.applied, saved)
	}
}

// Drift corrections of a project that requires approval wait for it.
func TestDriftCorrectionWaitsForApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.DriftCheckInterval = time.Hour })
	spec := oneResource()
	spec.RequireApproval = true
	spec.TTLMinutes = 24 * 60
	h.put("dr", "p", spec)
	h.reconcileDue()
	if _, err := h.st.Approve(context.Background(), h.key("dr", "p"), store.Approval{RunID: 1}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	if p := h.get("dr", "p"); p.Status.Phase != store.PhaseReady {
		t.Fatalf("not ready: %s", p.Status.Phase)
	}
	if err := h.fake.writeState(context.Background(), tf.WorkspaceName("dr", "p"), 100, nil); err != nil { // the resource vanished
		t.Fatal(err)
	}
	h.clock.Advance(61 * time.Minute)
	h.reconcileDue()
	p := h.get("dr", "p")
	if p.Status.Phase != store.PhaseAwaitingApproval || !strings.Contains(p.Status.Message, "drift correction") {
		t.Fatalf("drift correction: %s %q", p.Status.Phase, p.Status.Message)
	}
	if h.fake.count("apply", "dr/p") != 1 {
		t.Fatal("a drift correction was applied without approval")
	}
}

// A terraform that never ends is stopped at the operation deadline; the
// project ends Failed with LimitExceeded (terminal) and the lease is freed.
func TestHungTerraform(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.OperationTimeout = 200 * time.Millisecond })
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		<-ctx.Done()
		return ctx.Err()
	}
	h.put("h", "p", oneResource())
	start := time.Now()
	h.reconcileDue()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the pass took %s", took)
	}
	p := h.get("h", "p")
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseFailed || c.Reason != ReasonLimitExceeded || !strings.Contains(p.Status.LastError, "deadline") {
		t.Fatalf("phase %s reason %s error %q", p.Status.Phase, c.Reason, p.Status.LastError)
	}
	if p.LeaseToken != "" {
		t.Fatal("the lease is still held")
	}
	h.clock.Advance(time.Hour - time.Minute)
	h.reconcileDue()
	if n := h.fake.count("plan", "h/p"); n != 1 {
		t.Fatalf("a limit hit was retried: %d plans", n)
	}
}

// DELETE during a running plan cancels it; a project that never applied
// anything is removed without running terraform destroy.
func TestDeleteCancelsPlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	planning := make(chan struct{})
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		close(planning)
		<-ctx.Done()
		return ctx.Err()
	}
	h.put("c", "p", oneResource())
	p := h.claimOnly()
	done := make(chan struct{})
	go func() { h.c.reconcileClaimed(context.Background(), context.Background(), p); close(done) }()
	<-planning
	if _, err := h.st.RequestDeletion(context.Background(), p.Key, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.c.noticeWrite(context.Background(), p.Key) // as the NOTIFY listener does
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the plan was not cancelled by the deletion")
	}
	h.fake.planHook = nil
	h.reconcileDue()
	if _, err := h.st.GetProject(context.Background(), p.Key); !errors.Is(err, store.ErrGone) {
		t.Fatalf("after deletion: %v", err)
	}
	if n := h.fake.count("destroy", "c/p"); n != 0 {
		t.Fatalf("terraform destroy ran %d times for an empty state", n)
	}
	if n := h.fake.count("rmworkdir", "c/p"); n != 1 {
		t.Errorf("the work directory was removed %d times, want once", n)
	}
}

// An admin's forced deletion removes a project whose destroy cannot
// succeed at all.
func TestForcedDeletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.put("f", "p", oneResource())
	h.reconcileDue()
	h.fake.destroyHook = func(context.Context, tf.Project) error { return errors.New("AccessDenied") }
	if _, err := h.st.RequestDeletion(context.Background(), h.key("f", "p"), true, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reconcileDue()
	_, err := h.st.GetProject(context.Background(), h.key("f", "p"))
	var gone *store.GoneError
	if !errors.As(err, &gone) || !strings.Contains(gone.Tombstone.Status.Message, "forced removal") {
		t.Fatalf("forced deletion: %v", err)
	}
}

// A running reconciler with free workers never claims a project it is
// already reconciling: its own lease is taken back only when the project
// is not in flight (regression: the key was registered by the worker, after
// the next claim could already see the lease as this replica's stale one).
func TestRunNeverReconcilesOneProjectTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.Concurrency = 8; c.Clock = nil })
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}
	h.c = New(h.cfg, h.st, h.tf)
	const n = 12
	for i := 0; i < n; i++ {
		if _, _, err := h.st.PutSpec(context.Background(), h.key(fmt.Sprintf("u%d", i%4), fmt.Sprintf("p%d", i)), oneResource(), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { h.c.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	waitFor(t, 30*time.Second, "every project Ready", func() bool {
		for i := 0; i < n; i++ {
			p, err := h.st.GetProject(context.Background(), h.key(fmt.Sprintf("u%d", i%4), fmt.Sprintf("p%d", i)))
			if err != nil || p.Status.Phase != store.PhaseReady {
				return false
			}
		}
		return true
	})
	for i := 0; i < n; i++ {
		key := h.key(fmt.Sprintf("u%d", i%4), fmt.Sprintf("p%d", i))
		runs, err := h.st.ListRuns(context.Background(), key, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if strings.Contains(r.Error, "stopped during") || r.Outcome != store.OutcomeSucceeded {
				t.Errorf("%s run %d (%s) %s: %s", key, r.ID, r.Operation, r.Outcome, r.Error)
			}
		}
		if c := h.fake.count("plan", key.String()); c != 1 {
			t.Errorf("%d plans of the new project %s, want 1", c, key)
		}
	}
}

// The plan-time policy stage: a violation is terminal with the resource
// address, nothing applied; an unknowable cost blocks without re-planning
// at every resync.
func TestPlanTimePolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.violations = []policy.Violation{{Address: "aws_iam_role.r", Message: "trusts an account, not an AWS service", Reason: policy.ReasonPolicy}}
	h.put("pp", "iam", oneResource())
	h.reconcileDue()
	p := h.get("pp", "iam")
	c, _ := findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseFailed || c.Reason != ReasonPolicy || !strings.Contains(p.Status.LastError, "aws_iam_role.r: trusts") {
		t.Fatalf("policy violation in the plan: %s %s %q", p.Status.Phase, c.Reason, p.Status.LastError)
	}
	if h.fake.count("apply", "pp/iam") != 0 {
		t.Fatal("a plan that breaks the policy was applied")
	}

	h.fake.violations = []policy.Violation{{Address: "aws_dynamodb_table.t", Message: "read_capacity is unknown until apply", Reason: policy.ReasonCostUnknown}}
	h.put("pp", "cost", oneResource())
	h.reconcileDue()
	p = h.get("pp", "cost")
	c, _ = findCondition(p.Status, CondReady)
	if p.Status.Phase != store.PhaseBlocked || c.Reason != ReasonCostUnknown {
		t.Fatalf("unknown cost: %s %s %q", p.Status.Phase, c.Reason, p.Status.Message)
	}
	for i := 0; i < 3; i++ {
		h.clock.Advance(11 * time.Minute)
		h.reconcileDue()
	}
	if n := h.fake.count("plan", "pp/cost"); n != 1 {
		t.Fatalf("%d plans of a project blocked on an unknown cost across 3 resyncs, want 1", n)
	}
}

// fakeInventory is a tagged inventory listing fixed items.
type fakeInventory struct{ items []store.InventoryItem }

func (f fakeInventory) ProjectInventory(_ context.Context, projectTag string) (store.Inventory, error) {
	inv := store.Inventory{ListedAt: map[string]time.Time{"us-east-1": time.Now()}}
	for _, it := range f.items {
		if it.Tags["Project"] == projectTag {
			inv.Items = append(inv.Items, it)
		}
	}
	return inv, nil
}

// fakeRemover records the strays it is asked to delete.
type fakeRemover struct {
	mu      sync.Mutex
	deleted []string
}

func (f *fakeRemover) Delete(_ context.Context, items []store.InventoryItem) []aws.Removal {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []aws.Removal
	for _, it := range items {
		f.deleted = append(f.deleted, it.ARN)
		out = append(out, aws.Removal{ARN: it.ARN, Deleted: true})
	}
	return out
}

// A crash mid-apply left a bucket in AWS that the state does not hold. The
// next plan adopts it (an import block into the address that declares it)
// instead of creating it a second time; a stray the configuration does not
// declare is deleted.
func TestStraysAreAdoptedOrRemoved(t *testing.T) {
	t.Parallel()
	tags := map[string]string{"Project": tf.ProjectTag("s", "p"), "ManagedBy": "chart-app-platform", "UserId": "s", "ProjectId": "p"}
	remover := &fakeRemover{}
	h := newHarness(t, func(c *Config) {
		c.Inventory = fakeInventory{items: []store.InventoryItem{
			{ARN: "arn:aws:s3:::uploads", Type: "s3:bucket", Region: "us-east-1", Tags: tags},
			{ARN: "arn:aws:s3:::leftover", Type: "s3:bucket", Region: "us-east-1", Tags: tags},
		}}
		c.Strays = remover
	})
	spec := oneResource()
	spec.Files = map[string]string{"main.tf": `resource "aws_s3_bucket" "uploads" {}`}
	h.put("s", "p", spec)
	h.reconcileDue()
	if p := h.get("s", "p"); p.Status.Phase != store.PhaseReady {
		t.Fatalf("phase %s: %s", p.Status.Phase, p.Status.LastError)
	}
	if n := h.fake.count("plan", "s/p"); n != 2 {
		t.Fatalf("%d plans, want 2 (the second with the import)", n)
	}
	want := []tf.Import{{To: "aws_s3_bucket.uploads", ID: "uploads"}}
	if diff := cmp.Diff(want, h.fake.imports[1]); diff != "" {
		t.Errorf("imports of the second plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"arn:aws:s3:::leftover"}, remover.deleted); diff != "" {
		t.Errorf("deleted strays (-want +got):\n%s", diff)
	}
	if h.fake.count("apply", "s/p") != 1 || h.fake.resources("s/p") != 1 {
		t.Errorf("applies %d, resources %d: want the bucket once", h.fake.count("apply", "s/p"), h.fake.resources("s/p"))
	}
}

// Stopping waits for running terraform up to ShutdownGrace; a second Ctrl-C
// (InterruptNow) interrupts it at once.
func TestInterruptNowDuringShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.ShutdownGrace = time.Minute; c.Clock = nil })
	planning := make(chan struct{})
	interrupted := make(chan struct{})
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		close(planning)
		<-ctx.Done()
		close(interrupted)
		return ctx.Err()
	}
	h.c = New(h.cfg, h.st, h.tf)
	if _, _, err := h.st.PutSpec(context.Background(), h.key("i", "p"), oneResource(), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { h.c.Run(ctx); close(stopped) }()
	<-planning
	cancel()
	select {
	case <-interrupted:
		t.Fatal("terraform was interrupted before the grace period or a second Ctrl-C")
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	h.c.InterruptNow()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the reconciler did not stop after InterruptNow")
	}
	t.Logf("stopped %s after the second Ctrl-C", time.Since(start).Round(time.Millisecond))
}
