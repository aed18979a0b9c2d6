package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// runServe is `tenantform serve`: the API, Heroku's web process.
func runServe(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	flags := newFlagSet("serve", "serve   (configured by environment variables)", stderr)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	cfg, log, err := loadConfig(modeServe, getenv, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	_, metrics := newMetrics()
	// All interfaces: Heroku's router and container runtimes connect from
	// outside the dyno.
	srv, err := listenHTTP(net.JoinHostPort("", strconv.Itoa(cfg.Port)), newAPIHandler(cfg, st, metrics, log), cfg.ShutdownGrace, log)
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
	flags := newFlagSet("migrate", "migrate   (needs DATABASE_URL)", stderr)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	cfg, log, err := loadConfig(modeMigrate, getenv, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	st.Close()
	return nil
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
