// Package controller is tenantform's reconciler: it claims due projects
// from the store with leases, and converges each one to its spec with
// Terraform — plan, admission (quota and budget), approval, apply, expiry
// and destruction — recording every step in the project's status and every
// terraform operation as a run.
package controller

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Config tunes a reconciler. Zero fields take the defaults in withDefaults.
type Config struct {
	// Owner identifies this replica in leases and runs; it must differ
	// between replicas. Default "<hostname>-<pid>-<random>".
	Owner string
	// Concurrency bounds the projects reconciled at once (TF_CONCURRENCY).
	Concurrency int
	// LeaseDuration is how long a claim lasts unless renewed; renewals
	// happen every third of it. A crashed replica's projects are taken
	// over this long after its last renewal.
	LeaseDuration time.Duration
	// RenewDeadline (LEASE_RENEW_DEADLINE) is how long after its last
	// successful renewal a pass keeps trying to renew its lease. Past it,
	// the pass interrupts its terraform (SIGINT, then kill after
	// StopGrace) and records the run as interrupted, so that terraform has
	// stopped before the lease can expire and another replica take the
	// project over. It must be shorter than LeaseDuration; the pass gives
	// up earlier still if StopGrace would not fit in what is left of the
	// lease. Default two thirds of LeaseDuration.
	RenewDeadline time.Duration
	// StopGrace is how long an interrupted terraform gets before it is
	// killed (the engine's tf.Config.StopGrace). Default 10 seconds.
	StopGrace time.Duration
	// PollInterval, when positive, replaces LISTEN/NOTIFY: the reconciler
	// looks for due projects this often and holds no listening connection
	// (DATABASE_POOL_MODE=transaction, where a pooler shares server
	// connections between transactions and a LISTEN hears nothing). Client
	// writes then wake it within the interval, and a plan running when a
	// newer spec arrives is not cut short, since no notification says so.
	PollInterval time.Duration
	// ResyncInterval is how often an unchanged project is looked at again.
	ResyncInterval time.Duration
	// DriftCheckInterval is how often a Ready project is re-planned (with
	// refresh) to find and correct drift that nothing announced: the slow
	// fallback of the tag-based drift check. Negative disables it.
	DriftCheckInterval time.Duration
	// BackoffBase and BackoffMax bound the exponential retry delay after a
	// failure (jitter is added).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// ShutdownGrace is how long running terraform may continue after a stop
	// request before it is interrupted.
	ShutdownGrace time.Duration
	// MaxResourcesPerUser is the default per-user resource quota
	// (MAX_RESOURCES_PER_USER); user_quotas overrides it per user.
	MaxResourcesPerUser int
	// MaxCostPerProjectUSD caps every project's cost ceiling
	// (MAX_COST_PER_PROJECT, USD/month).
	MaxCostPerProjectUSD float64
	// CostBudgetLimitUSD bounds the estimated monthly cost of all projects
	// together (AWS_COST_BUDGET_LIMIT). 0 disables the check.
	CostBudgetLimitUSD float64
	// MaxWorkersPerUser bounds the workers (leases, across replicas) one
	// user's projects hold at once (MAX_WORKERS_PER_USER). Default 1.
	MaxWorkersPerUser int
	// OperationTimeout is the deadline of every terraform operation
	// (TF_OPERATION_TIMEOUT): on expiry terraform gets SIGINT, then is
	// killed after the engine's stop grace, and the run ends Failed with
	// LimitExceeded. Default 10 minutes.
	OperationTimeout time.Duration
	// DestroyStateOnlyAfter failed destroys switch to destroying from state
	// alone, never evaluating the tenant's configuration. Default 3.
	DestroyStateOnlyAfter int
	// RunRetention keeps the runs and tombstones of deleted projects
	// (RUN_RETENTION). Default 7 days.
	RunRetention time.Duration
	// RunsPerProject is how many runs of a live project are kept
	// (RUNS_PER_PROJECT). Default 100.
	RunsPerProject int
	// StateSchema is the pg backend's schema (tf.Config.PGSchema), read to
	// find out whether a project's state holds any resources.
	StateSchema string
	// ExpiringSoonFraction of the TTL left raises the ExpiringSoon
	// condition. Default 0.1.
	ExpiringSoonFraction float64
	// Credentials hands out each project's AWS credentials (package aws:
	// STS AssumeRole with session tags, cached). Nil: terraform gets none.
	Credentials Credentials
	// Inventory reads the tagged AWS inventory (store). Nil: no tag-based
	// drift check; the slow re-plan remains.
	Inventory Inventory
	// Strays deletes strays that no resource of the plan adopts (package
	// aws, Orphans.Delete: it re-reads each one's live tags first). Nil:
	// such strays are only reported.
	Strays StrayRemover
	// Creations looks up by name what an interrupted apply created but
	// never recorded, for the types tagged by a second call (package aws,
	// Orphans: FindCreated, DeleteCreated). Nil: such resources are not
	// looked for.
	Creations CreationFinder
	// Environment is the Environment tag the engine renders, compared with
	// the inventory's tags.
	Environment string
	// Metrics observes passes and terraform operations (package metrics).
	// Nil: none.
	Metrics Metrics
	// Estimator prices plans. Nil uses cost.NewEstimator()'s built-in table.
	Estimator Estimator
	// Clock is injected so tests control expiry and backoff. Nil = real.
	Clock  Clock
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newReconcileID()[:6])
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = time.Minute
	}
	if c.RenewDeadline <= 0 || c.RenewDeadline >= c.LeaseDuration {
		c.RenewDeadline = c.LeaseDuration * 2 / 3
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = 10 * time.Minute
	}
	if c.DriftCheckInterval == 0 {
		c.DriftCheckInterval = 6 * time.Hour
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 10 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 10 * time.Minute
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 20 * time.Second
	}
	if c.MaxResourcesPerUser <= 0 {
		c.MaxResourcesPerUser = 10
	}
	if c.MaxCostPerProjectUSD <= 0 {
		c.MaxCostPerProjectUSD = 50
	}
	if c.MaxWorkersPerUser <= 0 {
		c.MaxWorkersPerUser = 1
	}
	if c.OperationTimeout <= 0 {
		c.OperationTimeout = 10 * time.Minute
	}
	if c.DestroyStateOnlyAfter <= 0 {
		c.DestroyStateOnlyAfter = 3
	}
	if c.RunRetention <= 0 {
		c.RunRetention = 7 * 24 * time.Hour
	}
	if c.RunsPerProject <= 0 {
		c.RunsPerProject = 100
	}
	if c.StateSchema == "" {
		c.StateSchema = tf.DefaultPGSchema
	}
	if c.ExpiringSoonFraction <= 0 {
		c.ExpiringSoonFraction = 0.1
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.Estimator == nil {
		c.Estimator = cost.NewEstimator()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// credentialsMargin is the validity asked of credentials beyond the
// operation deadline: the stop grace of an interrupted terraform, and
// clock skew with AWS.
const credentialsMargin = 2 * time.Minute

// Credentials hands out one project's AWS credentials.
type Credentials interface {
	// ForOperation returns credentials that stay valid for at least
	// validFor: one terraform operation's deadline and a margin.
	ForOperation(ctx context.Context, userID, projectID string, validFor time.Duration) (*tf.Credentials, error)
}

// Inventory is the slice of the store holding the tagged AWS inventory.
type Inventory interface {
	ProjectInventory(ctx context.Context, projectTag string) (store.Inventory, error)
}

// StrayRemover deletes AWS resources tagged with a project that its state
// does not hold and its configuration does not adopt.
type StrayRemover interface {
	Delete(ctx context.Context, items []store.InventoryItem) []aws.Removal
}

// Metrics are the reconciler's process metrics (package metrics).
type Metrics interface {
	ObserveReconcile(result string, d time.Duration)
	ObserveTerraform(op string, d time.Duration)
	ObserveStartLatency(writtenAt, startedAt time.Time)
	SetLeasesHeld(n int)
	// ObserveInventoryComparison counts one Ready project's state compared
	// with the tagged inventory (metrics.Comparison* results).
	ObserveInventoryComparison(result string)
}

type noMetrics struct{}

func (noMetrics) ObserveReconcile(string, time.Duration)   {}
func (noMetrics) ObserveTerraform(string, time.Duration)   {}
func (noMetrics) ObserveStartLatency(time.Time, time.Time) {}
func (noMetrics) SetLeasesHeld(int)                        {}
func (noMetrics) ObserveInventoryComparison(string)        {}

// Estimator prices the resources of a plan (package cost).
type Estimator interface {
	Estimate(region string, resources []tf.PlannedResource) cost.Estimate
}

// Clock is the reconciler's source of time.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
