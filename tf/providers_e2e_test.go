//go:build e2e

package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/tf/policy"
	"github.com/tenantform/tenantform/tf/providers"
)

// TestPlatformLockWithTheRealProvider: with the real hashicorp/aws mirror
// (TF_PROVIDER_MIRROR, default /opt/tf-plugins), a project is planned and
// its saved plan applied against the emulator under the platform's lock:
// the plugin cache holds the locked version only (an older one left there
// is pruned when the engine starts), the workdir's lock is the platform's
// (a tampered one is replaced), and a constraint that excludes the locked
// version is refused before any terraform runs.
func TestPlatformLockWithTheRealProvider(t *testing.T) {
	mirror := awsMirror(t)
	aws, _ := providers.Platform().Provider("aws")
	if _, err := os.Stat(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", aws.Version)); err != nil {
		t.Skipf("the mirror %s lacks hashicorp/aws %s", mirror, aws.Version)
	}
	emu := awstest.New(t)
	root := t.TempDir()
	cache := filepath.Join(root, ".plugin-cache")
	stale := filepath.Join(cache, "registry.terraform.io", "hashicorp", "aws", "5.1.0", "linux_amd64")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "terraform-provider-aws_v5.1.0_x5"), []byte("#!/bin/sh\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, "", func(c *Config) {
		c.WorkRoot = root
		c.FilesystemMirror = mirror
		c.AWSEndpointURL = emu.URL
		c.OperationTimeout = 8 * time.Minute
	})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the unlocked version in the plugin cache survived the engine's start: %v", err)
	}
	creds := &Credentials{AccessKeyID: "AKIDEMULATOR", SecretAccessKey: "emulator-secret"}
	p := Project{UserID: "lena", ProjectID: "lock", Region: "us-east-1", CreatedAt: time.Now(), Files: map[string]string{"main.tf": `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}
resource "aws_dynamodb_table" "t" {
  name         = "lena-lock-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
`}}
	// The real provider loads its schema slowly on a loaded machine (a
	// plan took 2.5 minutes here): longer than testContext's 3 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	plan, err := e.Plan(ctx, p, creds)
	if err != nil {
		t.Fatalf("plan: %s", describe(err))
	}
	// Tamper with the workdir's lock between plan and apply, as a
	// leftover of an older tenantform (or anything else) would.
	lockFile := filepath.Join(e.workdir(p), providers.LockFileName)
	if err := os.WriteFile(lockFile, []byte(`provider "registry.terraform.io/hashicorp/aws" {
  version = "5.1.0"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, p, plan, creds); err != nil {
		t.Fatalf("apply: %s", describe(err))
	}
	b, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	if !providers.Platform().RefinedBy(b) || !strings.Contains(string(b), aws.Hashes[0]) {
		t.Errorf("the workdir's lock is not the platform's:\n%s", b)
	}
	versions, _ := filepath.Glob(filepath.Join(cache, "*", "*", "*", "*"))
	for _, v := range versions {
		rel, _ := filepath.Rel(cache, v)
		if rel != filepath.Join("registry.terraform.io", "hashicorp", "aws", aws.Version) {
			t.Errorf("the plugin cache holds %s", rel)
		}
	}

	// A constraint that excludes the locked version never reaches init.
	p.Files["main.tf"] = strings.Replace(p.Files["main.tf"], `"~> 5.0"`, `"5.1.0"`, 1)
	_, err = e.Plan(ctx, p, creds)
	var perr *policy.Error
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), aws.Version) {
		t.Fatalf("a constraint excluding %s: want a policy error naming it, got %s", aws.Version, describe(err))
	}
	if !IsConfigurationError(err) {
		t.Error("the refusal is not a configuration error")
	}
}
