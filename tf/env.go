package tf

import (
	"maps"
	"sort"
)

// DefaultSearchPath is the PATH given to terraform when Config.SearchPath is
// empty. Terraform itself needs nothing from PATH (providers are started by
// absolute path); it is set so that anything terraform spawns gets a sane,
// predictable one instead of the server's.
const DefaultSearchPath = "/usr/local/bin:/usr/bin:/bin"

// Credentials are the AWS credentials of one run. They reach only that
// run's terraform processes, as environment variables, and every value is
// redacted from captured output.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

func (c *Credentials) secrets() []string {
	if c == nil {
		return nil
	}
	return []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken}
}

// envSpec is everything a terraform process's environment is made of.
type envSpec struct {
	SearchPath    string
	Home          string
	CLIConfigFile string
	PGConnStr     string
	Region        string
	Creds         *Credentials
}

// buildEnv returns the complete environment of a terraform process. It is
// built from nothing: no variable of the server process is inherited, so
// DATABASE_URL, JWT_SECRET and the server's own AWS keys cannot reach
// tenant code (a provider, or an expression such as a data source reading
// the environment).
//
// tfexec hands this map to the process as its whole environment (in
// terraform-exec v0.26 SetEnv with a non-nil map replaces os.Environ()
// entirely; only a nil map inherits it) and adds only
// its own fixed variables: TF_IN_AUTOMATION=1, TF_APPEND_USER_AGENT and
// empty TF_LOG*. It refuses TF_INPUT and TF_IN_AUTOMATION in the map (it
// manages them), so interactive input is instead disabled with the
// -input=false flag tfexec passes to every command that could prompt.
func buildEnv(s envSpec) map[string]string {
	path := s.SearchPath
	if path == "" {
		path = DefaultSearchPath
	}
	env := map[string]string{
		"PATH": path,
		// HOME inside the workdir: nothing of the server user's home
		// (~/.aws, ~/.terraformrc, ~/.terraform.d) is visible.
		"HOME":               s.Home,
		"TF_CLI_CONFIG_FILE": s.CLIConfigFile,
		// tfexec copies CHECKPOINT_DISABLE from the server environment
		// unless it is set here; the CLI config disables it as well.
		"CHECKPOINT_DISABLE": "1",
		// The pg backend reads its connection string from here, so it
		// never has to be written into the workdir.
		"PG_CONN_STR": s.PGConnStr,
		// Without credentials of its own the AWS SDK would fall back to
		// the instance metadata service, i.e. the server's role.
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	if s.Region != "" {
		env["AWS_REGION"] = s.Region
		env["AWS_DEFAULT_REGION"] = s.Region
	}
	if c := s.Creds; c != nil {
		if c.AccessKeyID != "" {
			env["AWS_ACCESS_KEY_ID"] = c.AccessKeyID
		}
		if c.SecretAccessKey != "" {
			env["AWS_SECRET_ACCESS_KEY"] = c.SecretAccessKey
		}
		if c.SessionToken != "" {
			env["AWS_SESSION_TOKEN"] = c.SessionToken
		}
	}
	return env
}

// envKeys lists the variable names of an environment, sorted (for logs:
// never log the values).
func envKeys(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range maps.Keys(env) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
