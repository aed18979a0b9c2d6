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
	ClaimDue(ctx context.Context, owner string, leaseUntil, now time.Time) (store.Project, bool, error)
	NextDueAt(ctx context.Context) (time.Time, bool, error)
	RenewLease(ctx context.Context, key store.Key, owner string, until time.Time) error
	SetStatus(ctx context.Context, key store.Key, owner string, st store.Status) error
	FinishReconcile(ctx context.Context, key store.Key, owner string, st store.Status, seenRevision int64, nextDue, now time.Time) error
	ReleaseLease(ctx context.Context, key store.Key, owner string, now time.Time) error
	DeleteFinalized(ctx context.Context, key store.Key, owner, uid string, now time.Time) error
	WakeBlocked(ctx context.Context, now time.Time) error
	StartRun(ctx context.Context, p store.Project, op, reconcileID, owner string, now time.Time) (int64, error)
	FinishRun(ctx context.Context, id int64, res store.RunResult, now time.Time) error
	UnfinishedRuns(ctx context.Context, uid string) ([]store.Run, error)
	AbandonRun(ctx context.Context, id int64, reason string, now time.Time) error
	UserUsage(ctx context.Context, userID, exceptProjectID string) (store.Usage, error)
	TotalMonthlyCost(ctx context.Context, except store.Key) (float64, error)
	GetQuotaOverride(ctx context.Context, userID string) (store.QuotaOverride, error)
	Listen(ctx context.Context, onConnect func(), onNotify func(store.Key), onError func(error))
}

// Terraform is the slice of the terraform engine the reconciler uses.
type Terraform interface {
	Plan(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Plan, error)
	Apply(ctx context.Context, p tf.Project, plan *tf.Plan, creds *tf.Credentials) (*tf.Result, error)
	Destroy(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Result, error)
	DeleteWorkspace(ctx context.Context, p tf.Project) error
	Outputs(ctx context.Context, p tf.Project, creds *tf.Credentials) (map[string]any, error)
}

// Controller claims due projects and reconciles them with a bounded pool of
// workers. Any number of controllers may share one database.
type Controller struct {
	cfg   Config
	store Store
	tf    Terraform
	log   *zap.Logger

	wake chan struct{} // a buffered poke: "look for due work now"

	mu           sync.Mutex
	pendingPlans map[store.Key]pendingPlan // saved plans awaiting approval
}

// pendingPlan is a saved plan held until its generation is approved.
type pendingPlan struct {
	generation int64
	plan       *tf.Plan
}

// New builds a controller; Run starts it.
func New(cfg Config, st Store, engine Terraform) *Controller {
	cfg = cfg.withDefaults()
	return &Controller{
		cfg:          cfg,
		store:        st,
		tf:           engine,
		log:          cfg.Logger.With(zap.String("owner", cfg.Owner)),
		wake:         make(chan struct{}, 1),
		pendingPlans: map[store.Key]pendingPlan{},
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
		select {
		case <-time.After(c.cfg.ShutdownGrace):
			cancelWork()
		case <-workCtx.Done():
		}
	}()

	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go c.store.Listen(listenCtx, c.kick, func(store.Key) { c.kick() }, func(err error) {
		c.log.Warn("lost the notification connection; reconnecting", zap.Error(err))
	})

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
		now := c.cfg.Clock.Now()
		p, ok, err := c.store.ClaimDue(ctx, c.cfg.Owner, now.Add(c.cfg.LeaseDuration), now)
		if err != nil || !ok {
			<-slots
			if err != nil && ctx.Err() == nil {
				c.log.Error("cannot claim work", zap.Error(err))
			}
			c.sleep(ctx)
			continue
		}
		workers.Add(1)
		go func() {
			defer workers.Done()
			defer func() { <-slots; c.kick() }()
			c.reconcileClaimed(workCtx, ctx, p)
		}()
	}
	c.log.Info("reconciler stopping", zap.Duration("grace", c.cfg.ShutdownGrace))
	workers.Wait()
	return nil
}

// sleep waits for a kick, the next due time, or the idle poll.
func (c *Controller) sleep(ctx context.Context) {
	wait := idlePoll
	if next, ok, err := c.store.NextDueAt(ctx); err == nil && ok {
		if d := next.Sub(c.cfg.Clock.Now()); d < wait {
			wait = max(d, 10*time.Millisecond)
		}
	}
	select {
	case <-ctx.Done():
	case <-c.wake:
	case <-c.cfg.Clock.After(wait):
	}
}

func newReconcileID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
