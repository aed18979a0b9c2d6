package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/providers"
)

// fakeProvider writes an executable hashicorp/aws at version into the
// filesystem mirror dir.
func fakeProvider(t *testing.T, dir, version string) {
	t.Helper()
	pkg := filepath.Join(dir, providers.DefaultRegistry, "hashicorp", "aws", version, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "terraform-provider-aws_v"+version+"_x5"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Dev mode against the emulator takes the real provider where a mirror
// holds it at the locked version, and the double otherwise.
func TestChooseDevProvider(t *testing.T) {
	t.Parallel()
	locked, _ := providers.Platform().Provider("aws")
	real := t.TempDir()
	fakeProvider(t, real, locked.Version)
	empty := t.TempDir()
	otherVersion := t.TempDir()
	fakeProvider(t, otherVersion, "5.1.0")

	for _, tt := range []struct {
		name, flag, configured string
		wantDouble             bool
		wantMirror             string
	}{
		{"a real mirror", devProviderAuto, real, false, real},
		{"an empty mirror", devProviderAuto, empty, true, ""},
		{"a mirror of another version", devProviderAuto, otherVersion, true, ""},
		{"a missing mirror", devProviderAuto, filepath.Join(empty, "none"), true, ""},
		{"the double asked for", devProviderDouble, real, true, ""},
		{"the registry asked for", devProviderRegistry, empty, false, ""},
	} {
		p, err := chooseDevProvider(tt.flag, tt.configured, "5.99.0")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if p.double != tt.wantDouble || p.mirror != tt.wantMirror || p.lock != nil {
			t.Errorf("%s: double %v, mirror %q, lock %v; want double %v, mirror %q, no lock", tt.name, p.double, p.mirror, p.lock, tt.wantDouble, tt.wantMirror)
		}
		if p.double != strings.HasPrefix(p.note, providerDoubleNote) {
			t.Errorf("%s: the note %q does not say plainly which provider runs", tt.name, p.note)
		}
	}
	if _, err := chooseDevProvider("fake", "", "5.99.0"); !errors.Is(err, errUsage) {
		t.Errorf("--aws-provider=fake: %v, want a usage error", err)
	}
	if _, err := chooseDevProvider(devProviderAuto, empty, ""); err == nil || !strings.Contains(err.Error(), "-tags emulator") {
		t.Errorf("auto without a double built in and no real provider: %v, want an error saying how to build one", err)
	}
}

// The private mirror holds exactly the binary under the provider's name,
// and the lock names its package hash as terraform computes it, so
// terraform checks what it runs. The lock of every other provider stays
// the platform's.
func TestInstallProviderDoubleLocksItsHash(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	exe := filepath.Join(t.TempDir(), "tenantform")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho one\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror, lock, err := installProviderDouble(dataDir, exe, "5.99.0")
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", "5.99.0", runtime.GOOS+"_"+runtime.GOARCH)
	installed := filepath.Join(pkg, "terraform-provider-aws_v5.99.0")
	if info, err := os.Stat(installed); err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("the double is not installed as an executable: %v", err)
	}
	aws, _ := lock.Provider("aws")
	if aws.Version != "5.99.0" || len(aws.Hashes) != 1 || !strings.HasPrefix(aws.Hashes[0], "h1:") {
		t.Fatalf("locked aws: %+v, want 5.99.0 with its h1 hash", aws)
	}
	for _, p := range providers.Platform().Providers() {
		if got, _ := lock.Provider(p.Type()); p.Type() != "aws" && !slices.Equal(got.Hashes, p.Hashes) || got.Version != p.Version && p.Type() != "aws" {
			t.Errorf("%s: locked as %+v, want the platform's %+v", p.Type(), got, p)
		}
	}

	// terraform computes the same hash from the mirror.
	if tfBin, err := exec.LookPath("terraform"); err == nil {
		cfgDir := t.TempDir()
		main := `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.99.0" }
  }
}
`
		if err := os.WriteFile(filepath.Join(cfgDir, "main.tf"), []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tfBin, "providers", "lock", "-fs-mirror="+mirror, "-platform="+runtime.GOOS+"_"+runtime.GOARCH)
		cmd.Dir = cfgDir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=", "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform providers lock: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(cfgDir, ".terraform.lock.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"`+aws.Hashes[0]+`"`) {
			t.Errorf("terraform's lock of the mirror lacks %s:\n%s", aws.Hashes[0], b)
		}
	} else {
		t.Log("terraform is not on PATH: the hash is not compared with terraform's")
	}

	// A second start with the same binary keeps the file; a stray file in
	// the package directory (it would change the hash) is removed.
	before, _ := os.Stat(installed)
	if err := os.WriteFile(filepath.Join(pkg, "stray"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, again, err := installProviderDouble(dataDir, exe, "5.99.0")
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(installed); !os.SameFile(before, after) {
		t.Error("an unchanged binary was copied again")
	}
	if a, _ := again.Provider("aws"); a.Hashes[0] != aws.Hashes[0] {
		t.Errorf("hash after a restart with the same binary: %s, want %s", a.Hashes[0], aws.Hashes[0])
	}
	if _, err := os.Stat(filepath.Join(pkg, "stray")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stray file stays in the provider package: %v", err)
	}

	// A new binary replaces it, with a new hash.
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho two\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, changed, err := installProviderDouble(dataDir, exe, "5.99.0")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := changed.Provider("aws"); c.Hashes[0] == aws.Hashes[0] {
		t.Error("a new binary kept the old hash")
	}
	if b, _ := os.ReadFile(installed); string(b) != "#!/bin/sh\necho two\n" {
		t.Errorf("the mirror holds %q, not the new binary", b)
	}
}

// Only dev mode may swap the provider lock or install the double:
// newEngine (serve's and reconcile's engine) keeps the platform's lock,
// only runDev passes another one (useDevProvider's), and only runDev
// chooses and installs the double.
func TestServeAndReconcileNeverUseTheDouble(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// callee → the functions calling it, and what newEngineWithLock gets
	// as its lock in each.
	calls := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				id, ok := call.Fun.(*ast.Ident)
				if !ok {
					return true
				}
				switch id.Name {
				case "useDevProvider", "installProviderDouble":
					calls[id.Name] = append(calls[id.Name], fn.Name.Name)
				case "newEngineWithLock":
					lock := "?"
					if len(call.Args) == 4 {
						if a, ok := call.Args[2].(*ast.Ident); ok {
							lock = a.Name
						}
					}
					calls[id.Name] = append(calls[id.Name], fn.Name.Name+"("+lock+")")
				}
				return true
			})
		}
	}
	for what, want := range map[string][]string{
		"useDevProvider":        {"runDev"},
		"installProviderDouble": {"useDevProvider"},
		"newEngineWithLock":     {"newEngine(nil)", "runDev(providerLock)"},
	} {
		got := slices.Clone(calls[what])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s is called in %v, want only in %v", what, got, want)
		}
	}
}
