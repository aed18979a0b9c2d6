package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"go.uber.org/zap"
)

// runServe is `tenantform serve`: the API, Heroku's web process.
func runServe(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, log, st, err := startService(ctx, modeServe, "serve   (configured by environment variables)", args, stderr, getenv)
	if err != nil {
		return err
	}
	defer log.Sync()
	defer st.Close()

	// The web process reads the inventory the reconciler keeps (orphans,
	// metrics); it lists nothing in AWS itself.
	reg := newMetrics()
	awsSvc, err := newAWSServices(ctx, cfg, st, nil, reg, log)
	if err != nil {
		return err
	}
	httpMetrics := metrics.NewHTTP(cfg.MetricsMaxSeries)
	reg.MustRegister(httpMetrics)
	scrape := metrics.Handler(reg, newStateCollector(cfg, st, awsSvc, log))
	// All interfaces: Heroku's router and container runtimes connect from
	// outside the dyno.
	srv, err := listenHTTP(net.JoinHostPort("", strconv.Itoa(cfg.Port)), "PORT", newAPIHandler(cfg, st, scrape, httpMetrics, awsSvc.orphanLister(), log), cfg.ShutdownGrace, log)
	if err != nil {
		return err
	}
	log.Info("API listening", zap.Int("port", srv.Addr().Port), zap.String("version", buildVersion()))
	err = srv.Serve(ctx)
	log.Info("API stopped")
	return err
}

// runMigrate is `tenantform migrate`: apply the schema migrations and exit,
// for a release phase or a one-off dyno.
func runMigrate(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	_, log, st, err := startService(ctx, modeMigrate, "migrate   (needs DATABASE_URL)", args, stderr, getenv)
	if err != nil {
		return err
	}
	log.Sync()
	st.Close()
	return nil
}

// startService is the common start of serve, reconcile and migrate: flags
// (none but -h), configuration, logger, and the store, migrated. The caller
// syncs the logger and closes the store.
func startService(ctx context.Context, m mode, synopsis string, args []string, stderr io.Writer, getenv func(string) string) (Config, *zap.Logger, *store.Store, error) {
	if err := parseFlags(newFlagSet(string(m), synopsis, stderr), args); err != nil {
		return Config{}, nil, nil, err
	}
	cfg, log, err := loadConfig(m, getenv, stderr)
	if err != nil {
		return Config{}, nil, nil, err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		log.Sync()
		return Config{}, nil, nil, err
	}
	return cfg, log, st, nil
}

// loadConfig parses and validates the configuration for m and builds the
// logger it asks for. Configuration errors are returned before anything
// starts, each naming its variable.
func loadConfig(m mode, getenv func(string) string, stderr io.Writer) (Config, *zap.Logger, error) {
	cfg, err := parseConfig(m, getenv)
	if err == nil {
		err = cfg.Validate(m)
	}
	if err != nil {
		return cfg, nil, configError{err}
	}
	return cfg, newLogger(cfg, stderr), nil
}

// configError presents configuration problems one per line.
type configError struct{ err error }

func (e configError) Error() string {
	return "invalid configuration:\n  " + strings.ReplaceAll(e.err.Error(), "\n", "\n  ")
}
func (e configError) Unwrap() error { return e.err }
