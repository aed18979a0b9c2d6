package providers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlatformLock: the shipped lock parses, pins exactly the providers the
// policy allows (aws, random, archive), each to one release version, and
// aws with the hash of its linux_amd64 package.
func TestPlatformLock(t *testing.T) {
	l := Platform()
	var got []string
	for _, p := range l.Providers() {
		got = append(got, p.Source+" "+p.Version)
	}
	want := []string{
		"registry.terraform.io/hashicorp/archive 2.7.1",
		"registry.terraform.io/hashicorp/aws 5.100.0",
		"registry.terraform.io/hashicorp/random 3.7.2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("locked providers (-want +got):\n%s", diff)
	}
	aws, _ := l.Provider("aws")
	if len(aws.Hashes) == 0 || !strings.HasPrefix(aws.Hashes[0], "h1:") {
		t.Errorf("aws is locked without its h1 hash: %v", aws.Hashes)
	}
}

// TestRenderRoundTrip: what the engine writes into a work directory parses
// back to the same lock.
func TestRenderRoundTrip(t *testing.T) {
	l := Platform()
	back, err := Parse("rendered", l.Render())
	if err != nil {
		t.Fatalf("%v\n%s", err, l.Render())
	}
	if diff := cmp.Diff(l.Providers(), back.Providers()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestPlatformLockMatchesMirror: where the real aws provider's mirror is
// installed (TF_PROVIDER_MIRROR or /opt/tf-plugins), it holds the locked
// version, so a container or dev setup built from it needs no registry.
func TestPlatformLockMatchesMirror(t *testing.T) {
	dir := os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = "/opt/tf-plugins"
	}
	base := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws")
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Skipf("no aws provider mirror at %s", dir)
	}
	aws, _ := Platform().Provider("aws")
	for _, e := range entries {
		if e.Name() == aws.Version {
			return
		}
	}
	t.Errorf("the mirror %s does not hold the locked hashicorp/aws %s", base, aws.Version)
}

func TestAdmits(t *testing.T) {
	l := Platform()
	for _, tc := range []struct {
		name, constraint string
		ok               bool
	}{
		{"aws", "~> 5.0", true},
		{"aws", ">= 5.0, < 7.0", true},
		{"aws", "5.100.0", true},
		{"aws", "~> 5.100.0", true},
		{"aws", "5.1.0", false},
		{"aws", "~> 6.0", false},
		{"aws", "< 5.100.0", false},
		{"aws", "!= 5.100.0", false},
		{"random", "~> 3.6", true},
		{"random", "3.6.0", false},
		{"archive", ">= 2.0", true},
		{"archive", "~> 2.4.0", false},
	} {
		locked, ok, err := l.Admits(tc.name, tc.constraint)
		if err != nil || ok != tc.ok {
			t.Errorf("Admits(%s, %q) = %s, %v, %v; want ok=%v", tc.name, tc.constraint, locked, ok, err, tc.ok)
		}
	}
	if _, _, err := l.Admits("aws", "banana"); err == nil {
		t.Error("an invalid constraint was accepted")
	}
	if _, _, err := l.Admits("null", ">= 0"); err == nil {
		t.Error("a provider outside the lock was admitted")
	}
}

func TestParseRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"range":       `provider "registry.terraform.io/hashicorp/aws" { version = "~> 5.0" }`,
		"prerelease":  `provider "registry.terraform.io/hashicorp/aws" { version = "5.0.0-beta1" }`,
		"loose":       `provider "registry.terraform.io/hashicorp/aws" { version = "5.100.0"  constraints = ">= 5.0" }`,
		"short":       `provider "hashicorp/aws" { version = "5.100.0" }`,
		"twice":       `provider "registry.terraform.io/hashicorp/aws" { version = "5.100.0" }` + "\n" + `provider "example.com/other/aws" { version = "1.0.0" }`,
		"not hcl":     `provider {`,
		"no version":  `provider "registry.terraform.io/hashicorp/aws" {}`,
		"partial ver": `provider "registry.terraform.io/hashicorp/aws" { version = "5.1" }`,
	} {
		if _, err := Parse(name, []byte(src)); err == nil {
			t.Errorf("%s: parsed %q", name, src)
		}
	}
}

// TestRefinedBy: what terraform makes of the lock in an init (unused
// providers dropped, hashes of installed packages added, its own
// constraints) still refines it; another version or a lost hash does not.
func TestRefinedBy(t *testing.T) {
	l := Platform()
	aws, _ := l.Provider("aws")
	for _, tc := range []struct {
		name, src string
		want      bool
	}{
		{"as rendered", string(l.Render()), true},
		{"init's rewrite", `provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.100.0"
  constraints = "~> 5.0, 5.100.0"
  hashes = ["` + aws.Hashes[0] + `", "zh:0000"]
}
provider "registry.terraform.io/hashicorp/random" {
  version = "3.7.2"
  hashes  = ["h1:recorded"]
}`, true},
		{"empty", "", true},
		{"another version", `provider "registry.terraform.io/hashicorp/aws" {
  version = "5.99.0"
  hashes  = ["` + aws.Hashes[0] + `"]
}`, false},
		{"hash lost", `provider "registry.terraform.io/hashicorp/aws" {
  version = "5.100.0"
  hashes  = ["h1:other"]
}`, false},
		{"unlocked provider", `provider "registry.terraform.io/hashicorp/null" {
  version = "3.2.0"
}`, false},
		{"garbage", "provider {", false},
	} {
		if got := l.RefinedBy([]byte(tc.src)); got != tc.want {
			t.Errorf("%s: RefinedBy = %v, want %v", tc.name, got, tc.want)
		}
	}
}
