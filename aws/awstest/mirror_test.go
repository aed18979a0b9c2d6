package awstest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The real provider is recognised in a filesystem mirror only as an
// executable for this platform, and never as the test double's version.
func TestRealProviderIn(t *testing.T) {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	for _, c := range []struct {
		name, version, platform string
		mode                    os.FileMode
		want                    bool
	}{
		{"the real provider", "5.100.0", platform, 0o755, true},
		{"not executable", "5.100.0", platform, 0o644, false},
		{"another platform", "5.100.0", "plan9_arm", 0o755, false},
		{"the test double", ProviderVersion, platform, 0o755, false},
	} {
		dir := t.TempDir()
		bin := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", c.version, c.platform, "terraform-provider-aws_v"+c.version+"_x5")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), c.mode); err != nil {
			t.Fatal(err)
		}
		version, ok := realProviderIn(dir)
		if ok != c.want || (ok && version != c.version) {
			t.Errorf("%s: %q %v, want %v", c.name, version, ok, c.want)
		}
	}
	if _, ok := realProviderIn(t.TempDir()); ok {
		t.Error("an empty mirror holds a provider")
	}
}
