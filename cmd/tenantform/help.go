package main

import (
	"fmt"
	"io"
	"strings"
)

// The environment each service subcommand reads, for its --help. Names
// only: defaults and meanings come from the settings table and the README,
// so they cannot drift apart here (TestHelpListsTheEnvironment checks every
// name against the table, and the required ones against Validate).
var (
	databaseVars = []string{"DATABASE_URL", "DB_MAX_CONNS", "DATABASE_POOL_MODE", "DATABASE_DIRECT_URL"}
	loggingVars  = []string{"LOG_LEVEL", "LOG_FORMAT"}
	limitVars    = []string{"MAX_RESOURCES_PER_USER", "MAX_COST_PER_PROJECT", "RESOURCE_TIMEOUT_MINUTES",
		"AWS_REGION", "AWS_ALLOWED_REGIONS"}
	apiVars = []string{"PORT", "JWT_SECRET", "CORS_ORIGIN", "RATE_LIMIT_RPS", "RATE_LIMIT_BURST",
		"MAX_BODY_BYTES", "SHUTDOWN_GRACE"}
	reconcilerVars = []string{"TF_STATE_DATABASE_URL", "DATABASE_POLL_INTERVAL", "AWS_COST_BUDGET_LIMIT", "AWS_ROLE_ARN", "AWS_EXTERNAL_ID",
		"AWS_SESSION_NAME", "AWS_ENDPOINT_URL", "ALERT_EMAIL", "ALERT_WEBHOOK_URL", "TF_CONCURRENCY",
		"RESYNC_INTERVAL", "DRIFT_CHECK_INTERVAL", "LEASE_DURATION", "LEASE_RENEW_DEADLINE", "SHUTDOWN_GRACE", "TF_PATH", "TF_VERSION",
		"TF_WORK_DIR", "TF_PLUGIN_CACHE_DIR", "TF_PROVIDER_MIRROR", "ENVIRONMENT", "TENANTFORM_DATA_DIR"}
)

// modeEnvironment is, per subcommand, the variables it requires and the
// others it reads.
var modeEnvironment = map[mode]struct{ required, optional []string }{
	modeServe:     {required: []string{"DATABASE_URL", "JWT_SECRET"}, optional: concat(apiVars, limitVars, databaseVars, loggingVars)},
	modeReconcile: {required: []string{"DATABASE_URL", "JWT_SECRET"}, optional: concat(reconcilerVars, limitVars, databaseVars, loggingVars)},
	modeMigrate:   {required: []string{"DATABASE_URL"}, optional: concat(databaseVars, loggingVars)},
	modeDev:       {optional: concat(apiVars, reconcilerVars, limitVars, databaseVars, loggingVars)},
	modeToken:     {optional: []string{"JWT_SECRET", "TENANTFORM_DATA_DIR"}},
}

func concat(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, name := range l {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

// printEnvironmentHelp writes the environment block of a subcommand's
// --help: what must be set, then what else is read, with defaults.
func printEnvironmentHelp(w io.Writer, m mode) {
	env, ok := modeEnvironment[m]
	if !ok {
		return
	}
	fmt.Fprintln(w, "\nEnvironment:")
	for _, name := range env.required {
		if name == "" {
			continue
		}
		fmt.Fprintf(w, "  %-26s required\n", name)
	}
	for _, name := range env.optional {
		if containsString(env.required, name) {
			continue
		}
		fmt.Fprintf(w, "  %-26s %s\n", name, settingDefault(name, m))
	}
	fmt.Fprintln(w, "See README.md (Configuration) for what each one does.")
}

// settingDefault describes a variable's default for --help.
func settingDefault(name string, m mode) string {
	for _, s := range settings {
		if s.name != name {
			continue
		}
		def := s.def
		if m == modeDev && s.devDef != "" {
			def = s.devDef
		}
		switch {
		case def != "":
			return "default " + def
		case s.docDefault != "":
			return "default " + strings.ReplaceAll(s.docDefault, "`", "")
		}
		return "optional"
	}
	return "optional"
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
