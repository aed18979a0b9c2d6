package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Store is the slice of the store the reconciler uses.
type Store interface {
	ClaimDue(ctx context.Context, c store.Claim) (store.Project, bool, error)
	NextDueAt(ctx context.Context, now time.Time) (time.Duration, bool, error)
	RenewLease(ctx context.Context, key store.Key, token string, leaseFor time.Duration) (store.LeaseView, error)
	SetStatus(ctx context.Context, key store.Key, token string, st store.Status) error
	FinishReconcile(ctx context.Context, key store.Key, token string, st store.Status, seenRevision int64, nextDue, now time.Time) error
	ReleaseLease(ctx context.Context, key store.Key, token string, now time.Time) error
	MarkExpired(ctx context.Context, key store.Key, token string, seenRevision int64, now time.Time) error
	DeleteFinalized(ctx context.Context, key store.Key, token, uid, reason string, final store.Status, now time.Time) error
	WakeBlocked(ctx context.Context, now time.Time) error
	Admit(ctx context.Context, key store.Key, token string, a store.Admission) (store.AdmissionResult, error)
	StartRun(ctx context.Context, p store.Project, token, op, reason, reconcileID, owner string, now time.Time) (store.RunRef, error)
	FinishRun(ctx context.Context, rowID int64, res store.RunResult, now time.Time) error
	Planfile(ctx context.Context, uid string, number int64) ([]byte, int64, error)
	UnfinishedRuns(ctx context.Context, uid string) ([]store.Run, error)
	AbandonRun(ctx context.Context, rowID int64, reason string, now time.Time) error
	GetProject(ctx context.Context, key store.Key) (store.Project, error)
	GetQuotaOverride(ctx context.Context, userID string) (store.QuotaOverride, error)
	TerraformState(ctx context.Context, schema, workspace string) ([]byte, bool, error)
	DropTerraformState(ctx context.Context, d store.StateDrop) error
	AcquireStateLock(ctx context.Context, key store.Key, token, owner, op string, holdFor time.Duration) error
	ReleaseStateLock(ctx context.Context, key store.Key, token string) error
	StateLockHeld(ctx context.Context, key store.Key, token string) (store.StateLock, bool, error)
	Prune(ctx context.Context, retention time.Duration, keepPerProject int, now time.Time) (int64, error)
	Listen(ctx context.Context, onConnect func(), onNotify func(store.Key), onError func(error))
	CreationStore // creations.go
}

// Terraform is the slice of the terraform engine the reconciler uses.
type Terraform interface {
	Plan(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Plan, error)
	// ApplySaved applies exactly the given planfile, on any replica.
	ApplySaved(ctx context.Context, p tf.Project, planfile []byte, creds *tf.Credentials) (*tf.Result, error)
	Destroy(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Result, error)
	Outputs(ctx context.Context, p tf.Project, creds *tf.Credentials) (map[string]any, error)
	// RemoveWorkdir drops the project's working directory (a cache) once
	// the project is destroyed.
	RemoveWorkdir(ctx context.Context, p tf.Project) error
}

// Controller claims due projects and reconciles them with a bounded pool of
// workers. Any number of controllers may share one database.
type Controller struct {
	cfg   Config
	store Store
	tf    Terraform
	log   *zap.Logger

	wake chan struct{} // a buffered poke: "look for due work now"

	interrupt     chan struct{} // closed by InterruptNow
	interruptOnce sync.Once

	mu       sync.Mutex
	inFlight map[store.Key]*flight // projects this process is reconciling
	// claimedAt is when (on Clock, before the claim was sent) each
	// project in flight was claimed: its lease lasts at least
	// LeaseDuration from then.
	claimedAt map[store.Key]time.Time
	lastPrune time.Time
	// speculativeFirst: the next claim asks the speculative plans' queue
	// first (claimNext alternates).
	speculativeFirst bool
}

// flight is one project being reconciled here. A client write that makes
// the running plan pointless (a new generation, a deletion) cancels it.
type flight struct {
	generation int64
	deleting   bool
	mu         sync.Mutex
	op         string             // the terraform operation running ("" none)
	cancelOp   context.CancelFunc // cancels that operation
	superseded bool               // a client write cancelled the plan
}

// New builds a controller; Run starts it.
func New(cfg Config, st Store, engine Terraform) *Controller {
	cfg = cfg.withDefaults()
	return &Controller{
		cfg:       cfg,
		store:     st,
		tf:        engine,
		log:       cfg.Logger.With(zap.String("owner", cfg.Owner)),
		wake:      make(chan struct{}, 1),
		interrupt: make(chan struct{}),
		inFlight:  map[store.Key]*flight{},
		claimedAt: map[store.Key]time.Time{},
	}
}

// kick makes the controller look for due work at once.
func (c *Controller) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// idlePoll bounds how long the loop sleeps without looking at the
// database, covering what no notification announces (another replica's
// lease expiring, clocks drifting).
const idlePoll = 5 * time.Second

// dbTimeout bounds every database call of the reconciler, so that an
// unreachable database stalls nothing for long.
const dbTimeout = 10 * time.Second

// Run reconciles until ctx is cancelled. Then it stops claiming, gives
// running terraform ShutdownGrace to finish before interrupting it (SIGINT,
// so state locks are released), and hands unfinished projects back.
func (c *Controller) Run(ctx context.Context) error {
	// Work outlives ctx by the grace period: a stop request should not cut
	// an apply short if it can finish in time.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		<-ctx.Done()
		deadline := time.Now().Add(c.cfg.ShutdownGrace)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-time.After(time.Until(deadline)):
				cancelWork()
				return
			case <-c.interrupt:
				c.log.Warn("interrupting running terraform now (SIGINT: it releases its state lock)")
				cancelWork()
				return
			case <-tick.C:
				if n := c.running(); n > 0 {
					c.log.Warn("waiting for running terraform to finish; press Ctrl-C again to interrupt it now",
						zap.Int("operations", n), zap.Duration("interrupting_in", time.Until(deadline).Round(time.Second)))
				}
			case <-workCtx.Done():
				return
			}
		}
	}()

	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	if c.cfg.PollInterval > 0 {
		// Behind a transaction pooler LISTEN would hold no session of its
		// own and hear nothing: the loop polls instead (see sleep).
		c.log.Info("polling for due projects instead of listening", zap.Duration("interval", c.cfg.PollInterval))
	} else {
		go c.store.Listen(listenCtx, c.kick, func(k store.Key) { c.kick(); c.noticeWrite(ctx, k) }, func(err error) {
			c.log.Warn("lost the notification connection; reconnecting", zap.Error(err))
		})
	}

	// Limits come from this process's configuration and may have been
	// raised since projects were refused: give those another look.
	if err := c.store.WakeBlocked(ctx, c.cfg.Clock.Now()); err != nil {
		c.log.Warn("cannot wake blocked projects", zap.Error(err))
	}

	slots := make(chan struct{}, c.cfg.Concurrency)
	var workers sync.WaitGroup
	c.log.Info("reconciler started", zap.Int("concurrency", c.cfg.Concurrency))
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		default:
			// Every worker is busy; a finishing one kicks. Polling here
			// would only spin on work we cannot take.
			select {
			case <-ctx.Done():
			case <-c.wake:
			}
			continue
		}
		p, sp, ok, err := c.claimNext(ctx)
		if err != nil || !ok {
			<-slots
			if err != nil && ctx.Err() == nil {
				c.log.Error("cannot claim work", zap.Error(err))
			}
			c.sleep(ctx)
			continue
		}
		if sp != nil { // a speculative plan (speculative.go)
			workers.Add(1)
			go func() {
				defer workers.Done()
				defer func() { <-slots; c.kick() }()
				c.planSpeculative(workCtx, ctx, *sp)
			}()
			continue
		}
		c.track(p) // before the next claim can look at in-flight keys
		workers.Add(1)
		go func() {
			defer workers.Done()
			defer func() { <-slots; c.kick() }()
			c.reconcileClaimed(workCtx, ctx, p)
		}()
		c.maybePrune(ctx)
	}
	if n := c.running(); n > 0 {
		c.log.Warn("reconciler stopping: waiting for running terraform to finish before interrupting it; press Ctrl-C again to interrupt it now",
			zap.Int("operations", n), zap.Duration("grace", c.cfg.ShutdownGrace))
	} else {
		c.log.Info("reconciler stopping")
	}
	workers.Wait()
	return nil
}

// InterruptNow interrupts running terraform at once (SIGINT, so state
// locks are released) instead of waiting out ShutdownGrace: a second
// Ctrl-C. It only has effect once the controller is stopping.
func (c *Controller) InterruptNow() {
	c.interruptOnce.Do(func() { close(c.interrupt) })
}

// running counts the projects whose pass runs a terraform operation now.
func (c *Controller) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.inFlight {
		f.mu.Lock()
		if f.op != "" {
			n++
		}
		f.mu.Unlock()
	}
	return n
}

// claim leases the next due project, round-robin across users, among users
// holding fewer than MaxWorkersPerUser leases (across all replicas). The
// cap is strict: a worker may idle while one user's many projects wait, so
// that a second user's project, arriving while the first user's slow runs
// hold workers, always finds one free (terraform runs are not preempted).
// Keys in flight here are never claimed twice.
func (c *Controller) claim(ctx context.Context) (store.Project, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	now := c.cfg.Clock.Now()
	p, ok, err := c.store.ClaimDue(ctx, store.Claim{Owner: c.cfg.Owner, LeaseFor: c.cfg.LeaseDuration, Now: now,
		InFlight: c.inFlightKeys(), MaxPerUser: c.cfg.MaxWorkersPerUser})
	if ok {
		c.mu.Lock()
		c.claimedAt[p.Key] = now
		c.mu.Unlock()
	}
	return p, ok, err
}

// claimTime is when this process claimed p (see claimedAt); now for a
// claim it did not record.
func (c *Controller) claimTime(key store.Key) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.claimedAt[key]; ok {
		delete(c.claimedAt, key)
		return t
	}
	return c.cfg.Clock.Now()
}

func (c *Controller) inFlightKeys() []store.Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]store.Key, 0, len(c.inFlight))
	for k := range c.inFlight {
		keys = append(keys, k)
	}
	return keys
}

// noticeWrite cancels a running plan of a project whose spec changed or
// whose deletion was requested: its result would be thrown away. An apply
// or destroy is never interrupted by a client write.
func (c *Controller) noticeWrite(ctx context.Context, key store.Key) {
	c.mu.Lock()
	f, ok := c.inFlight[key]
	c.mu.Unlock()
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, dbTimeout)
		defer cancel()
		p, err := c.store.GetProject(ctx, key)
		if err != nil {
			return
		}
		f.supersedeIfStale(p.Generation, p.DeletionRequestedAt != nil)
	}()
}

// supersedeIfStale cancels the running plan when the row moved on.
func (f *flight) supersedeIfStale(generation int64, deleting bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if (generation != f.generation || deleting != f.deleting) && f.op == store.OpPlan && f.cancelOp != nil {
		f.superseded = true
		f.cancelOp()
	}
}

// sleep waits for a kick, the next due time, or the idle poll.
func (c *Controller) sleep(ctx context.Context) {
	wait := idlePoll
	if c.cfg.PollInterval > 0 {
		wait = c.cfg.PollInterval
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	next, ok, err := c.store.NextDueAt(dctx, c.cfg.Clock.Now())
	cancel()
	if err == nil && ok && next < wait {
		wait = max(next, 10*time.Millisecond)
	}
	select {
	case <-ctx.Done():
	case <-c.wake:
	case <-c.cfg.Clock.After(wait):
	}
}

// maybePrune removes old runs and tombstones, at most once per resync
// interval per process.
func (c *Controller) maybePrune(ctx context.Context) {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	due := now.Sub(c.lastPrune) >= c.cfg.ResyncInterval
	if due {
		c.lastPrune = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	n, err := c.store.Prune(ctx, c.cfg.RunRetention, c.cfg.RunsPerProject, now)
	if err != nil {
		c.log.Warn("cannot prune old runs", zap.Error(err))
	} else if n > 0 {
		c.log.Info("pruned old runs", zap.Int64("runs", n))
	}
}

func newReconcileID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
