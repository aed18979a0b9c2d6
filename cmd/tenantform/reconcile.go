package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/billing"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/providers"
)

// terraformStopGrace is how long an interrupted terraform gets to release
// its state lock before it is killed. The reconciler first waits
// SHUTDOWN_GRACE (20 s) for running terraform to finish, then interrupts
// it: 20 s + 8 s stays inside Heroku's 30 s between SIGTERM and SIGKILL.
const terraformStopGrace = 8 * time.Second

// leaseStopMargin is what LEASE_DURATION must leave beyond
// LEASE_RENEW_DEADLINE and terraformStopGrace: the kill, the reaping of
// terraform's processes and the renewal's round trip.
const leaseStopMargin = 2 * time.Second

// runReconcile is `tenantform reconcile`: the reconciler, Heroku's
// terraform process.
func runReconcile(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, log, st, err := startService(ctx, modeReconcile, "reconcile   (configured by environment variables)", args, stderr, getenv)
	if err != nil {
		return err
	}
	defer log.Sync()
	defer st.Close()
	if err := checkStateDatabase(ctx, cfg, st); err != nil {
		return err
	}
	engine, err := newEngine(ctx, cfg, log)
	if err != nil {
		return err
	}
	reg := newMetrics()
	awsSvc, err := newAWSServices(ctx, cfg, st, nil, reg, log)
	if err != nil {
		return err
	}
	recMetrics := metrics.NewReconciler(nil)
	reg.MustRegister(recMetrics, metrics.NewSandbox(engine.SandboxActive()))
	if err := serveMetrics(ctx, cfg, metrics.Handler(reg, newStateCollector(cfg, st, awsSvc, log)), log); err != nil {
		return err
	}
	notifier, err := newNotifier(cfg, st, log)
	if err != nil {
		return err
	}
	if notifier != nil {
		go notifier.Run(ctx)
	}
	awsSvc.start(ctx)
	mem := systemMemoryLimit()
	n := cfg.concurrency(mem, systemCPUs())
	log.Info("reconciler starting", zap.Int("concurrency", n), zap.Bool("concurrency_from_memory", cfg.TFConcurrency == 0),
		zap.Uint64("memory_limit_mb", mem>>20), zap.String("version", buildVersion()))
	if need := uint64(reconcilerMemoryMB+n*cfg.TFRunMemoryMB) << 20; mem > 0 && need > mem {
		log.Warn("the memory limit is below what the concurrent terraform runs may need: runs with the aws provider may be killed for memory",
			zap.Uint64("memory_limit_mb", mem>>20), zap.Uint64("needed_mb", need>>20),
			zap.Int("concurrency", n), zap.Int("run_memory_mb", cfg.TFRunMemoryMB))
	}
	c := newController(cfg, st, engine, awsSvc, recMetrics, log)
	go interruptOnSecondSignal(ctx, c)
	err = c.Run(ctx)
	log.Info("reconciler stopped")
	return err
}

// checkStateDatabase refuses to reconcile when terraform's pg backend
// (TF_STATE_DATABASE_URL) and the store (DATABASE_URL) do not reach the
// same database: the reconciler reads the state through the store, and a
// state it cannot see would make every deletion skip its destroy.
func checkStateDatabase(ctx context.Context, cfg Config, st *store.Store) error {
	if err := st.CheckStateDatabase(ctx, cfg.stateConnString(), tf.DefaultPGSchema); err != nil {
		return fmt.Errorf("cannot start the reconciler: %w", err)
	}
	return nil
}

// newEngine finds (or installs) terraform and builds the engine that runs
// it for every project.
func newEngine(ctx context.Context, cfg Config, log *zap.Logger) (*tf.Engine, error) {
	return newEngineWithLock(ctx, cfg, nil, log)
}

// newEngineWithLock is newEngine with lock in place of the platform's
// provider lock (nil keeps it): dev mode's lock of the test double of
// hashicorp/aws (useDevProvider), which serve and reconcile never use.
func newEngineWithLock(ctx context.Context, cfg Config, lock *providers.Lock, log *zap.Logger) (*tf.Engine, error) {
	bin, ver, err := tf.FindBinary(ctx, tf.FindOptions{
		TFPath:         cfg.TFPath,
		InstallDir:     filepath.Join(cfg.DataDir, "bin"),
		InstallVersion: cfg.TFVersion,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("using terraform", zap.String("path", bin), zap.Stringer("version", ver))
	return tf.New(tf.Config{
		BinaryPath:       bin,
		WorkRoot:         cfg.TFWorkDir,
		PluginCacheDir:   cfg.TFPluginCacheDir,
		FilesystemMirror: cfg.TFProviderMirror,
		ProviderLock:     lock,
		PGConnStr:        cfg.stateConnString(),
		AWSEndpointURL:   cfg.AWSEndpointURL,
		Environment:      cfg.Environment,
		StopGrace:        terraformStopGrace,
		OperationTimeout: cfg.TFOperationTimeout,
		MemoryLimitMB:    cfg.TFMemoryLimitMB,
		CPULimit:         cfg.TFCPULimit,
		OutputLimitBytes: int64(cfg.TFOutputLimitBytes),
		Sandbox:          cfg.TFSandbox,
		Policy:           policyRules(cfg),
		Logger:           log.Named("tf"),
	})
}

// newEstimator prices plans: from the AWS Price List API's prices when
// billing runs, else (and for what it lacks) from the built-in table.
// Without billing the source is an empty cache, so that every line still
// says where its prices came from ("built-in table").
func newEstimator(awsSvc *awsServices) cost.Estimator {
	est := cost.NewEstimator()
	est.Source = awsSvc.priceSource()
	if est.Source == nil {
		est.Source = &billing.PriceCache{}
	}
	return est
}

// newController is the reconciler over st and engine, configured from cfg.
func newController(cfg Config, st *store.Store, engine *tf.Engine, awsSvc *awsServices, m *metrics.Reconciler, log *zap.Logger) *controller.Controller {
	return controller.New(controllerConfig(cfg, st, awsSvc, m, log), st, engine)
}

// controllerConfig is the reconciler's configuration as serve, reconcile
// and dev build it (tests wrap the engine and keep the rest).
func controllerConfig(cfg Config, st *store.Store, awsSvc *awsServices, m *metrics.Reconciler, log *zap.Logger) controller.Config {
	cc := controller.Config{
		Concurrency:          cfg.concurrency(systemMemoryLimit(), systemCPUs()),
		LeaseDuration:        cfg.LeaseDuration,
		RenewDeadline:        cfg.LeaseRenewDeadline,
		StopGrace:            terraformStopGrace,
		ResyncInterval:       cfg.ResyncInterval,
		DriftCheckInterval:   cfg.DriftCheckInterval,
		ShutdownGrace:        cfg.ShutdownGrace,
		MaxResourcesPerUser:  cfg.MaxResourcesPerUser,
		MaxCostPerProjectUSD: cfg.MaxCostPerProjectUSD,
		CostBudgetLimitUSD:   cfg.AWSCostBudgetLimitUSD,
		MaxWorkersPerUser:    cfg.MaxWorkersPerUser,
		OperationTimeout:     cfg.TFOperationTimeout,
		RunRetention:         cfg.RunRetention,
		RunsPerProject:       cfg.RunsPerProject,
		Estimator:            newEstimator(awsSvc),
		Environment:          cfg.Environment,
		Metrics:              m,
		Logger:               log.Named("controller"),
	}
	if cfg.transactionPooled() {
		cc.PollInterval = cfg.DatabasePollInterval
	}
	if awsSvc != nil && awsSvc.creds != nil {
		cc.Credentials = awsSvc.creds
		cc.Inventory = st
		// What an interrupted apply created untagged is the project's own,
		// found by its creation record: adopted or deleted whatever
		// ORPHAN_CLEANUP says.
		cc.Creations = awsSvc.orphans
		if cfg.OrphanCleanup == aws.CleanupDelete {
			cc.Strays = awsSvc.orphans // strays nothing adopts are deleted like orphans
		}
	}
	return cc
}

// interruptOnSecondSignal has the reconciler interrupt running terraform at
// once when a second Ctrl-C arrives while it waits for it to finish.
func interruptOnSecondSignal(ctx context.Context, c *controller.Controller) {
	again := secondSignal(ctx)
	if again == nil {
		return
	}
	<-again
	c.InterruptNow()
}
