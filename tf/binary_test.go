package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// fakeTerraform writes a script that answers `version -json` like the
// given terraform version.
func fakeTerraform(t *testing.T, dir, v string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeScript(t, dir, "terraform", `echo '{"terraform_version": "`+v+`", "platform": "linux_amd64"}'`+"\n")
}

func TestFindBinary(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	old := fakeTerraform(t, filepath.Join(tmp, "old"), "1.4.6")
	dev := fakeTerraform(t, filepath.Join(tmp, "dev"), "1.5.7-dev")
	empty := filepath.Join(tmp, "empty")
	os.MkdirAll(empty, 0o755)

	// TF_PATH wins, and is refused when too old rather than skipped.
	path, v, err := FindBinary(ctx, FindOptions{TFPath: dev, SearchPath: filepath.Dir(old)})
	if err != nil || path != dev || v.String() != "1.5.7-dev" {
		t.Errorf("TFPath: %s %v %v", path, v, err)
	}
	_, _, err = FindBinary(ctx, FindOptions{TFPath: old})
	if err == nil || !strings.Contains(err.Error(), "1.4.6") || !strings.Contains(err.Error(), "1.5.0 or newer") {
		t.Errorf("old TFPath: err = %v, want a clear version message", err)
	}

	// PATH: first match.
	path, _, err = FindBinary(ctx, FindOptions{SearchPath: empty + ":" + filepath.Dir(dev) + ":" + filepath.Dir(old)})
	if err != nil || path != dev {
		t.Errorf("search path: %s %v", path, err)
	}
	// An old one on PATH and no installation allowed: the version error.
	_, _, err = FindBinary(ctx, FindOptions{SearchPath: filepath.Dir(old)})
	if err == nil || !strings.Contains(err.Error(), "1.5.0 or newer") {
		t.Errorf("old on PATH: err = %v", err)
	}
	// Nothing anywhere.
	_, _, err = FindBinary(ctx, FindOptions{SearchPath: empty})
	if !errors.Is(err, ErrBinaryNotFound) {
		t.Errorf("nothing found: err = %v, want ErrBinaryNotFound", err)
	}

	// An earlier installation is reused without the network.
	want := version.Must(version.NewVersion("1.9.8"))
	installDir := filepath.Join(tmp, "install")
	cached := fakeTerraform(t, filepath.Join(installDir, "terraform_1.9.8"), "1.9.8")
	path, v, err = FindBinary(ctx, FindOptions{SearchPath: empty, InstallDir: installDir, InstallVersion: want})
	if err != nil || path != cached || !v.Equal(want) {
		t.Errorf("cached install: %s %v %v", path, v, err)
	}
	_, _, err = FindBinary(ctx, FindOptions{SearchPath: empty, InstallDir: installDir, InstallVersion: version.Must(version.NewVersion("1.4.0"))})
	if err == nil || !strings.Contains(err.Error(), "1.5.0 or newer") {
		t.Errorf("installing an old version: err = %v", err)
	}
}

func TestBinaryVersionRejectsNonTerraform(t *testing.T) {
	script := writeScript(t, t.TempDir(), "terraform", "echo hello\n")
	if _, err := BinaryVersion(context.Background(), script); err == nil {
		t.Error("a script printing hello was taken for terraform")
	}
}

func TestCLIConfig(t *testing.T) {
	mirror := t.TempDir()
	for _, d := range []string{"registry.terraform.io/hashicorp/aws/5.0.0/linux_amd64", "example.test/acme/fake"} {
		os.MkdirAll(filepath.Join(mirror, d), 0o755)
	}
	os.WriteFile(filepath.Join(mirror, "README"), nil, 0o644)
	got, err := mirroredProviders(mirror)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "example.test/acme/fake,registry.terraform.io/hashicorp/aws" {
		t.Errorf("mirrored providers = %q", got)
	}
	cfg := renderCLIConfig("/cache", mirror, got)
	for _, want := range []string{
		`plugin_cache_dir = "/cache"`,
		"plugin_cache_may_break_dependency_lock_file = true",
		"disable_checkpoint = true",
		`path    = "` + mirror + `"`,
		`include = ["example.test/acme/fake", "registry.terraform.io/hashicorp/aws"]`,
		`exclude = ["example.test/acme/fake", "registry.terraform.io/hashicorp/aws"]`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("CLI config lacks %q:\n%s", want, cfg)
		}
	}
	if cfg := renderCLIConfig("/cache", "", nil); strings.Contains(cfg, "provider_installation") {
		t.Errorf("provider_installation without a mirror:\n%s", cfg)
	}
}

// TestCLIConfigAccepted: terraform itself reads the generated CLI config
// without complaint (a syntax error there is only a warning, easy to miss).
func TestCLIConfigAccepted(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, "postgres://unused@127.0.0.1:1/x", func(c *Config) {
		c.FilesystemMirror = t.TempDir()
		os.MkdirAll(filepath.Join(c.FilesystemMirror, "example.test/acme/fake"), 0o755)
	})
	r := e.newRun(context.Background(), "test", t.TempDir(), "", nil)
	stderr, err := r.terraform("providers", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		_, _, err := tf.Version(ctx, true)
		return err
	})
	if err != nil {
		t.Fatal(describe(err))
	}
	if strings.Contains(stderr, "Warning") || strings.Contains(r.log.String(), "CLI configuration") {
		t.Errorf("terraform complained about the CLI config:\n%s\n%s", stderr, r.log.String())
	}
}
