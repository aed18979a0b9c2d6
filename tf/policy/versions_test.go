package policy

import (
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/providers"
)

// TestProviderVersionConstraints: a tenant's constraint must admit the
// version the platform's lock pins; one that does not is refused at
// upload, naming the file, the line and the pinned version.
func TestProviderVersionConstraints(t *testing.T) {
	for _, tc := range []struct {
		name, entry string
		refused     string // "" when accepted
	}{
		{"aws tilde", `aws = { source = "hashicorp/aws", version = "~> 5.0" }`, ""},
		{"aws bare", `aws = "~> 5.100"`, ""},
		{"aws exact", `aws = { source = "hashicorp/aws", version = "5.100.0" }`, ""},
		{"aws no version", `aws = { source = "hashicorp/aws" }`, ""},
		{"aws old", `aws = { source = "hashicorp/aws", version = "5.1.0" }`, "hashicorp/aws 5.100.0"},
		{"aws 6", `aws = { source = "hashicorp/aws", version = "~> 6.0" }`, "hashicorp/aws 5.100.0"},
		{"aws below", `aws = { source = "hashicorp/aws", version = "< 5.100.0" }`, "hashicorp/aws 5.100.0"},
		{"aws invalid", `aws = { source = "hashicorp/aws", version = "banana" }`, "is not valid"},
		{"random any 3", `random = { source = "hashicorp/random", version = "~> 3.0" }`, ""},
		{"random old", `random = { source = "hashicorp/random", version = "3.1.0" }`, "hashicorp/random 3.7.2"},
		{"archive old", `archive = { source = "hashicorp/archive", version = "~> 2.2.0" }`, "hashicorp/archive 2.7.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"versions.tf": "terraform {\n  required_providers {\n    " + tc.entry + "\n  }\n}\n"}
			v := Check(files, DefaultRules())
			if tc.refused == "" {
				if len(v) > 0 {
					t.Fatalf("refused: %v", v)
				}
				return
			}
			if len(v) != 1 || v[0].File != "versions.tf" || v[0].Line != 3 || !strings.Contains(v[0].Message, tc.refused) {
				t.Fatalf("want one violation at versions.tf:3 containing %q, got %+v", tc.refused, v)
			}
		})
	}
}

// TestProviderVersionsFollowTheLock: the check reads the lock it is given
// (the engine passes its own), not a copy of the versions.
func TestProviderVersionsFollowTheLock(t *testing.T) {
	lock, err := providers.New(providers.Provider{Source: "registry.terraform.io/hashicorp/aws", Version: "5.99.0"})
	if err != nil {
		t.Fatal(err)
	}
	rules := DefaultRules()
	rules.ProviderLock = lock
	files := map[string]string{"versions.tf": "terraform {\n  required_providers {\n    aws = \"5.100.0\"\n  }\n}\n"}
	if v := Check(files, rules); len(v) != 1 || !strings.Contains(v[0].Message, "5.99.0") {
		t.Errorf("want a refusal naming 5.99.0, got %+v", v)
	}
	files["versions.tf"] = "terraform {\n  required_providers {\n    random = \"~> 3.0\"\n  }\n}\n"
	if v := Check(files, rules); len(v) != 1 || !strings.Contains(v[0].Message, "no version in tenantform's provider lock") {
		t.Errorf("a provider outside the lock: want a refusal, got %+v", v)
	}
}
