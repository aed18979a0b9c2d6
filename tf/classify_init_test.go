package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClassifyInitFailures: init failures recorded from terraform 1.11.4
// (testdata/diagnostics/init_*.stderr, human-readable stderr as tfexec
// gets it). Those caused by the tenant's files are terminal configuration
// errors, not retried forever; those of the host (registry, mirror) stay
// transient.
func TestClassifyInitFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config bool
		is     error  // a sentinel the error must match, or nil
		first  string // a part of the first line of Error()
	}{
		// A terraform.tfstate beside the configuration: the pg backend
		// asks to migrate it, and input is disabled.
		{"init_state_migration", true, nil, "state migration"},
		{"init_workspace_state_migration", true, nil, "state migration"},
		{"init_locked_version_excluded", true, ErrProviderVersionExcluded, "exclude the version tenantform runs"},
		{"init_required_version", true, nil, "terraform init failed: main.tf:2: Unsupported Terraform Core version"},
		{"init_module_missing", true, nil, "terraform init failed with 2 errors:"},
		{"init_checksum_mismatch", false, ErrProviderNotInstallable, "cannot be installed"},
		{"init_registry_unreachable", false, ErrProviderNotInstallable, "cannot be installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "diagnostics", tc.name+".stderr"))
			if err != nil {
				t.Fatal(err)
			}
			ce := newCommandError(context.Background(), "init", exitError(t), string(b), nil, "", newRedactor())
			if got := IsConfigurationError(ce); got != tc.config {
				t.Errorf("IsConfigurationError = %v, want %v; diagnostics %+v", got, tc.config, ce.Diagnostics)
			}
			if tc.is != nil && !errors.Is(ce, tc.is) {
				t.Errorf("the error does not match %v: %v", tc.is, ce)
			}
			if first, _, _ := strings.Cut(ce.Error(), "\n"); !strings.Contains(first, tc.first) {
				t.Errorf("first line %q, want it to contain %q", first, tc.first)
			}
		})
	}
}
