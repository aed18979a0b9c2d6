package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// unrenewableStore is a replica's view of the database whose lease
// renewals fail once cut is called, as when its connection to the
// database is cut: nothing else is affected, so what the replica records
// afterwards can be read back.
type unrenewableStore struct {
	*store.Store
	cut atomic.Bool
}

func (s *unrenewableStore) RenewLease(ctx context.Context, key store.Key, token string, leaseFor time.Duration) (store.LeaseView, error) {
	if s.cut.Load() {
		return store.LeaseView{}, errors.New("injected: connection to the database lost")
	}
	return s.Store.RenewLease(ctx, key, token, leaseFor)
}

// pending is how many After channels wait on the fake clock.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// applyTracker is an apply hook that blocks until its context is cancelled
// (terraform interrupted) or the test releases it, and counts the applies
// running at once.
type applyTracker struct {
	running, most atomic.Int32
	calls         atomic.Int32
	release       chan struct{}
	started       chan int32  // the call number, when it starts
	stopped       []chan bool // closed when call i returns; true if cancelled
	onEnd         func(ctx context.Context, p tf.Project, cancelled bool) error
	mu            sync.Mutex
}

func newApplyTracker() *applyTracker {
	return &applyTracker{release: make(chan struct{}), started: make(chan int32, 4),
		stopped: []chan bool{make(chan bool, 1), make(chan bool, 1), make(chan bool, 1), make(chan bool, 1)}}
}

func (a *applyTracker) hook(ctx context.Context, p tf.Project) error {
	n := a.calls.Add(1) - 1
	now := a.running.Add(1)
	for {
		most := a.most.Load()
		if now <= most || a.most.CompareAndSwap(most, now) {
			break
		}
	}
	defer a.running.Add(-1)
	a.started <- n
	var cancelled bool
	select {
	case <-ctx.Done():
		cancelled = true
	case <-a.release:
	}
	var err error
	if a.onEnd != nil {
		err = a.onEnd(ctx, p, cancelled)
	}
	if cancelled && err == nil {
		err = ctx.Err()
	}
	a.stopped[n] <- cancelled
	return err
}

func waitChan[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// runUntilStopped advances clock one second at a time, each time once the
// renewal goroutine waits on it again, until the first apply returns or
// the lease (LeaseDuration from start) would have expired. It returns the
// time the apply was seen stopped, or the zero time if it still ran when
// the lease expired.
func runUntilStopped(t *testing.T, clock *fakeClock, start time.Time, lease time.Duration, stopped <-chan bool) (time.Time, bool) {
	t.Helper()
	guard := time.After(60 * time.Second)
	for clock.Now().Before(start.Add(lease)) {
		for clock.pending() == 0 {
			select {
			case cancelled := <-stopped:
				return clock.Now(), cancelled
			case <-guard:
				t.Fatal("the renewal loop stopped waiting on the clock, but the apply still runs")
			case <-time.After(time.Millisecond):
			}
		}
		select {
		case cancelled := <-stopped:
			return clock.Now(), cancelled
		default:
		}
		clock.Advance(time.Second)
	}
	select {
	case cancelled := <-stopped:
		return clock.Now(), cancelled
	case <-time.After(2 * time.Second): // it had the whole lease to stop
		return time.Time{}, false
	}
}

// expireLeaseInDB makes the project's lease and state lock expire on the
// database's clock: the lease duration has passed there too.
func expireLeaseInDB(t *testing.T, h *harness, key store.Key) {
	t.Helper()
	if _, err := h.fake.pool.Exec(context.Background(), `UPDATE projects SET lease_expires_at = now() - interval '1 second'
		WHERE user_id = $1 AND project_id = $2 AND lease_expires_at IS NOT NULL`, key.UserID, key.ProjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fake.pool.Exec(context.Background(), `UPDATE project_locks SET expires_at = now() - interval '1 second'
		WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID); err != nil && !strings.Contains(err.Error(), "does not exist") {
		t.Fatal(err)
	}
}

// twoReplicas is the harness's database and fake terraform shared by
// replica A, whose renewals can be cut, and replica B; each has its clock.
func twoReplicas(t *testing.T) (h *harness, a *Controller, aStore *unrenewableStore, b *Controller, bClock *fakeClock) {
	h = newHarness(t)
	aStore = &unrenewableStore{Store: h.st}
	cfgA := h.cfg
	cfgA.Owner = "replica-a"
	a = New(cfgA, aStore, h.fake)
	cfgB := h.cfg
	cfgB.Owner = "replica-b"
	bClock = newFakeClock(t0)
	cfgB.Clock = bClock
	b = New(cfgB, h.st, h.fake)
	return h, a, aStore, b, bClock
}

// Expired lease vs a running apply: a replica that cannot renew its lease
// interrupts its apply before the lease can expire, and records the run
// as interrupted; the replica that takes the project over never applies
// while it still does.
func TestExpiredLeaseVsRunningApply(t *testing.T) {
	t.Parallel()
	h, a, aStore, b, _ := twoReplicas(t)
	key := h.key("lena", "web")
	h.put("lena", "web", oneResource())
	applies := newApplyTracker()
	h.fake.applyHook = applies.hook
	ctx := context.Background()

	claimedAt := h.clock.Now()
	p, ok, err := a.claim(ctx)
	if err != nil || !ok {
		t.Fatalf("replica A claims: %v %v", ok, err)
	}
	aDone := make(chan struct{})
	go func() { defer close(aDone); a.reconcileClaimed(ctx, ctx, p) }()
	waitChan(t, applies.started, "replica A's apply")
	aStore.cut.Store(true)

	stoppedAt, cancelled := runUntilStopped(t, h.clock, claimedAt, h.cfg.LeaseDuration, applies.stopped[0])
	if stoppedAt.IsZero() || !cancelled {
		t.Errorf("replica A's apply still ran when its lease expired (%s after the claim)", h.cfg.LeaseDuration)
	} else if left := claimedAt.Add(h.cfg.LeaseDuration).Sub(stoppedAt); left < 10*time.Second+stopMargin {
		t.Errorf("replica A's apply was interrupted %s before its lease could expire; the stop grace needs %s", left, 10*time.Second+stopMargin)
	}

	// The lease has expired on the database's clock: B takes over.
	expireLeaseInDB(t, h, key)
	bp, ok, err := b.claim(ctx)
	if err != nil || !ok {
		t.Fatalf("replica B claims the project once A's lease expired: %v %v", ok, err)
	}
	bDone := make(chan struct{})
	go func() { defer close(bDone); b.reconcileClaimed(ctx, ctx, bp) }()
	waitChan(t, applies.started, "replica B's apply")
	close(applies.release)
	waitChan(t, bDone, "replica B's pass")
	waitChan(t, aDone, "replica A's pass")

	if most := applies.most.Load(); most != 1 {
		t.Errorf("%d applies of one project ran at once; want 1", most)
	}
	runs, err := h.st.ListRuns(ctx, key, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var interrupted bool
	for _, r := range runs {
		if r.Owner == "replica-a" && r.Operation == store.OpApply {
			interrupted = r.Outcome == store.OutcomeInterrupted && strings.Contains(r.Error, "lease could not be renewed")
			if !interrupted {
				t.Errorf("replica A's apply ended %q (%s); want interrupted because the lease could not be renewed", r.Outcome, r.Error)
			}
		}
	}
	if got := h.get("lena", "web").Status.Phase; got != store.PhaseReady {
		t.Errorf("after the takeover: phase %s, want Ready", got)
	}
}

// Finalizer vs an open apply: a DELETE during a first apply whose lease
// expires must not leave a deleted (410) project whose state still holds
// what the apply created.
func TestFinalizerVsOpenApply(t *testing.T) {
	t.Parallel()
	h, a, aStore, b, bClock := twoReplicas(t)
	key := h.key("lena", "site")
	h.put("lena", "site", oneResource())
	applies := newApplyTracker()
	ws := tf.WorkspaceName(key.UserID, key.ProjectID)
	// Interrupted or not, the apply created its one resource: terraform
	// records what it created before it stops.
	applies.onEnd = func(ctx context.Context, p tf.Project, cancelled bool) error {
		if p.ProjectID != key.ProjectID {
			return nil
		}
		serial, _ := h.fake.state(context.Background(), ws)
		return h.fake.writeState(context.Background(), ws, serial+1, []string{"terraform_data.a"})
	}
	h.fake.applyHook = applies.hook
	ctx := context.Background()

	claimedAt := h.clock.Now()
	p, ok, err := a.claim(ctx)
	if err != nil || !ok {
		t.Fatalf("replica A claims: %v %v", ok, err)
	}
	aDone := make(chan struct{})
	go func() { defer close(aDone); a.reconcileClaimed(ctx, ctx, p) }()
	waitChan(t, applies.started, "replica A's first apply")
	aStore.cut.Store(true)
	if _, err := h.st.RequestDeletion(ctx, key, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	runUntilStopped(t, h.clock, claimedAt, h.cfg.LeaseDuration, applies.stopped[0])

	expireLeaseInDB(t, h, key)
	bp, ok, err := b.claim(ctx)
	if err != nil || !ok {
		t.Fatalf("replica B claims the project once A's lease expired: %v %v", ok, err)
	}
	b.reconcileClaimed(ctx, ctx, bp)
	close(applies.release) // if A still applied, it finishes now
	waitChan(t, aDone, "replica A's pass")
	// B retries with backoff while anything refuses the drop.
	for i := 0; i < 10; i++ {
		if _, err := h.st.GetProject(ctx, key); errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrGone) {
			break
		}
		bClock.Advance(10 * time.Minute)
		expireLeaseInDB(t, h, key)
		if bp, ok, err = b.claim(ctx); err != nil {
			t.Fatal(err)
		} else if ok {
			b.reconcileClaimed(ctx, ctx, bp)
		}
	}

	_, err = h.st.GetProject(ctx, key)
	deleted := errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrGone)
	if !deleted {
		t.Fatalf("the project was not deleted: %v", err)
	}
	if n := h.fake.resources("lena/site"); n != 0 {
		t.Fatalf("the project is deleted but its state holds %d resource(s): leaked, and inherited by a project re-created under its name", n)
	}
}

// The same with real terraform: the interruption reaches terraform through
// the engine (SIGINT, then a kill after the stop grace, of its whole
// process group), the pass ends before the lease could expire, and nothing
// it started still runs. The terraform here applies, then hangs before
// exiting, as terraform waiting on a provider that never answers does.
func TestExpiredLeaseInterruptsRealTerraform(t *testing.T) {
	t.Parallel()
	h := newStoreHarness(t, nil)
	real := terraformBinary(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "hanging")
	hang := filepath.Join(dir, "terraform")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = apply ]; then %s \"$@\"; sleep 300 & echo $$ $! > %s; wait; fi\nexec %s \"$@\"\n", real, marker, real)
	if err := os.WriteFile(hang, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// The hanging wrapper writes its marker outside the workdir, which the
	// sandbox (rightly) forbids: this test is about leases, not Landlock.
	engine, err := tf.New(tf.Config{BinaryPath: hang, WorkRoot: t.TempDir(), PGConnStr: h.dbURL,
		Environment: "test", StopGrace: 3 * time.Second, LockTimeout: 30 * time.Second, Logger: h.cfg.Logger,
		Sandbox: tf.SandboxOff})
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.StopGrace = 3 * time.Second
	aStore := &unrenewableStore{Store: h.st}
	c := New(h.cfg, aStore, engine)
	key := h.key("kim", "hang")
	h.put("kim", "hang", counterSpec(1))
	ctx := context.Background()

	claimedAt := h.clock.Now()
	p, ok, err := c.claim(ctx)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	ended := make(chan bool, 1)
	go func() { c.reconcileClaimed(ctx, ctx, p); ended <- true }()
	waitFor(t, 2*time.Minute, "terraform apply to hang", func() bool {
		b, err := os.ReadFile(marker)
		return err == nil && len(b) > 0
	})
	aStore.cut.Store(true)
	stoppedAt, _ := runUntilStopped(t, h.clock, claimedAt, h.cfg.LeaseDuration, ended)
	if stoppedAt.IsZero() {
		t.Fatalf("the pass still ran when its lease expired (%s after the claim)", h.cfg.LeaseDuration)
	}
	b, _ := os.ReadFile(marker)
	pids := strings.Fields(string(b))
	if len(pids) != 2 {
		t.Fatalf("marker %q", b)
	}
	tfPid, _ := strconv.Atoi(pids[0])
	child, _ := strconv.Atoi(pids[1])
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) }) // the process-group reaper's business
	if err := syscall.Kill(tfPid, 0); err == nil {
		syscall.Kill(tfPid, syscall.SIGKILL)
		t.Errorf("terraform (process %d) still runs after the pass ended", tfPid)
	}
	runs, err := h.st.ListRuns(ctx, key, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 || runs[0].Operation != store.OpApply || runs[0].Outcome != store.OutcomeInterrupted {
		t.Fatalf("runs %+v; want the apply last, interrupted", runs)
	}
}
