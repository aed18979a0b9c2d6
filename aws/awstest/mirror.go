package awstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// ProviderVersion is the version the test double of hashicorp/aws is
// installed as. A configuration that constrains the aws provider to 5.x
// accepts it.
const ProviderVersion = "5.99.0"

// providerPackage is the test double's main package.
const providerPackage = "github.com/tenantform/tenantform/aws/awstest/provider"

var provider struct {
	once sync.Once
	dir  string
	took time.Duration
	err  error
}

// ProviderMirror builds the test double of the hashicorp/aws provider
// (package provider, TEST ONLY) once per test binary and returns a
// filesystem_mirror directory holding it as
// registry.terraform.io/hashicorp/aws ProviderVersion, for
// tf.Config.FilesystemMirror. The mirror is in the system's temporary
// directory, one per user, and rebuilt (atomically) by each test binary
// that needs it: go build caches its work, so only the first build on a
// machine is slow (about a minute; a few seconds after that).
func ProviderMirror(t testing.TB) string {
	t.Helper()
	provider.once.Do(func() {
		start := time.Now()
		provider.dir, provider.err = buildProvider()
		provider.took = time.Since(start)
	})
	if provider.err != nil {
		t.Fatalf("cannot build the test provider: %v", provider.err)
	}
	t.Logf("test provider mirror %s (built in %s)", provider.dir, provider.took.Round(time.Millisecond))
	return provider.dir
}

func buildProvider() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	mirror := filepath.Join(os.TempDir(), fmt.Sprintf("tenantform-test-provider-mirror-%d", os.Getuid()))
	dir := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", ProviderVersion, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goBin, "build", "-o", tmp.Name(), providerPackage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", providerPackage, err, out.Bytes())
	}
	// A rename, so that a terraform of another test binary never sees a
	// half-written provider.
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "terraform-provider-aws_v"+ProviderVersion)); err != nil {
		return "", err
	}
	return mirror, nil
}

// DefaultRealProviderMirror is where the real hashicorp/aws provider is
// installed as a filesystem mirror on tenantform's build machines.
const DefaultRealProviderMirror = "/opt/tf-plugins"

// RequireRealProviderEnv, when set to a non-empty value (CI sets it on the
// machines that carry the mirror), makes AWSProviderMirror fail a test
// instead of falling back to the test double.
const RequireRealProviderEnv = "TENANTFORM_REQUIRE_REAL_AWS_PROVIDER"

// AWSProviderMirror returns a filesystem_mirror directory holding
// registry.terraform.io/hashicorp/aws for tests that run terraform against
// the emulator: the real provider from TF_PROVIDER_MIRROR (default
// DefaultRealProviderMirror) wherever that mirror holds one for this
// platform, real = true. Elsewhere it falls back to the test double
// (ProviderMirror), says so in the test's log, and returns real = false;
// with RequireRealProviderEnv set, the fallback fails the test.
func AWSProviderMirror(t testing.TB) (dir string, real bool) {
	t.Helper()
	dir = os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = DefaultRealProviderMirror
	}
	if version, ok := realProviderIn(dir); ok {
		t.Logf("real hashicorp/aws %s from the mirror %s", version, dir)
		return dir, true
	}
	if os.Getenv(RequireRealProviderEnv) != "" {
		t.Fatalf("%s is set but %s holds no hashicorp/aws for %s_%s (set TF_PROVIDER_MIRROR to the mirror that does)",
			RequireRealProviderEnv, dir, runtime.GOOS, runtime.GOARCH)
	}
	t.Logf("no real hashicorp/aws in %s: using the TEST DOUBLE of the provider (aws/awstest/provider), which implements only aws_s3_bucket and aws_dynamodb_table", dir)
	return ProviderMirror(t), false
}

// realProviderIn returns the version of a hashicorp/aws provider binary
// for this platform in the filesystem mirror dir, if there is one.
func realProviderIn(dir string) (string, bool) {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	found, _ := filepath.Glob(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "*", platform, "terraform-provider-aws_*"))
	for _, f := range found {
		version := filepath.Base(filepath.Dir(filepath.Dir(f)))
		if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 && version != ProviderVersion {
			return version, true
		}
	}
	return "", false
}

// PrivateProviderMirror builds the test double into a mirror of the
// test's own. ProviderMirror's is shared by every test binary of the
// machine and rebuilt by each from whatever sources that binary has: a
// rebuild from another checkout under a running terraform fails its apply
// ("the cached package ... does not match"). Tests that run terraform for
// minutes (the crash suite, the recovery tests) take a private one.
func PrivateProviderMirror(t testing.TB) string {
	t.Helper()
	mirror := t.TempDir()
	dir := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", ProviderVersion, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-aws_v"+ProviderVersion), providerPackage).CombinedOutput(); err != nil {
		t.Fatalf("building the test double of hashicorp/aws: %v\n%s", err, out)
	}
	return mirror
}
