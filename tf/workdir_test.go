package tf

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

func policyCheck(e *Engine, p Project) []policy.Violation { return policy.Check(p.Files, e.cfg.Policy) }

const s3Config = `
resource "aws_s3_bucket" "site" {
  bucket_prefix = "site-"
}
`

func awsProject() Project {
	return Project{
		UserID: "alice", ProjectID: "web", Region: "us-west-2",
		Files:     map[string]string{"main.tf": s3Config},
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600)),
	}
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("generated file is not JSON: %v\n%s", err, b)
	}
	return m
}

func TestGeneratedAWSProvider(t *testing.T) {
	p := awsProject()
	gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"terraform": map[string]any{
			"required_providers": map[string]any{"aws": map[string]any{"source": "hashicorp/aws", "version": "5.100.0"}},
		},
		"provider": map[string]any{"aws": map[string]any{
			"region": "us-west-2",
			"default_tags": map[string]any{"tags": map[string]any{
				"Project":     "chart-app-alice-web",
				"Environment": "production",
				"ManagedBy":   "chart-app-platform",
				"UserId":      "alice",
				"ProjectId":   "web",
				"CreatedAt":   "2025-03-04T04:06:07Z",
			}},
		}},
	}
	if diff := cmp.Diff(want, decodeJSON(t, gen[providerFile])); diff != "" {
		t.Errorf("provider file (-want +got):\n%s", diff)
	}
	wantBackend := map[string]any{"terraform": map[string]any{"backend": map[string]any{"pg": map[string]any{"schema_name": "s"}}}}
	if diff := cmp.Diff(wantBackend, decodeJSON(t, gen[backendFile])); diff != "" {
		t.Errorf("backend file (-want +got):\n%s", diff)
	}
	if gen[varsFile] != nil {
		t.Errorf("vars file generated without variables")
	}

	// With an endpoint every service of the guide goes there.
	gen, err = generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", endpointURL: "http://127.0.0.1:4566"})
	if err != nil {
		t.Fatal(err)
	}
	aws := decodeJSON(t, gen[providerFile])["provider"].(map[string]any)["aws"].(map[string]any)
	endpoints, _ := aws["endpoints"].(map[string]any)
	for _, svc := range []string{"s3", "lambda", "dynamodb", "apigateway", "apigatewayv2", "iam", "cloudwatchlogs", "sts"} {
		if endpoints[svc] != "http://127.0.0.1:4566" {
			t.Errorf("endpoint %s = %v", svc, endpoints[svc])
		}
	}
}

func TestGeneratedOverrideForAliases(t *testing.T) {
	p := awsProject()
	p.Files["west.tf"] = `provider "aws" {
  alias  = "west"
  region = "us-west-2"
}
`
	p.Files["more.tf.json"] = `{"provider": {"aws": [{"alias": "east", "region": "us-east-1"}]}}`
	in := renderInput{project: p, info: analyze(p.Files), schema: "s", environment: "dev"}
	gen, err := generatedFiles(in)
	if err != nil {
		t.Fatal(err)
	}
	override := decodeJSON(t, gen[providerOverrideFile])
	list, _ := override["provider"].(map[string]any)["aws"].([]any)
	if len(list) != 2 {
		t.Fatalf("override = %v, want both aliases", override)
	}
	for i, alias := range []string{"east", "west"} {
		cfg := list[i].(map[string]any)
		if cfg["alias"] != alias {
			t.Errorf("override[%d] alias = %v, want %s", i, cfg["alias"], alias)
		}
		if _, ok := cfg["region"]; ok {
			t.Errorf("override of %s sets a region: the tenant's stays", alias)
		}
		tags := cfg["default_tags"].(map[string]any)["tags"].(map[string]any)
		if tags["Project"] != "chart-app-alice-web" || tags["ManagedBy"] != "chart-app-platform" || tags["Environment"] != "dev" {
			t.Errorf("override of %s tags = %v", alias, tags)
		}
	}
	// Without aliases there is no override file.
	q := awsProject()
	gen, _ = generatedFiles(renderInput{project: q, info: analyze(q.Files), schema: "s"})
	if gen[providerOverrideFile] != nil {
		t.Error("override file generated without aliased providers")
	}
}

// TestRenderedAWSConfigLoads has terraform load rendered AWS workdirs
// (`terraform providers` reads every file, merges overrides and resolves
// requirements, without installing anything): the generated files must fit
// tenant configuration whether or not it requires aws itself or declares
// aliased providers.
func TestRenderedAWSConfigLoads(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "postgres://unused@127.0.0.1:1/x", func(c *Config) { c.AWSEndpointURL = "http://127.0.0.1:4566" })
	for name, files := range map[string]map[string]string{
		"plain": {"main.tf": s3Config},
		"tenant requires aws": {"main.tf": s3Config, "versions.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
`},
		"tenant default provider with default_tags and a version": {"main.tf": s3Config, "provider.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}
provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = { Team = "web" }
  }
}
`},
		"json duplicate provider keys and files in subdirectories": {
			"main.tf.json": `{
  "provider": {"aws": {"region": "us-east-1"}},
  "provider": {"aws": {"alias": "b", "region": "us-west-2"}},
  "resource": {"aws_s3_bucket": {"b": {"provider": "aws.b"}}}
}`,
			"modules/api/main.tf":      s3Config,
			"modules/api/src/index.js": "exports.handler = async () => ({})\n",
		},
		"aliases": {"main.tf": s3Config, "west.tf": `provider "aws" {
  alias  = "west"
  region = "us-west-2"
}
resource "aws_s3_bucket" "west" {
  provider = aws.west
}
`, "east.tf.json": `{"provider": {"aws": {"alias": "east", "region": "us-east-1"}}, "resource": {"aws_dynamodb_table": {"t": {"provider": "aws.east", "name": "t", "hash_key": "id", "billing_mode": "PAY_PER_REQUEST", "attribute": [{"name": "id", "type": "S"}]}}}}`},
	} {
		t.Run(name, func(t *testing.T) {
			p := awsProject()
			p.Files = files
			if v := policyCheck(e, p); v != nil {
				t.Fatalf("test configuration refused by the policy: %v", v)
			}
			gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", endpointURL: e.cfg.AWSEndpointURL})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := renderWorkdir(dir, p, gen); err != nil {
				t.Fatal(err)
			}
			// Without the backend, which would need init (and a database).
			os.Remove(filepath.Join(dir, backendFile))
			// tfexec has no plain `terraform providers`: run it with the
			// environment the engine would use.
			r := e.newRun(context.Background(), "test", dir, p.Region, nil)
			cmd := exec.Command(e.cfg.BinaryPath, "providers", "-no-color")
			cmd.Dir = dir
			for k, v := range r.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), "Warning") {
				t.Fatalf("terraform providers: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "provider[registry.terraform.io/hashicorp/aws]") {
				t.Errorf("aws provider not required:\n%s", out)
			}
		})
	}
}

func TestGeneratedProviderOnlyForAWS(t *testing.T) {
	for name, tc := range map[string]struct {
		files       map[string]string
		wantAWS     bool
		wantRequire bool
	}{
		"terraform_data only": {files: map[string]string{"main.tf": `resource "terraform_data" "x" {}`}},
		"random only":         {files: map[string]string{"main.tf": `resource "random_id" "x" { byte_length = 4 }`}},
		"aws resource":        {files: map[string]string{"main.tf": s3Config}, wantAWS: true, wantRequire: true},
		"aws data source": {
			files:   map[string]string{"main.tf": `data "aws_caller_identity" "me" {}`},
			wantAWS: true, wantRequire: true,
		},
		"aws in tf.json": {
			files:   map[string]string{"main.tf.json": `{"resource": {"aws_dynamodb_table": {"t": {"name": "t"}}}}`},
			wantAWS: true, wantRequire: true,
		},
		"aws in tf.json array form": {
			files:   map[string]string{"main.tf.json": `{"data": [{"aws_region": {"r": {}}}]}`},
			wantAWS: true, wantRequire: true,
		},
		"tenant requires aws itself": {
			files: map[string]string{"main.tf": s3Config, "versions.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}`},
			wantAWS: true,
		},
		"tenant requires aws in tf.json": {
			files:   map[string]string{"main.tf": s3Config, "versions.tf.json": `{"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}}}`},
			wantAWS: true,
		},
		"aws mentioned in a data file only": {files: map[string]string{"main.tf": `resource "terraform_data" "x" {}`, "index.js": `// resource "aws_s3_bucket"`}},
	} {
		t.Run(name, func(t *testing.T) {
			p := Project{UserID: "u", ProjectID: "p", Region: "us-east-1", Files: tc.files}
			gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s"})
			if err != nil {
				t.Fatal(err)
			}
			if got := gen[providerFile] != nil; got != tc.wantAWS {
				t.Fatalf("provider file generated = %v, want %v", got, tc.wantAWS)
			}
			if !tc.wantAWS {
				return
			}
			_, required := decodeJSON(t, gen[providerFile])["terraform"]
			if required != tc.wantRequire {
				t.Errorf("required_providers generated = %v, want %v", required, tc.wantRequire)
			}
		})
	}
}

func TestAWSWithoutRegionRefused(t *testing.T) {
	p := awsProject()
	p.Region = ""
	if _, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s"}); err == nil {
		t.Fatal("an AWS configuration without region was rendered")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestRenderWorkdirRemovesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	p := Project{UserID: "u", ProjectID: "p", Files: map[string]string{"a.tf": "# a", "b.tf": "# b"}, Variables: map[string]any{"x": "y"}}
	gen, _ := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s"})
	if err := renderWorkdir(dir, p, gen); err != nil {
		t.Fatal(err)
	}
	// terraform's own state in the workdir must survive re-rendering.
	os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700)
	os.WriteFile(filepath.Join(dir, ".terraform.lock.hcl"), []byte("lock"), 0o600)
	os.MkdirAll(filepath.Join(dir, "leftover-dir"), 0o700)
	want := []string{".tenantform", ".terraform", ".terraform.lock.hcl", "a.tf", "b.tf", "leftover-dir", backendFile, varsFile}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Fatalf("first render (-want +got):\n%s", diff)
	}

	// Next generation: b.tf deleted, a.tf changed, no variables.
	p.Files = map[string]string{"a.tf": "# a2"}
	p.Variables = nil
	gen, _ = generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s"})
	if err := renderWorkdir(dir, p, gen); err != nil {
		t.Fatal(err)
	}
	want = []string{".tenantform", ".terraform", ".terraform.lock.hcl", "a.tf", backendFile}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("second render (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.tf")); string(b) != "# a2" {
		t.Errorf("a.tf = %q, want the new content", b)
	}
}

func TestProjectValidate(t *testing.T) {
	for _, bad := range []Project{
		{UserID: "Alice", ProjectID: "p"},
		{UserID: "a", ProjectID: "../p"},
		{UserID: "a", ProjectID: "p_q"},
		{UserID: "a", ProjectID: strings.Repeat("p", 41)},
		{UserID: "a", ProjectID: "p", Files: map[string]string{"../x.tf": ""}},
		{UserID: "a", ProjectID: "p", Files: map[string]string{"sub/../../x.tf": ""}},
		{UserID: "a", ProjectID: "p", Files: map[string]string{"sub/.terraform/x": ""}},
		{UserID: "a", ProjectID: "p", Files: map[string]string{"/etc/x.tf": ""}},
		{UserID: "a", ProjectID: "p", Files: map[string]string{".terraform": ""}},
		{UserID: "a", ProjectID: "p", Files: map[string]string{"tenantform_backend.tf.json": ""}},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	good := Project{UserID: "a", ProjectID: "p-1", Files: map[string]string{"main.tf": "", "index.js": "", "modules/api/main.tf": "", "src/lib/x.py": ""}}
	if err := good.validate(); err != nil {
		t.Errorf("valid project refused: %v", err)
	}
}

func TestInitDigest(t *testing.T) {
	base := map[string]string{
		"main.tf": `resource "terraform_data" "x" {
  input = var.n
}
variable "n" {}
`,
		"versions.tf": `terraform {
  required_providers {
    random = { source = "hashicorp/random" }
  }
}
`,
	}
	digest := func(mod func(map[string]string)) string {
		files := map[string]string{}
		for k, v := range base {
			files[k] = v
		}
		if mod != nil {
			mod(files)
		}
		return analyze(files).initDigest
	}
	d0 := digest(nil)
	same := map[string]func(map[string]string){
		"resource argument edited": func(f map[string]string) {
			f["main.tf"] = strings.Replace(f["main.tf"], "var.n", "var.n + 1", 1)
		},
		"variable default added": func(f map[string]string) {
			f["main.tf"] = strings.Replace(f["main.tf"], `variable "n" {}`, `variable "n" { default = 2 }`, 1)
		},
		"data file added":     func(f map[string]string) { f["index.js"] = "exports.handler = 1" },
		"output added":        func(f map[string]string) { f["outputs.tf"] = `output "o" { value = 1 }` },
		"resource of same pr": func(f map[string]string) { f["more.tf"] = `resource "terraform_data" "y" {}` },
	}
	for name, mod := range same {
		if digest(mod) != d0 {
			t.Errorf("%s changed the init digest", name)
		}
	}
	different := map[string]func(map[string]string){
		"required_providers changed": func(f map[string]string) {
			f["versions.tf"] = strings.Replace(f["versions.tf"], "random", "archive", -1)
		},
		"new provider implied by a type": func(f map[string]string) {
			f["more.tf"] = `resource "random_id" "r" { byte_length = 2 }`
		},
		"module added":   func(f map[string]string) { f["mod.tf"] = `module "m" { source = "./m" }` },
		"provider block": func(f map[string]string) { f["p.tf"] = `provider "random" {}` },
		"unparsable file edited": func(f map[string]string) {
			f["broken.tf"] = `resource "terraform_data" {`
		},
	}
	for name, mod := range different {
		if digest(mod) == d0 {
			t.Errorf("%s did not change the init digest", name)
		}
	}
}

// TestTenantAWSProvidersGetPlatformTags: every aws provider block of the
// tenant, including the default one and both blocks of a .tf.json file
// with a duplicate "provider" key (terraform's JSON parser keeps both),
// gets the platform's tags merged over the tenant's own default_tags.
func TestTenantAWSProvidersGetPlatformTags(t *testing.T) {
	p := awsProject()
	p.Files = map[string]string{"main.tf.json": `{
  "provider": {"aws": {"region": "us-east-1", "default_tags": {"tags": {"Team": "web", "UserId": "mallory"}}}},
  "provider": {"aws": {"alias": "b", "region": "us-west-2"}},
  "resource": {"terraform_data": {"x": {}}},
  "resource": {"aws_s3_bucket": {"b": {"provider": "aws.b"}}}
}`}
	info := analyze(p.Files)
	if !info.usesAWS {
		t.Fatal("the aws resource behind a duplicate \"resource\" key was not seen")
	}
	gen, err := generatedFiles(renderInput{project: p, info: info, schema: "s", environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if _, declared := decodeJSON(t, gen[providerFile])["provider"]; declared {
		t.Errorf("the default aws provider is declared again although the tenant declares it:\n%s", gen[providerFile])
	}
	platform := PlatformTags(p, "production")
	withTeam := map[string]any{"Team": "web"}
	plain := map[string]any{}
	for k, v := range platform {
		withTeam[k] = v
		plain[k] = v
	}
	want := map[string]any{"provider": map[string]any{"aws": []any{
		map[string]any{"default_tags": map[string]any{"tags": withTeam}},
		map[string]any{"alias": "b", "default_tags": map[string]any{"tags": plain}},
	}}}
	if diff := cmp.Diff(want, decodeJSON(t, gen[providerOverrideFile])); diff != "" {
		t.Errorf("override file (-want +got):\n%s", diff)
	}
}

// TestInjectedTagsArePolicyPlatformTags: the tags the engine injects are
// exactly the ones the policy protects (and deploy/aws keys ABAC on).
func TestInjectedTagsArePolicyPlatformTags(t *testing.T) {
	got := sortedKeys(PlatformTags(awsProject(), "production"))
	want := append([]string(nil), policy.PlatformTagKeys...)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("injected tag keys (-policy +engine):\n%s", diff)
	}
}

// TestRenderWorkdirSubdirectories: files in subdirectories are written,
// and those of an earlier generation removed, dot-entries kept.
func TestRenderWorkdirSubdirectories(t *testing.T) {
	dir := t.TempDir()
	p := Project{UserID: "a", ProjectID: "p", Files: map[string]string{
		"main.tf": "", "modules/api/main.tf": "x", "src/a/index.js": "y",
	}}
	if err := renderWorkdir(dir, p, nil); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, ".terraform", "providers"), 0o700)
	p.Files = map[string]string{"main.tf": "", "src/b.js": "z"}
	if err := renderWorkdir(dir, p, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if !d.IsDir() || rel == ".terraform" {
			got = append(got, filepath.ToSlash(rel))
		}
		if d.IsDir() && rel == ".terraform" {
			return filepath.SkipDir
		}
		return nil
	})
	want := []string{".terraform", "main.tf", "src/b.js"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workdir (-want +got):\n%s", diff)
	}
}

// TestApplyLocalModuleReadingProjectFiles plans and applies with real terraform on a project
// with a local module in a subdirectory that reads a file of its own
// directory through path.module: what issue 10 says ordinary projects do.
func TestApplyLocalModuleReadingProjectFiles(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	p := Project{UserID: "mod", ProjectID: "files", Region: "us-east-1", Files: map[string]string{
		"main.tf": `module "site" {
  source = "./modules/site"
  title  = "Notes"
}
output "page" { value = module.site.page }
`,
		"modules/site/main.tf": `variable "title" { type = string }
resource "terraform_data" "page" {
  input = templatefile("${path.module}/templates/page.tftpl", { title = var.title })
}
output "page" { value = terraform_data.page.output }
`,
		"modules/site/templates/page.tftpl": "<h1>${title}</h1>",
	}}
	if v := policyCheck(e, p); v != nil {
		t.Fatalf("refused by the policy: %v", v)
	}
	plan := mustPlan(t, e, p, nil)
	if plan.Violations != nil {
		t.Errorf("plan policy violations on a clean project: %v", plan.Violations)
	}
	if got := toJSON(t, plan.Summary.Resources); !strings.Contains(got, `"address":"module.site.terraform_data.page"`) || !strings.Contains(got, `\u003ch1\u003eNotes`) {
		t.Errorf("planned resources = %s, want module.site.terraform_data.page with the rendered template", got)
	}
	mustApply(t, e, p, plan, nil)
}

// TestRolesGetThePermissionsBoundary: every aws_iam_role, in the root
// module and in local modules, gets the platform's boundary through an
// override file in its own module directory.
func TestRolesGetThePermissionsBoundary(t *testing.T) {
	p := awsProject()
	p.Files = map[string]string{
		"main.tf":              `resource "aws_iam_role" "a" { assume_role_policy = "{}" }` + "\n" + `module "m" { source = "./modules/m" }`,
		"modules/m/roles.tf":   `resource "aws_iam_role" "b" { assume_role_policy = "{}" }` + "\n" + `resource "aws_iam_role" "c" { assume_role_policy = "{}" }`,
		"modules/n/nothing.tf": `resource "terraform_data" "x" {}`,
	}
	const arn = "arn:aws:iam::111122223333:policy/tenantform-tenant-boundary"
	gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", boundaryARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	boundary := map[string]any{"permissions_boundary": arn}
	for file, roles := range map[string]string{
		boundaryOverrideFile:                "a",
		"modules/m/" + boundaryOverrideFile: "bc",
	} {
		want := map[string]any{}
		for _, r := range roles {
			want[string(r)] = boundary
		}
		if diff := cmp.Diff(map[string]any{"resource": map[string]any{"aws_iam_role": want}}, decodeJSON(t, gen[file])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", file, diff)
		}
	}
	if _, ok := gen["modules/n/"+boundaryOverrideFile]; ok {
		t.Errorf("boundary override written into a module without roles")
	}
}
