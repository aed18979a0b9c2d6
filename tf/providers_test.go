package tf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/providers"
)

// TestPruneProviderCache: an engine starting on a plugin cache keeps only
// the versions of the platform's lock; whatever else an earlier engine or
// lock installed is removed.
func TestPruneProviderCache(t *testing.T) {
	cache := t.TempDir()
	for _, rel := range []string{
		"registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5",
		"registry.terraform.io/hashicorp/aws/5.1.0/linux_amd64/terraform-provider-aws_v5.1.0_x5",
		"registry.terraform.io/hashicorp/random/3.7.2/linux_amd64/terraform-provider-random_v3.7.2_x5",
		"registry.terraform.io/hashicorp/random/3.0.0/linux_amd64/terraform-provider-random_v3.0.0_x5",
		"registry.terraform.io/hashicorp/null/3.2.0/linux_amd64/terraform-provider-null_v3.2.0_x5",
		"example.com/acme/aws/5.100.0/linux_amd64/terraform-provider-aws",
	} {
		p := filepath.Join(cache, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := pruneProviderCache(cache, providers.Platform(), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(cache, "*", "*", "*", "*"))
	for i := range got {
		got[i], _ = filepath.Rel(cache, got[i])
	}
	want := []string{
		"registry.terraform.io/hashicorp/aws/5.100.0",
		"registry.terraform.io/hashicorp/random/3.7.2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cache after pruning (-want +got):\n%s", diff)
	}
}

// TestGeneratedProviderPin: the generated provider files pin hashicorp/aws
// to the locked version, joined to the tenant's constraint.
func TestGeneratedProviderPin(t *testing.T) {
	lock, err := providers.New(providers.Provider{Source: "registry.terraform.io/hashicorp/aws", Version: "5.99.0"})
	if err != nil {
		t.Fatal(err)
	}
	p := Project{UserID: "u", ProjectID: "p", Region: "us-east-1", Files: map[string]string{
		"main.tf": "terraform {\n  required_providers {\n    aws = { source = \"hashicorp/aws\", version = \"~> 5.0\" }\n  }\n}\nresource \"aws_s3_bucket\" \"b\" {}\n",
	}}
	gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gen[providerOverrideFile]), `"version": "~\u003e 5.0, 5.99.0"`) {
		t.Errorf("the override does not pin the locked version:\n%s", gen[providerOverrideFile])
	}
}

// TestTamperedLockSendsTheWorkdirThroughInit: a workdir whose lock file was
// changed (or removed) since its last init is initialised again, from the
// platform's lock, instead of planning with whatever the file says; an
// intact one skips init.
func TestTamperedLockSendsTheWorkdirThroughInit(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "")
	p := counterProject("lara", "lock", 1)
	ctx := testContext(t)
	if _, err := e.Plan(ctx, p, nil); err != nil {
		t.Fatal(describe(err))
	}
	lockFile := filepath.Join(e.workdir(p), providers.LockFileName)
	plan, err := e.Plan(ctx, p, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if !strings.Contains(plan.Log, "init skipped") {
		t.Fatalf("an intact workdir was initialised again:\n%s", plan.Log)
	}
	for name, tamper := range map[string]func() error{
		"another version": func() error {
			return os.WriteFile(lockFile, []byte("provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.1.0\"\n}\n"), 0o600)
		},
		"removed": func() error { return os.Remove(lockFile) },
	} {
		if err := tamper(); err != nil {
			t.Fatal(err)
		}
		plan, err := e.Plan(ctx, p, nil)
		if err != nil {
			t.Fatalf("%s: %s", name, describe(err))
		}
		if strings.Contains(plan.Log, "init skipped") {
			t.Errorf("%s: init was skipped", name)
		}
		if b, err := os.ReadFile(lockFile); err != nil || !providers.Platform().RefinedBy(b) {
			t.Errorf("%s: the lock after init is not the platform's: %v\n%s", name, err, b)
		}
	}
}
