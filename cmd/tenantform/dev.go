package main

import (
	"context"
	"errors"
	"fmt"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store/localpg"
	"github.com/tenantform/tenantform/tf/providers"
)

// devUser is the user dev mode prints a token for.
const devUser = "demo"

// devAdmin is the admin whose token dev prints for the console.
const devAdmin = "ops"

// The keys of a dev session against the emulator, which checks none.
const (
	devEmulatorAccessKeyID = "AKIATENANTFORMDEVEMU"
	devEmulatorSecretKey   = "tenantform-dev-emulator-accepts-any-key"
)

// devTokenTTL is how long the printed demo token lasts: a working day.
const devTokenTTL = 24 * time.Hour

// runDev is `tenantform dev`: API and reconciler in one process, on a
// private PostgreSQL unless DATABASE_URL names one.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	flags := newFlagSet("dev", "dev [--data-dir DIR] [--aws auto|emulator|aws] [--aws-provider auto|double|registry]", stderr)
	dataDir := flags.String("data-dir", "", "where the private PostgreSQL, the JWT secret and terraform work directories live (overrides TENANTFORM_DATA_DIR)")
	awsFlag := flags.String("aws", devAWSAuto, "emulator: an in-process AWS emulator (binaries built with -tags emulator); aws: the AWS the environment configures; auto: the emulator when built in and no AWS credentials are configured")
	providerFlag := flags.String("aws-provider", devProviderAuto, "with the emulator, where hashicorp/aws comes from: auto: the real provider from TF_PROVIDER_MIRROR (else "+defaultProviderMirror+") when it is there, else the test double built into this binary; double: the test double; registry: as configured (the registry, or TF_PROVIDER_MIRROR)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	awsMode, err := devAWSMode(*awsFlag, getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		// Exactly as if TENANTFORM_DATA_DIR were set, so that the defaults
		// derived from it (TF_WORK_DIR) follow.
		getenv = withEnv(getenv, "TENANTFORM_DATA_DIR", *dataDir)
	}
	cfg, log, err := loadConfig(modeDev, getenv, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	awsNote := "as configured by the environment"
	// The emulator accepts any keys; the default chain has none to give.
	// Like all credentials they are redacted from every run's log, so they
	// must be no word terraform or the provider prints ("emulator" was,
	// and became [REDACTED] everywhere).
	var emulatorCredentials awssdk.CredentialsProvider
	if awsMode == devAWSEmulator {
		emulatorCredentials = awssdk.NewCredentialsCache(credentials.NewStaticCredentialsProvider(devEmulatorAccessKeyID, devEmulatorSecretKey, ""))
		url, stop, err := startDevEmulator(&cfg)
		if err != nil {
			return err
		}
		defer stop()
		awsNote = "in-process emulator at " + url
		log.Info("AWS emulator started; terraform's aws provider points at it", zap.String("url", url))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create the data directory: %w", err)
	}
	// Say what is busy in one line, before anything starts.
	if err := checkDevResourcesFree(cfg); err != nil {
		return err
	}
	// The provider lock of the test double, when dev serves it; nil is the
	// platform's.
	var providerLock *providers.Lock
	if awsMode == devAWSEmulator {
		var note string
		if note, providerLock, err = useDevProvider(&cfg, *providerFlag, log); err != nil {
			return err
		}
		awsNote += "\n  Provider  " + note
	}

	// Everything below stops when ctx ends or when any part fails.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	dbNote := "from DATABASE_URL"
	if cfg.DatabaseURL == "" {
		log.Info("starting a private PostgreSQL", zap.String("data_dir", cfg.DataDir))
		pg, err := localpg.Start(ctx, localpg.Options{DataDir: cfg.DataDir, Database: "tenantform"})
		if err != nil {
			return err
		}
		// Runs last: the store and the reconciler are closed first.
		defer func() {
			log.Info("stopping the private PostgreSQL")
			pg.Stop()
		}()
		go func() {
			select {
			case <-pg.Done():
				cancel(fmt.Errorf("the private PostgreSQL exited; see %s", filepath.Join(cfg.DataDir, "postgres.log")))
			case <-ctx.Done():
			}
		}()
		cfg.DatabaseURL = pg.URL
		dbNote = "private, in " + cfg.DataDir
	}
	if cfg.JWTSecret == "" {
		if cfg.JWTSecret, err = devJWTSecret(cfg.DataDir, true); err != nil {
			return err
		}
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkStateDatabase(ctx, cfg, st); err != nil {
		return err
	}
	engine, err := newEngineWithLock(ctx, cfg, providerLock, log)
	if err != nil {
		return err
	}
	reg := newMetrics()
	awsSvc, err := newAWSServices(ctx, cfg, st, emulatorCredentials, reg, log)
	if err != nil {
		return err
	}
	notifier, err := newNotifier(cfg, st, log)
	if err != nil {
		return err
	}
	// One process serves everything on the API's /metrics.
	httpMetrics, recMetrics := metrics.NewHTTP(cfg.MetricsMaxSeries), metrics.NewReconciler(nil)
	reg.MustRegister(httpMetrics, recMetrics, metrics.NewSandbox(engine.SandboxActive()))
	scrape := metrics.Handler(reg, newStateCollector(cfg, st, awsSvc, log))
	// Loopback only: dev mode is for the machine it runs on.
	srv, err := listenHTTP(net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)), "PORT",
		newAPIHandler(cfg, st, scrape, httpMetrics, awsSvc.orphanLister(), log), cfg.ShutdownGrace, log)
	if err != nil {
		return err
	}
	token, err := api.SignToken([]byte(cfg.JWTSecret), devUser, false, devTokenTTL, time.Now())
	if err != nil {
		return err
	}
	// The console needs an admin's token.
	adminToken, err := api.SignToken([]byte(cfg.JWTSecret), devAdmin, true, devTokenTTL, time.Now())
	if err != nil {
		return err
	}

	var g errgroup.Group
	g.Go(func() error {
		err := srv.Serve(ctx)
		cancel(err)
		return err
	})
	g.Go(func() error {
		c := newController(cfg, st, engine, awsSvc, recMetrics, log)
		go interruptOnSecondSignal(ctx, c)
		err := c.Run(ctx)
		cancel(err)
		return err
	})
	if notifier != nil {
		g.Go(func() error { return notifier.Run(ctx) })
	}
	awsSvc.start(ctx)
	printDevBanner(stdout, fmt.Sprintf("http://%s", srv.Addr()), redactDatabaseURL(cfg.DatabaseURL), dbNote, awsNote, token, adminToken)

	err = g.Wait()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	log.Info("dev mode stopped")
	return err
}

// printDevBanner tells the user where everything is and gives them a
// request to paste. It goes to stdout; logs go to stderr.
func printDevBanner(w io.Writer, apiURL, dbURL, dbNote, awsNote, token, adminToken string) {
	project := apiURL + "/api/v1/users/" + devUser + "/projects/hello"
	fmt.Fprintf(w, `
tenantform dev is running: API and reconciler in one process (Ctrl-C stops both).

  API       %s
  Database  %s (%s)
  AWS       %s

Paste this to create a terraform_data project as user %q, then look at it
(it reaches phase Ready within seconds):

TOKEN=%s
curl -sS -X PUT %s \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"files":{"main.tf":"resource \"terraform_data\" \"hello\" { input = \"world\" }"}}'
curl -sS %s -H "Authorization: Bearer $TOKEN"

or use the command-line client (from this repository; "go install
./cmd/..." puts tenantform and its terraform supervisor in $(go env GOPATH)/bin):

  export TENANTFORM_URL=%s TENANTFORM_TOKEN=$TOKEN
  go run ./cmd/tenantform projects list
  go run ./cmd/tenantform projects get hello -w     # follow its changes

The console is at %s/console: log in with this admin token (user %q):

  %s

Tokens are valid for %s; "go run ./cmd/tenantform token --user NAME [--admin]"
signs more with dev's secret.

`, apiURL, dbURL, dbNote, awsNote, devUser, token, project, project, apiURL, apiURL, devAdmin, adminToken, devTokenTTL)
}

// withEnv returns getenv with name set to value.
func withEnv(getenv func(string) string, name, value string) func(string) string {
	return func(k string) string {
		if k == name {
			return value
		}
		return getenv(k)
	}
}

// checkDevResourcesFree refuses to start dev mode when its port or its
// private PostgreSQL's data directory is taken (a second `tenantform dev`),
// in one sentence, before anything is started.
func checkDevResourcesFree(cfg Config) error {
	if cfg.Port != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
		if err != nil {
			return fmt.Errorf("port %d is already in use (another tenantform dev?); stop it, or set PORT to another port (PORT=0 picks a free one)", cfg.Port)
		}
		ln.Close()
	}
	if cfg.DatabaseURL != "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "pg", "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	if syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
		return fmt.Errorf("the data directory %s is in use by another tenantform dev (its PostgreSQL runs as pid %d); stop that one, or pass --data-dir with another directory", cfg.DataDir, pid)
	}
	return nil // a stale pid file: PostgreSQL recovers from it
}
