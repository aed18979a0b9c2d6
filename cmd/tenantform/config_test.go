package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goversion "github.com/hashicorp/go-version"
	"go.uber.org/zap/zapcore"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/tf"
)

// env is a fake environment for parseConfig.
type env map[string]string

func (e env) get(k string) string { return e[k] }

var cmpVersions = cmp.Comparer(func(a, b *goversion.Version) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
})

func TestDefaults(t *testing.T) {
	t.Parallel()
	dataDir, err := defaultDataDir(env{"HOME": "/home/ann"}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Port:                   5001,
		MaxResourcesPerUser:    10,
		MaxProjectsPerUser:     100,
		TFRunMemoryMB:          700,
		MaxCostPerProjectUSD:   50,
		ResourceTimeoutMinutes: 60,
		AWSRegion:              "us-east-1",
		AWSAllowedRegions:      []string{"us-east-1", "us-west-2"},
		AWSSessionName:         "tenantform-reconciler",
		AWSCostBudgetLimitUSD:  1000,
		InventoryInterval:      5 * time.Minute,
		OrphanCleanup:          aws.CleanupReport,
		OrphanGracePeriod:      15 * time.Minute,
		PricingRefreshInterval: 24 * time.Hour,
		CostExplorerInterval:   6 * time.Hour,
		ResyncInterval:         10 * time.Minute,
		DriftCheckInterval:     6 * time.Hour,
		LeaseDuration:          60 * time.Second,
		LeaseRenewDeadline:     40 * time.Second,
		MaxWorkersPerUser:      1,
		TFOperationTimeout:     10 * time.Minute,
		TFMemoryLimitMB:        tf.DefaultMemoryLimitMB,
		TFCPULimit:             tf.DefaultCPULimit,
		TFOutputLimitBytes:     tf.DefaultOutputLimitBytes,
		TFSandbox:              tf.SandboxAuto,
		RunRetention:           7 * 24 * time.Hour,
		RunsPerProject:         100,
		ShutdownGrace:          20 * time.Second,
		TFVersion:              tf.DefaultInstallVersion,
		TFWorkDir:              filepath.Join(dataDir, "terraform"),
		Environment:            "production",
		LogLevel:               zapcore.InfoLevel,
		LogFormat:              "json",
		RateLimitRPS:           10,
		RateLimitBurst:         20,
		MaxBodyBytes:           1 << 20,
		DataDir:                dataDir,
		DBMaxConns:             10,
		DatabasePoolMode:       "session",
		DatabasePollInterval:   2 * time.Second,
		MetricsPort:            9091,
		MetricsMaxSeries:       2000,
		MetricsStateMaxAge:     time.Minute,
		AlertExpiryWarning:     15 * time.Minute,
	}
	got, err := parseConfig(modeServe, env{"HOME": "/home/ann"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpVersions); diff != "" {
		t.Errorf("serve defaults (-want +got):\n%s", diff)
	}

	// dev differs only where people read the output.
	want.Environment = "development"
	want.LogFormat = "console"
	got, err = parseConfig(modeDev, env{"HOME": "/home/ann"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpVersions); diff != "" {
		t.Errorf("dev defaults (-want +got):\n%s", diff)
	}
}

func TestEverySettingFromEnvironment(t *testing.T) {
	t.Parallel()
	e := env{
		"PORT":                         "8080",
		"DATABASE_URL":                 "postgres://app:pw@db.example.com:5432/app?sslmode=require",
		"TF_STATE_DATABASE_URL":        "postgres://tfstate:pw2@db.example.com:5432/app?sslmode=require",
		"JWT_SECRET":                   strings.Repeat("s", 40),
		"CORS_ORIGIN":                  "https://app.example.com/",
		"MAX_RESOURCES_PER_USER":       "25",
		"MAX_PROJECTS_PER_USER":        "40",
		"TF_RUN_MEMORY_MB":             "900",
		"MAX_COST_PER_PROJECT":         "12.5",
		"RESOURCE_TIMEOUT_MINUTES":     "90",
		"AWS_REGION":                   "us-west-2",
		"AWS_ROLE_ARN":                 "arn:aws:iam::123456789012:role/ChartAppHerokuRole",
		"AWS_EXTERNAL_ID":              "ext-secret-1",
		"AWS_SESSION_NAME":             "chart-app-heroku-session",
		"AWS_COST_BUDGET_LIMIT":        "0",
		"INVENTORY_INTERVAL":           "2m",
		"ORPHAN_CLEANUP":               "delete",
		"ORPHAN_GRACE_PERIOD":          "1h",
		"PRICING_REFRESH_INTERVAL":     "12h",
		"COST_EXPLORER_INTERVAL":       "off",
		"ALLOWED_RESOURCE_TYPES":       "aws_sqs_queue, aws_sns_topic",
		"ALLOWED_DATA_SOURCES":         "aws_ami",
		"AWS_PERMISSIONS_BOUNDARY_ARN": "arn:aws:iam::123456789012:policy/TenantBoundary",
		"ALERT_EMAIL":                  "admin@yourapp.com",
		"ALERT_WEBHOOK_URL":            "https://hooks.example.com/T0/B0/x",
		"AWS_ALLOWED_REGIONS":          " us-west-2 , eu-west-1 ",
		"AWS_ENDPOINT_URL":             "http://127.0.0.1:4566",
		"TF_CONCURRENCY":               "4",
		"RESYNC_INTERVAL":              "2m",
		"DRIFT_CHECK_INTERVAL":         "90m",
		"LEASE_DURATION":               "90s",
		"LEASE_RENEW_DEADLINE":         "75s",
		"SHUTDOWN_GRACE":               "15s",
		"MAX_WORKERS_PER_USER":         "2",
		"TF_OPERATION_TIMEOUT":         "5m",
		"TF_MEMORY_LIMIT_MB":           "1024",
		"TF_CPU_LIMIT":                 "2m",
		"TF_OUTPUT_LIMIT_BYTES":        "1048576",
		"TF_SANDBOX":                   "require",
		"RUN_RETENTION":                "48h",
		"RUNS_PER_PROJECT":             "50",
		"TF_PATH":                      "/opt/terraform",
		"TF_VERSION":                   "1.5.7",
		"TF_WORK_DIR":                  "/srv/tf",
		"TF_PLUGIN_CACHE_DIR":          "/srv/plugins",
		"TF_PROVIDER_MIRROR":           "/srv/mirror",
		"ENVIRONMENT":                  "staging",
		"LOG_LEVEL":                    "debug",
		"LOG_FORMAT":                   "console",
		"RATE_LIMIT_RPS":               "2.5",
		"RATE_LIMIT_BURST":             "5",
		"MAX_BODY_BYTES":               "65536",
		"TENANTFORM_DATA_DIR":          "/srv/data",
		"DB_MAX_CONNS":                 "20",
		"DATABASE_POOL_MODE":           "transaction",
		"DATABASE_DIRECT_URL":          "postgres://app:pw@db.example.com:5432/app?sslmode=require&direct=1",
		"DATABASE_POLL_INTERVAL":       "500ms",
		"METRICS_PORT":                 "9999",
		"METRICS_MAX_SERIES":           "500",
		"METRICS_STATE_MAX_AGE":        "30s",
		"ALERT_WEBHOOK_SECRET":         "whsec-1",
		"SMTP_URL":                     "smtp://mailer:pw3@smtp.example.com:587?from=tenantform@yourapp.com",
		"ALERT_EXPIRY_WARNING":         "30m",
	}
	if len(e) != len(settings) {
		t.Fatalf("the test sets %d variables, tenantform reads %d: cover every setting", len(e), len(settings))
	}
	want := Config{
		Port:                      8080,
		DatabaseURL:               e["DATABASE_URL"],
		TFStateDatabaseURL:        e["TF_STATE_DATABASE_URL"],
		JWTSecret:                 e["JWT_SECRET"],
		CORSOrigin:                "https://app.example.com",
		MaxResourcesPerUser:       25,
		MaxProjectsPerUser:        40,
		TFRunMemoryMB:             900,
		MaxCostPerProjectUSD:      12.5,
		ResourceTimeoutMinutes:    90,
		AWSRegion:                 "us-west-2",
		AWSAllowedRegions:         []string{"us-west-2", "eu-west-1"},
		AWSRoleARN:                e["AWS_ROLE_ARN"],
		AWSExternalID:             "ext-secret-1",
		AWSSessionName:            "chart-app-heroku-session",
		AWSCostBudgetLimitUSD:     0,
		InventoryInterval:         2 * time.Minute,
		OrphanCleanup:             aws.CleanupDelete,
		OrphanGracePeriod:         time.Hour,
		AllowedResourceTypes:      []string{"aws_sqs_queue", "aws_sns_topic"},
		AllowedDataSources:        []string{"aws_ami"},
		AWSPermissionsBoundaryARN: "arn:aws:iam::123456789012:policy/TenantBoundary",
		AWSEndpointURL:            "http://127.0.0.1:4566",
		AlertEmail:                "admin@yourapp.com",
		AlertWebhookURL:           e["ALERT_WEBHOOK_URL"],
		TFConcurrency:             4,
		ResyncInterval:            2 * time.Minute,
		DriftCheckInterval:        90 * time.Minute,
		LeaseDuration:             90 * time.Second,
		LeaseRenewDeadline:        75 * time.Second,
		MaxWorkersPerUser:         2,
		TFOperationTimeout:        5 * time.Minute,
		TFMemoryLimitMB:           1024,
		TFCPULimit:                2 * time.Minute,
		TFOutputLimitBytes:        1 << 20,
		TFSandbox:                 tf.SandboxRequire,
		RunRetention:              48 * time.Hour,
		RunsPerProject:            50,
		ShutdownGrace:             15 * time.Second,
		TFPath:                    "/opt/terraform",
		TFVersion:                 goversion.Must(goversion.NewVersion("1.5.7")),
		TFWorkDir:                 "/srv/tf",
		TFPluginCacheDir:          "/srv/plugins",
		TFProviderMirror:          "/srv/mirror",
		Environment:               "staging",
		LogLevel:                  zapcore.DebugLevel,
		LogFormat:                 "console",
		RateLimitRPS:              2.5,
		RateLimitBurst:            5,
		MaxBodyBytes:              65536,
		DataDir:                   "/srv/data",
		DBMaxConns:                20,
		MetricsPort:               9999,
		MetricsMaxSeries:          500,
		MetricsStateMaxAge:        30 * time.Second,
		AlertWebhookSecret:        "whsec-1",
		SMTPURL:                   e["SMTP_URL"],
		AlertExpiryWarning:        30 * time.Minute,
		DatabasePoolMode:          "transaction",
		DatabaseDirectURL:         e["DATABASE_DIRECT_URL"],
		DatabasePollInterval:      500 * time.Millisecond,
		PricingRefreshInterval:    12 * time.Hour,
		CostExplorerInterval:      -1,
	}
	got, err := parseConfig(modeServe, e.get)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpVersions); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := got.Validate(modeServe); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestBadValueNamesItsVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		// want is the whole message for that variable.
		want string
	}{
		{"MAX_COST_PER_PROJECT", "abc", `MAX_COST_PER_PROJECT="abc" is not a number`},
		{"MAX_COST_PER_PROJECT", "-5", `MAX_COST_PER_PROJECT="-5" must be at least 0.01`},
		{"MAX_COST_PER_PROJECT", "NaN", `MAX_COST_PER_PROJECT="NaN" is not a number`},
		{"PORT", "http", `PORT="http" is not a whole number`},
		{"PORT", "70000", `PORT="70000" must be between 0 and 65535`},
		{"MAX_RESOURCES_PER_USER", "0", `MAX_RESOURCES_PER_USER="0" must be between 1 and 1000000`},
		{"MAX_RESOURCES_PER_USER", "1.5", `MAX_RESOURCES_PER_USER="1.5" is not a whole number`},
		{"RESOURCE_TIMEOUT_MINUTES", "1h", `RESOURCE_TIMEOUT_MINUTES="1h" is not a whole number`},
		{"AWS_REGION", "US East", `AWS_REGION="US East" is not an AWS region name such as us-east-1`},
		{"AWS_ROLE_ARN", "ChartAppHerokuRole", `AWS_ROLE_ARN="ChartAppHerokuRole" is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)`},
		{"AWS_ROLE_ARN", "arn:aws:iam::YOUR_ACCOUNT_ID:role/ChartAppHerokuRole", `AWS_ROLE_ARN="arn:aws:iam::YOUR_ACCOUNT_ID:role/ChartAppHerokuRole" is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)`},
		{"AWS_ROLE_ARN", "arn:aws:iam::123456789012:user/bob", `AWS_ROLE_ARN="arn:aws:iam::123456789012:user/bob" is not an IAM role ARN (arn:aws:iam::123456789012:role/Name)`},
		{"AWS_EXTERNAL_ID", "has space", `AWS_EXTERNAL_ID must be 2 to 1224 characters of letters, digits and +=,.@:/-`},
		{"AWS_SESSION_NAME", "x", `AWS_SESSION_NAME="x" must be 2 to 64 characters of letters, digits and +=,.@-`},
		{"AWS_COST_BUDGET_LIMIT", "lots", `AWS_COST_BUDGET_LIMIT="lots" is not a number`},
		{"ALERT_EMAIL", "admin", `ALERT_EMAIL="admin" is not an e-mail address`},
		{"ALERT_WEBHOOK_URL", "ftp://hooks.example.com/secret", `ALERT_WEBHOOK_URL is not an http(s) URL`},
		{"CORS_ORIGIN", "https://app.example.com/path", `CORS_ORIGIN="https://app.example.com/path" is not "*" or an origin such as https://app.example.com`},
		{"AWS_ALLOWED_REGIONS", "us-east-1,mars", `AWS_ALLOWED_REGIONS="us-east-1,mars" has "mars", which is not an AWS region name`},
		{"AWS_ALLOWED_REGIONS", " , ", `AWS_ALLOWED_REGIONS="," names no region`},
		{"AWS_ENDPOINT_URL", "localhost:4566", `AWS_ENDPOINT_URL="localhost:4566" is not an http(s) URL`},
		{"INVENTORY_INTERVAL", "1s", `INVENTORY_INTERVAL="1s" must be at least 30s`},
		{"ORPHAN_CLEANUP", "yes", `ORPHAN_CLEANUP="yes" is not "report" or "delete"`},
		{"PRICING_REFRESH_INTERVAL", "5m", `PRICING_REFRESH_INTERVAL="5m" must be at least 1h0m0s`},
		{"COST_EXPLORER_INTERVAL", "never", `COST_EXPLORER_INTERVAL="never" is not a duration such as 30s, 5m or 1h`},
		{"TF_CONCURRENCY", "0", `TF_CONCURRENCY="0" must be between 1 and 256`},
		{"TF_SANDBOX", "on", `TF_SANDBOX="on" must be auto, require or off`},
		{"RESYNC_INTERVAL", "10", `RESYNC_INTERVAL="10" is not a duration such as 30s, 5m or 1h`},
		{"LEASE_DURATION", "1s", `LEASE_DURATION="1s" must be at least 3s`},
		{"SHUTDOWN_GRACE", "soon", `SHUTDOWN_GRACE="soon" is not a duration such as 30s, 5m or 1h`},
		{"TF_VERSION", "latest", `TF_VERSION="latest" is not a version such as 1.11.4`},
		{"TF_VERSION", "1.4.6", `TF_VERSION="1.4.6" is older than terraform 1.5.0, the oldest tenantform supports`},
		{"ENVIRONMENT", "prod\n", ""}, // trimmed: valid
		{"ENVIRONMENT", "prod;rm", `ENVIRONMENT="prod;rm" must be 1 to 256 characters of letters, digits, spaces and _.:/=+-@`},
		{"LOG_LEVEL", "verbose", `LOG_LEVEL="verbose" is not one of debug, info, warn, error`},
		{"LOG_FORMAT", "text", `LOG_FORMAT="text" is not "json" or "console"`},
		{"RATE_LIMIT_RPS", "fast", `RATE_LIMIT_RPS="fast" is not a number`},
		{"RATE_LIMIT_BURST", "0", `RATE_LIMIT_BURST="0" must be between 1 and 100000`},
		{"MAX_BODY_BYTES", "1MiB", `MAX_BODY_BYTES="1MiB" is not a whole number`},
		{"DB_MAX_CONNS", "1", `DB_MAX_CONNS="1" must be between 2 and 10000`},
		{"DATABASE_POOL_MODE", "statement", `DATABASE_POOL_MODE="statement" is not "session" or "transaction"`},
		{"DATABASE_DIRECT_URL", "postgres://u:hunter2@db:port/x", `DATABASE_DIRECT_URL is not a valid PostgreSQL connection string (postgres://user:password@host:5432/db)`},
		{"DATABASE_POLL_INTERVAL", "10ms", `DATABASE_POLL_INTERVAL="10ms" must be at least 100ms`},
		{"DATABASE_URL", "postgres://u:hunter2@db:port/x", `DATABASE_URL is not a valid PostgreSQL connection string (postgres://user:password@host:5432/db)`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(modeDev, env{"HOME": "/home/ann", tt.name: tt.value}.get)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBadValuesAreAllReported(t *testing.T) {
	t.Parallel()
	_, err := parseConfig(modeServe, env{"HOME": "/h", "PORT": "x", "LOG_LEVEL": "loud"}.get)
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"PORT", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	t.Parallel()
	e := env{
		"HOME":              "/h",
		"DATABASE_URL":      "postgres://u:hunter2@db:port/x",
		"AWS_EXTERNAL_ID":   "hunter2 with space",
		"ALERT_WEBHOOK_URL": "hooks.example.com/hunter2",
	}
	_, err := parseConfig(modeServe, e.get)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("want an error that does not quote the secrets, got: %v", err)
	}
	cfg, err := parseConfig(modeServe, env{"HOME": "/h", "JWT_SECRET": "hunter2"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(modeServe); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("want an error that does not quote JWT_SECRET, got: %v", err)
	}
}

func TestValidateRequirements(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("k", 32)
	url := "postgres://app:pw@localhost/app"
	tests := []struct {
		name string
		m    mode
		env  env
		want []string // substrings of the error; none means valid
	}{
		{"serve without anything", modeServe, env{}, []string{"DATABASE_URL is not set; tenantform serve needs it", "JWT_SECRET is not set; tenantform serve needs it"}},
		{"serve without JWT_SECRET", modeServe, env{"DATABASE_URL": url}, []string{"JWT_SECRET is not set"}},
		{"serve without DATABASE_URL", modeServe, env{"JWT_SECRET": secret}, []string{"DATABASE_URL is not set"}},
		{"serve with a short secret", modeServe, env{"DATABASE_URL": url, "JWT_SECRET": "short"}, []string{"JWT_SECRET is 5 bytes; use at least 32"}},
		{"serve", modeServe, env{"DATABASE_URL": url, "JWT_SECRET": secret}, nil},
		{"reconcile without JWT_SECRET", modeReconcile, env{"DATABASE_URL": url}, []string{"JWT_SECRET is not set; tenantform reconcile needs it"}},
		{"reconcile without DATABASE_URL", modeReconcile, env{"JWT_SECRET": secret}, []string{"DATABASE_URL is not set; tenantform reconcile needs it"}},
		{"reconcile", modeReconcile, env{"DATABASE_URL": url, "JWT_SECRET": secret}, nil},
		{"migrate needs only the database", modeMigrate, env{"DATABASE_URL": url}, nil},
		{"migrate without DATABASE_URL", modeMigrate, env{}, []string{"DATABASE_URL is not set; tenantform migrate needs it"}},
		{"dev needs nothing", modeDev, env{}, nil},
		{"pooled reconcile without a direct connection", modeReconcile, env{"DATABASE_URL": url, "JWT_SECRET": secret, "DATABASE_POOL_MODE": "transaction"},
			[]string{"DATABASE_POOL_MODE=transaction: terraform's pg state backend holds session advisory locks", "set DATABASE_DIRECT_URL (or TF_STATE_DATABASE_URL)"}},
		{"pooled reconcile with a direct connection", modeReconcile, env{"DATABASE_URL": url, "JWT_SECRET": secret, "DATABASE_POOL_MODE": "transaction", "DATABASE_DIRECT_URL": url}, nil},
		{"pooled reconcile with a state connection", modeReconcile, env{"DATABASE_URL": url, "JWT_SECRET": secret, "DATABASE_POOL_MODE": "transaction", "TF_STATE_DATABASE_URL": url}, nil},
		{"pooled serve needs no direct connection", modeServe, env{"DATABASE_URL": url, "JWT_SECRET": secret, "DATABASE_POOL_MODE": "transaction"}, nil},
		{"pooled migrate without a direct connection", modeMigrate, env{"DATABASE_URL": url, "DATABASE_POOL_MODE": "transaction"},
			[]string{"migrations hold a session advisory lock", "set DATABASE_DIRECT_URL"}},
		{"pooled dev with its private server", modeDev, env{"DATABASE_POOL_MODE": "transaction"}, []string{"DATABASE_POOL_MODE=transaction needs DATABASE_URL"}},
		{"pooled dev with a server of its own", modeDev, env{"DATABASE_POOL_MODE": "transaction", "DATABASE_URL": url, "DATABASE_DIRECT_URL": url}, nil},
		{"dev with a short secret", modeDev, env{"JWT_SECRET": "short"}, []string{"JWT_SECRET is 5 bytes"}},
		{"renew deadline past the lease", modeDev, env{"LEASE_DURATION": "30s", "LEASE_RENEW_DEADLINE": "30s"},
			[]string{"LEASE_RENEW_DEADLINE=30s must be shorter than LEASE_DURATION=30s"}},
		{"no time left to stop terraform", modeDev, env{"LEASE_DURATION": "30s", "LEASE_RENEW_DEADLINE": "25s"},
			[]string{"LEASE_RENEW_DEADLINE=25s leaves 5s of LEASE_DURATION=30s to stop terraform; it needs 10s"}},
		{"a lease too short for the default renew deadline", modeDev, env{"LEASE_DURATION": "10s"},
			[]string{"leaves 3.333333334s of LEASE_DURATION=10s"}},
		{"region outside the allow-list", modeDev, env{"AWS_REGION": "eu-west-1"}, []string{`AWS_REGION="eu-west-1" is not one of AWS_ALLOWED_REGIONS (us-east-1,us-west-2)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.env["HOME"] = "/h"
			cfg, err := parseConfig(tt.m, tt.env.get)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate(tt.m)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error mentioning %q, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The subcommands refuse to start on bad configuration before touching the
// database: the exit status and message are what an operator sees.
func TestServeRefusesToStart(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "reconcile"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{cmd}, &stdout, &stderr, env{"HOME": "/h", "DATABASE_URL": "postgres://localhost/x"}.get)
		if code != 1 {
			t.Errorf("%s: exit status %d, want 1", cmd, code)
		}
		if !strings.Contains(stderr.String(), "JWT_SECRET is not set") {
			t.Errorf("%s: stderr does not name JWT_SECRET:\n%s", cmd, stderr.String())
		}
	}
	var stderr bytes.Buffer
	code := run([]string{"serve"}, &bytes.Buffer{}, &stderr, env{"HOME": "/h", "MAX_COST_PER_PROJECT": "abc"}.get)
	if code != 1 || !strings.Contains(stderr.String(), `MAX_COST_PER_PROJECT="abc" is not a number`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	got, err := defaultDataDir(env{"HOME": "/home/ann", "XDG_DATA_HOME": "/xdg"}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := "/xdg/tenantform"
	if isRoot() {
		want = "/var/lib/tenantform"
	}
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got, _ = defaultDataDir(env{"HOME": "/home/ann"}.get)
	want = "/home/ann/.local/share/tenantform"
	if isRoot() {
		want = "/var/lib/tenantform"
	}
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"postgres://app:hunter2@db:5432/app?sslmode=require": "postgres://app:xxxxx@db:5432/app?sslmode=require",
		"postgres://app@db/app?password=hunter2":             "postgres://app@db/app?password=xxxxx",
		"host=db user=app password=hunter2":                  "(a key=value connection string)",
		"postgres://db/app":                                  "postgres://db/app",
	}
	for in, want := range tests {
		if got := redactDatabaseURL(in); got != want {
			t.Errorf("redactDatabaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStateConnString(t *testing.T) {
	t.Parallel()
	both := Config{DatabaseURL: "postgres://app@db/app", TFStateDatabaseURL: "postgres://tfstate@db/app"}
	if got := both.stateConnString(); got != both.TFStateDatabaseURL {
		t.Errorf("with TF_STATE_DATABASE_URL set, terraform gets %q", got)
	}
	only := Config{DatabaseURL: "postgres://app@db/app"}
	if got := only.stateConnString(); got != only.DatabaseURL {
		t.Errorf("without TF_STATE_DATABASE_URL, terraform gets %q", got)
	}
	pooled := Config{DatabaseURL: "postgres://app@pooler/app", DatabaseDirectURL: "postgres://app@db/app"}
	if got := pooled.stateConnString(); got != pooled.DatabaseDirectURL {
		t.Errorf("with DATABASE_DIRECT_URL set, terraform gets %q, want the direct connection", got)
	}
}
