package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf/policy"
)

// openStore connects to the database and brings its schema up to date.
// Every long-running subcommand migrates at start; several processes doing
// so at once is safe (the store holds an advisory lock while migrating).
func openStore(ctx context.Context, cfg Config, log *zap.Logger) (*store.Store, error) {
	log.Info("connecting to the database", zap.String("url", redactDatabaseURL(cfg.DatabaseURL)),
		zap.String("pool_mode", cfg.DatabasePoolMode))
	dbURL := cfg.DatabaseURL
	if cfg.transactionPooled() {
		var err error
		if dbURL, err = store.ForTransactionPooling(dbURL); err != nil {
			return nil, fmt.Errorf("DATABASE_URL is %v", err)
		}
	}
	st, err := store.Open(ctx, dbURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := migrateSchema(ctx, cfg, st, log); err != nil {
		st.Close()
		return nil, err
	}
	v, _, err := st.SchemaVersion(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	log.Info("database schema is current", zap.Uint("version", v), zap.Duration("took", time.Since(start)))
	return st, nil
}

// migrateSchema brings the schema up to date over a connection that keeps
// its session: DATABASE_URL itself, or DATABASE_DIRECT_URL behind a
// transaction pooler (golang-migrate's advisory lock is a session lock).
// Behind a pooler with no direct connection it only checks that someone
// (tenantform migrate over a direct URL) has migrated.
func migrateSchema(ctx context.Context, cfg Config, st *store.Store, log *zap.Logger) error {
	if !cfg.transactionPooled() {
		return st.Migrate(ctx)
	}
	if cfg.DatabaseDirectURL == "" {
		v, dirty, err := st.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if dirty || v < store.LatestSchemaVersion() {
			return fmt.Errorf("the database schema is at version %d (dirty=%v), this release needs %d, and with DATABASE_POOL_MODE=transaction "+
				"migrations need a direct connection: set DATABASE_DIRECT_URL, or run `tenantform migrate` with DATABASE_URL set to a direct connection",
				v, dirty, store.LatestSchemaVersion())
		}
		log.Info("not migrating: DATABASE_POOL_MODE=transaction and no DATABASE_DIRECT_URL; the schema is current")
		return nil
	}
	direct, err := store.Open(ctx, cfg.DatabaseDirectURL, 2)
	if err != nil {
		return fmt.Errorf("DATABASE_DIRECT_URL: %w", err)
	}
	defer direct.Close()
	return direct.Migrate(ctx)
}

// policyRules is the tenant configuration policy, shared by the API (checked
// on PUT) and the reconciler (checked again before terraform), so both
// refuse exactly the same things.
func policyRules(cfg Config) policy.Rules {
	r := policy.DefaultRules()
	r.AllowedRegions = cfg.AWSAllowedRegions
	r.PermissionsBoundaryARN = cfg.AWSPermissionsBoundaryARN
	// Role mode: the platform role's policy allows each session only its
	// project's names (tenantform aws-setup), so the plan requires them.
	r.RequireNamePrefix = cfg.AWSRoleARN != ""
	// The lists were checked when the configuration was read.
	if extended, err := r.Extend(cfg.AllowedResourceTypes, cfg.AllowedDataSources); err == nil {
		r = extended
	}
	return r
}

// newMetrics returns the process's Prometheus registry: the Go runtime
// and process collectors, tenantform_build_info, and cs.
func newMetrics(cs ...prometheus.Collector) *prometheus.Registry {
	return metrics.NewRegistry(buildVersion(), cs...)
}

// newAPIHandler is the HTTP API over st, configured from cfg; scrape
// serves its /metrics (metrics.Handler).
func newAPIHandler(cfg Config, st *store.Store, scrape http.Handler, httpMetrics *metrics.HTTP, orphans api.OrphanLister, log *zap.Logger) http.Handler {
	return api.New(api.Config{
		JWTSecret:            []byte(cfg.JWTSecret),
		CORSOrigin:           cfg.CORSOrigin,
		MaxBodyBytes:         cfg.MaxBodyBytes,
		DefaultRegion:        cfg.AWSRegion,
		AllowedRegions:       cfg.AWSAllowedRegions,
		DefaultTTLMinutes:    cfg.ResourceTimeoutMinutes,
		MaxCostPerProjectUSD: cfg.MaxCostPerProjectUSD,
		MaxResourcesPerUser:  cfg.MaxResourcesPerUser,
		MaxProjectsPerUser:   cfg.MaxProjectsPerUser,
		Policy:               policyRules(cfg),
		RateLimitPerSecond:   cfg.RateLimitRPS,
		RateLimitBurst:       cfg.RateLimitBurst,
		Now:                  time.Now,
		Logger:               log,
		Metrics:              scrape,
		HTTPMetrics:          httpMetrics,
		Orphans:              orphans,
		NoActualCosts:        cfg.CostExplorerInterval < 0,
		// Behind a transaction pooler LISTEN fails and the watch hub
		// polls every DATABASE_POLL_INTERVAL instead.
		Changes:           st,
		WatchPollInterval: cfg.DatabasePollInterval,
	}, st)
}

// httpServer serves an API handler and shuts it down gracefully.
type httpServer struct {
	srv   *http.Server
	ln    net.Listener
	grace time.Duration
	log   *zap.Logger
}

// listenHTTP binds addr at once, so that a taken port fails start-up
// (before anything is announced) rather than later in a goroutine.
//
// portSetting names the variable that chose the port, for the message.
func listenHTTP(addr, portSetting string, h http.Handler, grace time.Duration, log *zap.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (set %s to another port): %w", addr, portSetting, err)
	}
	return &httpServer{
		srv: &http.Server{
			Handler: h,
			// Slow or stalled clients must not hold connections forever.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          zap.NewStdLog(log.Named("http")),
		},
		ln:    ln,
		grace: grace,
		log:   log,
	}, nil
}

// Addr is the bound address (the real port when PORT is 0).
func (s *httpServer) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Serve serves until ctx is cancelled, then stops accepting connections
// and lets in-flight requests finish within the grace period (Heroku kills
// the dyno 30 s after SIGTERM) before closing what is left.
func (s *httpServer) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("HTTP server stopped: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("stopping the HTTP server", zap.Duration("grace", s.grace))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		s.log.Warn("requests still running after the grace period; closing them", zap.Error(err))
		s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
