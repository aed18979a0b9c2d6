package main

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goversion "github.com/hashicorp/go-version"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap/zapcore"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// Config is every setting of every subcommand. It is filled once, from the
// environment, by parseConfig; nothing else in tenantform reads the
// environment. The settings table below holds each variable's name and
// default, and is what the README's configuration table is checked against.
type Config struct {
	// Port is the TCP port of the API (PORT). Heroku assigns it; 0 picks a
	// free port, which tests use.
	Port int
	// DatabaseURL connects to PostgreSQL (DATABASE_URL). It holds a
	// password: log it only through redactDatabaseURL. Empty in dev mode
	// means "start a private server".
	DatabaseURL string
	// TFStateDatabaseURL, when set, is the only database credential
	// terraform processes get (TF_STATE_DATABASE_URL): a role that can
	// reach just the state schema, so that a terraform process never holds
	// the credential of the whole database. Empty: DATABASE_URL.
	TFStateDatabaseURL string
	// JWTSecret signs and verifies API tokens (HS256, JWT_SECRET). Never
	// logged.
	JWTSecret string
	// CORSOrigin is the browser origin allowed to call the API
	// (CORS_ORIGIN): "*" or scheme://host[:port]. Empty: no CORS headers.
	CORSOrigin string
	// MaxResourcesPerUser is the default quota of resources one user may
	// hold across all projects (MAX_RESOURCES_PER_USER).
	MaxResourcesPerUser int
	// MaxProjectsPerUser is how many projects one user may have at once
	// (MAX_PROJECTS_PER_USER); it bounds the projects table per user.
	MaxProjectsPerUser int
	// MaxCostPerProjectUSD is the default and the cap of a project's
	// estimated monthly cost ceiling (MAX_COST_PER_PROJECT, USD/month).
	MaxCostPerProjectUSD float64
	// ResourceTimeoutMinutes is a project's default time to live
	// (RESOURCE_TIMEOUT_MINUTES).
	ResourceTimeoutMinutes int
	// AWSRegion is the default region of projects (AWS_REGION); it must be
	// one of AWSAllowedRegions.
	AWSRegion string
	// AWSAllowedRegions bounds the regions tenants may use
	// (AWS_ALLOWED_REGIONS), as the guide's IAM policy condition does.
	AWSAllowedRegions []string
	// AWSRoleARN is the IAM role the reconciler assumes for tenant runs
	// (AWS_ROLE_ARN). Parsed now; used by the AWS credentials work.
	AWSRoleARN string
	// AWSExternalID is the role's sts:ExternalId condition
	// (AWS_EXTERNAL_ID). A shared secret: never logged.
	AWSExternalID string
	// AWSSessionName names the reconciler's own role session (inventory,
	// pricing) (AWS_SESSION_NAME). Tenant runs use
	// chart-app-{userId}-{projectId}.
	AWSSessionName string
	// AWSCostBudgetLimitUSD bounds the estimated monthly cost of all
	// projects together (AWS_COST_BUDGET_LIMIT); 0 switches the check off.
	AWSCostBudgetLimitUSD float64
	// AWSEndpointURL points the AWS provider and SDK at another endpoint,
	// such as a local emulator (AWS_ENDPOINT_URL).
	AWSEndpointURL string
	// InventoryInterval is how often the tagged AWS inventory is listed,
	// once per allowed region for all projects (INVENTORY_INTERVAL).
	InventoryInterval time.Duration
	// OrphanCleanup is what happens to tagged resources without a live
	// project (ORPHAN_CLEANUP): report them, or delete them.
	OrphanCleanup aws.CleanupMode
	// OrphanGracePeriod is how long after the listing that first showed a
	// resource orphaned a later listing must still show it so before a
	// sweep deletes it (ORPHAN_GRACE_PERIOD).
	OrphanGracePeriod time.Duration
	// AllowedResourceTypes and AllowedDataSources extend the policy's
	// allow-lists (ALLOWED_RESOURCE_TYPES, ALLOWED_DATA_SOURCES); they
	// never switch an escape check off.
	AllowedResourceTypes []string
	AllowedDataSources   []string
	// AWSPermissionsBoundaryARN is the permissions boundary put on every
	// tenant role and required by the plan policy
	// (AWS_PERMISSIONS_BOUNDARY_ARN); empty: none (emulators).
	AWSPermissionsBoundaryARN string
	// PricingRefreshInterval is how often unit prices are fetched from the
	// AWS Price List API (PRICING_REFRESH_INTERVAL).
	PricingRefreshInterval time.Duration
	// CostExplorerInterval is how often the month-to-date actual cost of
	// every project is read from Cost Explorer (COST_EXPLORER_INTERVAL);
	// negative when "off".
	CostExplorerInterval time.Duration
	// AlertEmail receives budget and failure alerts (ALERT_EMAIL).
	AlertEmail string
	// AlertWebhookURL receives the same alerts as JSON (ALERT_WEBHOOK_URL).
	AlertWebhookURL string
	// TFConcurrency bounds the projects one reconciler converges at once
	// (TF_CONCURRENCY). 0 is "auto" (the default): fitted to memory at
	// start, see Config.concurrency.
	TFConcurrency int
	// TFRunMemoryMB is the memory budgeted per concurrent run when
	// TF_CONCURRENCY is auto (TF_RUN_MEMORY_MB).
	TFRunMemoryMB int
	// ResyncInterval is how often an unchanged project is looked at again:
	// expiry, conditions, blocked admission (RESYNC_INTERVAL).
	ResyncInterval time.Duration
	// DriftCheckInterval is how often a Ready project is re-planned with
	// refresh, re-applying what drifted (DRIFT_CHECK_INTERVAL).
	DriftCheckInterval time.Duration
	// LeaseDuration is how long a reconciler's claim on a project lasts
	// without renewal (LEASE_DURATION): a crashed replica's work is taken
	// over this long after its last renewal.
	LeaseDuration time.Duration
	// LeaseRenewDeadline is how long after its last successful renewal a
	// reconciler keeps trying to renew a lease before it interrupts the
	// project's terraform (LEASE_RENEW_DEADLINE). Default two thirds of
	// LeaseDuration.
	LeaseRenewDeadline time.Duration
	// MaxWorkersPerUser bounds the workers one user holds while another
	// user's project is due (MAX_WORKERS_PER_USER).
	MaxWorkersPerUser int
	// TFOperationTimeout is the deadline of every terraform operation
	// (TF_OPERATION_TIMEOUT).
	TFOperationTimeout time.Duration
	// TFMemoryLimitMB is the address-space limit of every terraform and
	// provider process (TF_MEMORY_LIMIT_MB).
	TFMemoryLimitMB int
	// TFCPULimit is the CPU time of every terraform and provider process
	// (TF_CPU_LIMIT).
	TFCPULimit time.Duration
	// TFOutputLimitBytes bounds what one terraform process prints
	// (TF_OUTPUT_LIMIT_BYTES).
	TFOutputLimitBytes int
	// TFSandbox says whether terraform runs under Landlock (TF_SANDBOX):
	// auto, require or off.
	TFSandbox tf.SandboxMode
	// RunRetention keeps the runs and tombstones of deleted projects
	// (RUN_RETENTION).
	RunRetention time.Duration
	// RunsPerProject is how many runs of a live project are kept
	// (RUNS_PER_PROJECT).
	RunsPerProject int
	// ShutdownGrace is how long, after SIGTERM, in-flight requests and
	// running terraform may continue before they are interrupted
	// (SHUTDOWN_GRACE). With terraformStopGrace it must fit the platform's
	// stop window (Heroku: 30 s).
	ShutdownGrace time.Duration
	// TFPath is an explicit terraform binary (TF_PATH); empty searches
	// PATH, then installs TFVersion.
	TFPath string
	// TFVersion is the pinned terraform release installed (checksum
	// verified) when no usable terraform is found (TF_VERSION).
	TFVersion *goversion.Version
	// TFWorkDir holds the per-project working directories, a cache
	// (TF_WORK_DIR). Default DataDir/terraform.
	TFWorkDir string
	// TFPluginCacheDir is the provider cache shared by all projects
	// (TF_PLUGIN_CACHE_DIR). Default TFWorkDir/.plugin-cache.
	TFPluginCacheDir string
	// TFProviderMirror is a filesystem_mirror directory for offline
	// provider installs (TF_PROVIDER_MIRROR).
	TFProviderMirror string
	// Environment is the Environment tag of tenant resources
	// (ENVIRONMENT).
	Environment string
	// LogLevel is the lowest level logged (LOG_LEVEL).
	LogLevel zapcore.Level
	// LogFormat is "json" (one object per line, for log drains) or
	// "console" (for people) (LOG_FORMAT).
	LogFormat string
	// RateLimitRPS and RateLimitBurst shape each client's request rate
	// (RATE_LIMIT_RPS, RATE_LIMIT_BURST).
	RateLimitRPS   float64
	RateLimitBurst int
	// MaxBodyBytes bounds a request body (MAX_BODY_BYTES).
	MaxBodyBytes int64
	// DataDir holds dev mode's private PostgreSQL and JWT secret, the
	// terraform work directories and installed terraform releases
	// (TENANTFORM_DATA_DIR, or dev's --data-dir).
	DataDir string
	// DBMaxConns bounds the connection pool of one process (DB_MAX_CONNS).
	// Heroku Postgres plans limit connections per database.
	DBMaxConns int32
	// DatabasePoolMode says how DATABASE_URL's connections are pooled
	// (DATABASE_POOL_MODE): "session" (a direct server, or a session
	// pooler) or "transaction" (PgBouncer's transaction pooling, Heroku's
	// connection pooler). Transaction pooling shares server connections
	// between transactions, so tenantform then uses no prepared statements
	// and no LISTEN (the reconciler polls every DatabasePollInterval), and
	// runs what needs a session (migrations, terraform's state locks) over
	// DatabaseDirectURL.
	DatabasePoolMode string
	// DatabaseDirectURL is a direct, unpooled connection to the same
	// database (DATABASE_DIRECT_URL). With transaction pooling, migrations
	// and terraform's pg backend (unless TF_STATE_DATABASE_URL is set) use
	// it. Never logged.
	DatabaseDirectURL string
	// DatabasePollInterval is how often the reconciler looks for due
	// projects under transaction pooling (DATABASE_POLL_INTERVAL).
	DatabasePollInterval time.Duration
	// MetricsPort is where the reconciler serves /metrics (METRICS_PORT);
	// the API serves it on PORT. 0 picks a free port.
	MetricsPort int
	// MetricsMaxSeries caps per-user and per-project series; the rest is
	// summed under "_other" (METRICS_MAX_SERIES).
	MetricsMaxSeries int
	// MetricsStateMaxAge lets a scrape serve a reading of the state
	// families at most this old, refreshed in the background; 0 reads the
	// database at every scrape (METRICS_STATE_MAX_AGE). The default, a
	// minute, is above the usual scrape intervals (15 and 30 s), so that
	// a scrape does not wait for the query, which grows with the projects.
	MetricsStateMaxAge time.Duration
	// AlertWebhookSecret signs webhook notifications, HMAC-SHA256
	// (ALERT_WEBHOOK_SECRET). Never logged.
	AlertWebhookSecret string
	// SMTPURL is the mail server for ALERT_EMAIL (SMTP_URL); it may hold a
	// password: never logged.
	SMTPURL string
	// AlertExpiryWarning is how long before a project expires its reminder
	// is sent (ALERT_EXPIRY_WARNING).
	AlertExpiryWarning time.Duration
}

// mode is the subcommand a Config is for: defaults and requirements differ.
type mode string

const (
	modeServe     mode = "serve"
	modeReconcile mode = "reconcile"
	modeMigrate   mode = "migrate"
	modeDev       mode = "dev"
	modeToken     mode = "token"
)

// DATABASE_POOL_MODE values.
const (
	poolSession     = "session"
	poolTransaction = "transaction"
)

// minJWTSecretBytes: HS256 keys shorter than its 256-bit output weaken it
// (RFC 7518 §3.2 requires at least that size).
const minJWTSecretBytes = 32

// setting is one environment variable: its name, its defaults, and how its
// value lands in a Config. The settings table is the one place defaults
// live.
type setting struct {
	name string
	// def is the default, written as the variable would be; "" is unset.
	def string
	// devDef, when not empty, replaces def in dev mode.
	devDef string
	// docDefault describes a default that is computed at start-up (paths);
	// the README shows it instead of def.
	docDefault string
	// secret values are never echoed in error messages.
	secret bool
	// parse stores v (never empty) in c, or says what is wrong with it in
	// words that follow the variable's name: `X="v" <problem>`.
	parse func(c *Config, v string) error
}

// settings lists every variable tenantform reads, in README order.
var settings = []setting{
	{name: "PORT", def: "5001", parse: intVar(0, 65535, func(c *Config, n int) { c.Port = n })},
	{name: "DATABASE_URL", secret: true, docDefault: "— (required; dev: private PostgreSQL)", parse: connStringVar(func(c *Config, v string) { c.DatabaseURL = v })},
	{name: "TF_STATE_DATABASE_URL", secret: true, docDefault: "`DATABASE_URL`", parse: connStringVar(func(c *Config, v string) { c.TFStateDatabaseURL = v })},
	{name: "JWT_SECRET", secret: true, docDefault: "— (required; dev: generated)", parse: func(c *Config, v string) error {
		c.JWTSecret = v
		return nil
	}},
	{name: "CORS_ORIGIN", parse: func(c *Config, v string) error {
		if v != "*" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return errors.New(`is not "*" or an origin such as https://app.example.com`)
			}
			v = strings.TrimSuffix(v, "/")
		}
		c.CORSOrigin = v
		return nil
	}},
	{name: "MAX_RESOURCES_PER_USER", def: "10", parse: intVar(1, 1_000_000, func(c *Config, n int) { c.MaxResourcesPerUser = n })},
	{name: "MAX_PROJECTS_PER_USER", def: "100", parse: intVar(1, 1_000_000, func(c *Config, n int) { c.MaxProjectsPerUser = n })},
	{name: "MAX_COST_PER_PROJECT", def: "50", parse: floatVar(0.01, func(c *Config, f float64) { c.MaxCostPerProjectUSD = f })},
	{name: "RESOURCE_TIMEOUT_MINUTES", def: "60", parse: intVar(1, 525_600, func(c *Config, n int) { c.ResourceTimeoutMinutes = n })},
	{name: "AWS_REGION", def: "us-east-1", parse: func(c *Config, v string) error {
		if !regionPattern.MatchString(v) {
			return errors.New("is not an AWS region name such as us-east-1")
		}
		c.AWSRegion = v
		return nil
	}},
	{name: "AWS_ROLE_ARN", parse: func(c *Config, v string) error {
		if !roleARNPattern.MatchString(v) {
			return errors.New("is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)")
		}
		c.AWSRoleARN = v
		return nil
	}},
	{name: "AWS_EXTERNAL_ID", secret: true, parse: func(c *Config, v string) error {
		// The limits of sts:AssumeRole's ExternalId.
		if len(v) < 2 || len(v) > 1224 || !externalIDPattern.MatchString(v) {
			return errors.New("must be 2 to 1224 characters of letters, digits and +=,.@:/-")
		}
		c.AWSExternalID = v
		return nil
	}},
	{name: "AWS_SESSION_NAME", def: "tenantform-reconciler", parse: func(c *Config, v string) error {
		// The limits of sts:AssumeRole's RoleSessionName.
		if !sessionNamePattern.MatchString(v) {
			return errors.New("must be 2 to 64 characters of letters, digits and +=,.@-")
		}
		c.AWSSessionName = v
		return nil
	}},
	{name: "AWS_COST_BUDGET_LIMIT", def: "1000", parse: floatVar(0, func(c *Config, f float64) { c.AWSCostBudgetLimitUSD = f })},
	{name: "ALERT_EMAIL", parse: func(c *Config, v string) error {
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != "" {
			return errors.New("is not an e-mail address")
		}
		c.AlertEmail = a.Address
		return nil
	}},
	{name: "ALERT_WEBHOOK_URL", secret: true, parse: func(c *Config, v string) error {
		// Secret: webhook URLs (Slack, ...) carry their credential in the path.
		if err := checkHTTPURL(v); err != nil {
			return err
		}
		c.AlertWebhookURL = v
		return nil
	}},
	{name: "AWS_ALLOWED_REGIONS", def: "us-east-1,us-west-2", parse: func(c *Config, v string) error {
		var regions []string
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			if !regionPattern.MatchString(r) {
				return fmt.Errorf("has %q, which is not an AWS region name", r)
			}
			regions = append(regions, r)
		}
		if len(regions) == 0 {
			return errors.New("names no region")
		}
		c.AWSAllowedRegions = regions
		return nil
	}},
	{name: "AWS_ENDPOINT_URL", parse: func(c *Config, v string) error {
		if err := checkHTTPURL(v); err != nil {
			return err
		}
		c.AWSEndpointURL = v
		return nil
	}},
	{name: "INVENTORY_INTERVAL", def: "5m", parse: durationVar(30*time.Second, func(c *Config, d time.Duration) { c.InventoryInterval = d })},
	{name: "ALLOWED_RESOURCE_TYPES", parse: policyListVar(func(c *Config, l []string) { c.AllowedResourceTypes = l })},
	{name: "ALLOWED_DATA_SOURCES", parse: policyListVar(func(c *Config, l []string) { c.AllowedDataSources = l })},
	{name: "AWS_PERMISSIONS_BOUNDARY_ARN", parse: func(c *Config, v string) error {
		if !policyARNPattern.MatchString(v) {
			return errors.New("is not an IAM policy ARN (arn:aws:iam::123456789012:policy/Name)")
		}
		c.AWSPermissionsBoundaryARN = v
		return nil
	}},
	{name: "ORPHAN_CLEANUP", def: "report", parse: func(c *Config, v string) error {
		m, err := aws.ParseCleanupMode(v)
		if err != nil {
			return errors.New(`is not "report" or "delete"`)
		}
		c.OrphanCleanup = m
		return nil
	}},
	{name: "ORPHAN_GRACE_PERIOD", def: "15m", parse: durationVar(time.Minute, func(c *Config, d time.Duration) { c.OrphanGracePeriod = d })},
	{name: "PRICING_REFRESH_INTERVAL", def: "24h", parse: durationVar(time.Hour, func(c *Config, d time.Duration) { c.PricingRefreshInterval = d })},
	{name: "COST_EXPLORER_INTERVAL", def: "6h", parse: func(c *Config, v string) error {
		if v == "off" {
			c.CostExplorerInterval = -1
			return nil
		}
		return durationVar(time.Hour, func(c *Config, d time.Duration) { c.CostExplorerInterval = d })(c, v)
	}},
	{name: "TF_CONCURRENCY", def: "auto", parse: func(c *Config, v string) error {
		if v == "auto" {
			c.TFConcurrency = 0
			return nil
		}
		return intVar(1, 256, func(c *Config, n int) { c.TFConcurrency = n })(c, v)
	}},
	{name: "TF_RUN_MEMORY_MB", def: fmt.Sprint(defaultRunMemoryMB), parse: intVar(64, 1<<20, func(c *Config, n int) { c.TFRunMemoryMB = n })},
	{name: "RESYNC_INTERVAL", def: "10m", parse: durationVar(time.Second, func(c *Config, d time.Duration) { c.ResyncInterval = d })},
	{name: "DRIFT_CHECK_INTERVAL", def: "6h", parse: durationVar(time.Minute, func(c *Config, d time.Duration) { c.DriftCheckInterval = d })},
	{name: "LEASE_DURATION", def: "60s", parse: durationVar(3*time.Second, func(c *Config, d time.Duration) { c.LeaseDuration = d })},
	{name: "LEASE_RENEW_DEADLINE", docDefault: "⅔ of `LEASE_DURATION`", parse: durationVar(time.Second, func(c *Config, d time.Duration) { c.LeaseRenewDeadline = d })},
	{name: "MAX_WORKERS_PER_USER", def: "1", parse: intVar(1, 256, func(c *Config, n int) { c.MaxWorkersPerUser = n })},
	{name: "TF_OPERATION_TIMEOUT", def: "10m", parse: durationVar(10*time.Second, func(c *Config, d time.Duration) { c.TFOperationTimeout = d })},
	{name: "TF_MEMORY_LIMIT_MB", def: fmt.Sprint(tf.DefaultMemoryLimitMB), parse: intVar(256, 1<<20, func(c *Config, n int) { c.TFMemoryLimitMB = n })},
	{name: "TF_CPU_LIMIT", def: tf.DefaultCPULimit.String(), parse: durationVar(5*time.Second, func(c *Config, d time.Duration) { c.TFCPULimit = d })},
	{name: "TF_OUTPUT_LIMIT_BYTES", def: fmt.Sprint(tf.DefaultOutputLimitBytes), parse: intVar(64<<10, 1<<30, func(c *Config, n int) { c.TFOutputLimitBytes = n })},
	{name: "TF_SANDBOX", def: string(tf.SandboxAuto), parse: func(c *Config, v string) error {
		m, err := tf.ParseSandboxMode(v)
		if err != nil {
			return errors.New("must be auto, require or off")
		}
		c.TFSandbox = m
		return nil
	}},
	{name: "RUN_RETENTION", def: "168h", parse: durationVar(time.Hour, func(c *Config, d time.Duration) { c.RunRetention = d })},
	{name: "RUNS_PER_PROJECT", def: "100", parse: intVar(10, 100000, func(c *Config, n int) { c.RunsPerProject = n })},
	{name: "SHUTDOWN_GRACE", def: "20s", parse: durationVar(time.Second, func(c *Config, d time.Duration) { c.ShutdownGrace = d })},
	{name: "TF_PATH", parse: func(c *Config, v string) error {
		c.TFPath = v
		return nil
	}},
	{name: "TF_VERSION", def: tf.DefaultInstallVersion.String(), parse: func(c *Config, v string) error {
		ver, err := goversion.NewVersion(v)
		if err != nil {
			return errors.New("is not a version such as 1.11.4")
		}
		if ver.Core().LessThan(tf.MinVersion) {
			return fmt.Errorf("is older than terraform %s, the oldest tenantform supports", tf.MinVersion)
		}
		c.TFVersion = ver
		return nil
	}},
	{name: "TF_WORK_DIR", docDefault: "`$TENANTFORM_DATA_DIR/terraform`", parse: pathVar(func(c *Config, p string) { c.TFWorkDir = p })},
	{name: "TF_PLUGIN_CACHE_DIR", docDefault: "`$TF_WORK_DIR/.plugin-cache`", parse: pathVar(func(c *Config, p string) { c.TFPluginCacheDir = p })},
	{name: "TF_PROVIDER_MIRROR", parse: pathVar(func(c *Config, p string) { c.TFProviderMirror = p })},
	{name: "ENVIRONMENT", def: "production", devDef: "development", parse: func(c *Config, v string) error {
		// It becomes an AWS tag value.
		if !tagValuePattern.MatchString(v) {
			return errors.New("must be 1 to 256 characters of letters, digits, spaces and _.:/=+-@")
		}
		c.Environment = v
		return nil
	}},
	{name: "LOG_LEVEL", def: "info", parse: func(c *Config, v string) error {
		l, err := zapcore.ParseLevel(v)
		if err != nil {
			return errors.New("is not one of debug, info, warn, error")
		}
		c.LogLevel = l
		return nil
	}},
	{name: "LOG_FORMAT", def: "json", devDef: "console", parse: func(c *Config, v string) error {
		if v != "json" && v != "console" {
			return errors.New(`is not "json" or "console"`)
		}
		c.LogFormat = v
		return nil
	}},
	{name: "RATE_LIMIT_RPS", def: "10", parse: floatVar(0.01, func(c *Config, f float64) { c.RateLimitRPS = f })},
	{name: "RATE_LIMIT_BURST", def: "20", parse: intVar(1, 100_000, func(c *Config, n int) { c.RateLimitBurst = n })},
	{name: "MAX_BODY_BYTES", def: "1048576", parse: intVar(1024, 1<<30, func(c *Config, n int) { c.MaxBodyBytes = int64(n) })},
	{name: "TENANTFORM_DATA_DIR", docDefault: "`~/.local/share/tenantform` (`$XDG_DATA_HOME/tenantform`); as root `/var/lib/tenantform`", parse: pathVar(func(c *Config, p string) { c.DataDir = p })},
	{name: "DB_MAX_CONNS", def: "10", parse: intVar(2, 10_000, func(c *Config, n int) { c.DBMaxConns = int32(n) })},
	{name: "DATABASE_POOL_MODE", def: poolSession, parse: func(c *Config, v string) error {
		if v != poolSession && v != poolTransaction {
			return fmt.Errorf("is not %q or %q", poolSession, poolTransaction)
		}
		c.DatabasePoolMode = v
		return nil
	}},
	{name: "DATABASE_DIRECT_URL", secret: true, parse: connStringVar(func(c *Config, v string) { c.DatabaseDirectURL = v })},
	{name: "DATABASE_POLL_INTERVAL", def: "2s", parse: durationVar(100*time.Millisecond, func(c *Config, d time.Duration) { c.DatabasePollInterval = d })},
	{name: "METRICS_PORT", def: "9091", parse: intVar(0, 65535, func(c *Config, n int) { c.MetricsPort = n })},
	{name: "METRICS_MAX_SERIES", def: "2000", parse: intVar(1, 1_000_000, func(c *Config, n int) { c.MetricsMaxSeries = n })},
	{name: "METRICS_STATE_MAX_AGE", def: "1m", parse: durationVar(0, func(c *Config, d time.Duration) { c.MetricsStateMaxAge = d })},
	{name: "ALERT_WEBHOOK_SECRET", secret: true, parse: func(c *Config, v string) error {
		c.AlertWebhookSecret = v
		return nil
	}},
	{name: "SMTP_URL", secret: true, parse: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return errors.New("is not smtp://[user:password@]host[:port] or smtps://…")
		}
		c.SMTPURL = v
		return nil
	}},
	{name: "ALERT_EXPIRY_WARNING", def: "15m", parse: durationVar(time.Minute, func(c *Config, d time.Duration) { c.AlertExpiryWarning = d })},
}

var (
	regionPattern      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}$`)
	policyARNPattern   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:policy/[\w+=,.@/-]{1,512}$`)
	roleARNPattern     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tagValuePattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$`)
)

// parseConfig reads every setting for the subcommand m through getenv
// (os.Getenv in production; tests pass a map). It reports every bad value
// at once, each naming its variable, and fills computed defaults. It does
// not check what a subcommand requires; see Validate.
func parseConfig(m mode, getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		v := strings.TrimSpace(getenv(s.name))
		fromEnv := v != ""
		if !fromEnv {
			v = s.def
			if m == modeDev && s.devDef != "" {
				v = s.devDef
			}
		}
		if v == "" {
			continue
		}
		if err := s.parse(&c, v); err != nil {
			if s.secret {
				errs = append(errs, fmt.Errorf("%s %v", s.name, err))
			} else {
				errs = append(errs, fmt.Errorf("%s=%q %v", s.name, v, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.DataDir == "" {
		dir, err := defaultDataDir(getenv)
		if err != nil {
			return c, err
		}
		c.DataDir = dir
	}
	if c.TFWorkDir == "" {
		c.TFWorkDir = filepath.Join(c.DataDir, "terraform")
	}
	if c.LeaseRenewDeadline == 0 {
		c.LeaseRenewDeadline = c.LeaseDuration * 2 / 3
	}
	return c, nil
}

// Validate checks what the subcommand m needs and how settings fit
// together.
func (c Config) Validate(m mode) error {
	var errs []error
	need := func(name, value string) {
		if value == "" {
			errs = append(errs, fmt.Errorf("%s is not set; tenantform %s needs it", name, m))
		}
	}
	switch m {
	case modeServe, modeReconcile:
		need("DATABASE_URL", c.DatabaseURL)
		// The reconciler does not verify tokens, but Heroku gives both
		// process types one config: a missing secret is a broken app,
		// better caught by whichever process starts first.
		need("JWT_SECRET", c.JWTSecret)
	case modeMigrate:
		need("DATABASE_URL", c.DatabaseURL)
	}
	if (m == modeServe || m == modeDev) && c.JWTSecret != "" && len(c.JWTSecret) < minJWTSecretBytes {
		errs = append(errs, fmt.Errorf("JWT_SECRET is %d bytes; use at least %d random bytes (openssl rand -hex 32)", len(c.JWTSecret), minJWTSecretBytes))
	}
	if c.DatabasePoolMode == poolTransaction && (m == modeReconcile || m == modeDev && c.DatabaseURL != "") &&
		c.TFStateDatabaseURL == "" && c.DatabaseDirectURL == "" {
		errs = append(errs, errors.New("DATABASE_POOL_MODE=transaction: terraform's pg state backend holds session advisory locks, "+
			"which a transaction pooler breaks; set DATABASE_DIRECT_URL (or TF_STATE_DATABASE_URL) to a direct connection"))
	}
	if c.DatabasePoolMode == poolTransaction && m == modeDev && c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_POOL_MODE=transaction needs DATABASE_URL: dev mode's private PostgreSQL has no pooler in front of it"))
	}
	if c.DatabasePoolMode == poolTransaction && m == modeMigrate && c.DatabaseDirectURL == "" {
		errs = append(errs, errors.New("DATABASE_POOL_MODE=transaction: migrations hold a session advisory lock, "+
			"which a transaction pooler breaks; set DATABASE_DIRECT_URL to a direct connection "+
			"(or run tenantform migrate with DATABASE_URL set to it and DATABASE_POOL_MODE unset)"))
	}
	if c.LeaseRenewDeadline >= c.LeaseDuration {
		errs = append(errs, fmt.Errorf("LEASE_RENEW_DEADLINE=%s must be shorter than LEASE_DURATION=%s", c.LeaseRenewDeadline, c.LeaseDuration))
	} else if left := c.LeaseDuration - c.LeaseRenewDeadline; left < terraformStopGrace+leaseStopMargin {
		errs = append(errs, fmt.Errorf("LEASE_RENEW_DEADLINE=%s leaves %s of LEASE_DURATION=%s to stop terraform; it needs %s "+
			"(terraform's %s stop grace and %s): lower LEASE_RENEW_DEADLINE or raise LEASE_DURATION",
			c.LeaseRenewDeadline, left, c.LeaseDuration, terraformStopGrace+leaseStopMargin, terraformStopGrace, leaseStopMargin))
	}
	if !slices.Contains(c.AWSAllowedRegions, c.AWSRegion) {
		errs = append(errs, fmt.Errorf("AWS_REGION=%q is not one of AWS_ALLOWED_REGIONS (%s)", c.AWSRegion, strings.Join(c.AWSAllowedRegions, ",")))
	}
	return errors.Join(errs...)
}

// defaultDataDir is where tenantform keeps its files when
// TENANTFORM_DATA_DIR is unset: the XDG data directory, except as root.
// PostgreSQL refuses to run as root, so dev mode runs it as an unprivileged
// account, which cannot enter /root (mode 0700); /var/lib is the system's
// place for such state.
func defaultDataDir(getenv func(string) string) (string, error) {
	if isRoot() {
		return "/var/lib/tenantform", nil
	}
	if xdg := getenv("XDG_DATA_HOME"); xdg != "" && filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "tenantform"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cannot choose a data directory: HOME is not set; set TENANTFORM_DATA_DIR")
	}
	return filepath.Join(home, ".local", "share", "tenantform"), nil
}

func isRoot() bool { return os.Geteuid() == 0 }

// envNames lists every variable tenantform reads, in the settings order.
func envNames() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names
}

// readmeDefault is how the README's configuration table shows s's default.
func (s setting) readmeDefault() string {
	switch {
	case s.docDefault != "":
		return s.docDefault
	case s.def == "":
		return "—"
	case s.devDef != "":
		return fmt.Sprintf("`%s` (dev: `%s`)", s.def, s.devDef)
	default:
		return "`" + s.def + "`"
	}
}

func intVar(lo, hi int, set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("is not a whole number")
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		set(c, n)
		return nil
	}
}

func floatVar(lo float64, set func(*Config, float64)) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("is not a number")
		}
		if f < lo {
			return fmt.Errorf("must be at least %g", lo)
		}
		set(c, f)
		return nil
	}
}

func durationVar(lo time.Duration, set func(*Config, time.Duration)) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("is not a duration such as 30s, 5m or 1h")
		}
		if d < lo {
			return fmt.Errorf("must be at least %s", lo)
		}
		set(c, d)
		return nil
	}
}

func pathVar(set func(*Config, string)) func(*Config, string) error {
	return func(c *Config, v string) error {
		p, err := filepath.Abs(v)
		if err != nil {
			return errors.New("is not a usable path")
		}
		set(c, p)
		return nil
	}
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("is not an http(s) URL")
	}
	return nil
}

// connStringVar parses a PostgreSQL connection string. pgconn accepts both
// URLs and key=value strings, as the store does; its error can quote the
// string, password included, so it is dropped.
func connStringVar(set func(*Config, string)) func(*Config, string) error {
	return func(c *Config, v string) error {
		if _, err := pgconn.ParseConfig(v); err != nil {
			return errors.New("is not a valid PostgreSQL connection string (postgres://user:password@host:5432/db)")
		}
		set(c, v)
		return nil
	}
}

// stateConnString is what terraform's pg backend connects with: its own
// credential when one is configured, else the direct connection when there
// is one (its state locks need a session), else the server's.
func (c Config) stateConnString() string {
	if c.TFStateDatabaseURL != "" {
		return c.TFStateDatabaseURL
	}
	if c.DatabaseDirectURL != "" {
		return c.DatabaseDirectURL
	}
	return c.DatabaseURL
}

// transactionPooled: DATABASE_URL goes through a transaction pooler.
func (c Config) transactionPooled() bool { return c.DatabasePoolMode == poolTransaction }

// redactDatabaseURL is the form of a connection string that may be logged
// or printed: the password replaced by "xxxxx".
func redactDatabaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		// A key=value string: nothing of it is safe to show wholesale.
		return "(a key=value connection string)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// policyListVar parses a comma-separated extension of a policy allow-list,
// checked by policy.Rules.Extend: an entry that is not a type name or
// would allow an always-refused type stops start-up.
func policyListVar(set func(*Config, []string)) func(*Config, string) error {
	return func(c *Config, v string) error {
		var list []string
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				list = append(list, t)
			}
		}
		probe := []string{}
		if _, err := policy.DefaultRules().Extend(append(probe, list...), nil); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "ALLOWED_RESOURCE_TYPES: "))
		}
		set(c, list)
		return nil
	}
}
