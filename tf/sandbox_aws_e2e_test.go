//go:build e2e

package tf_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// TestRealAWSProviderUnderSandbox: the real hashicorp/aws provider (the
// filesystem mirror TF_PROVIDER_MIRROR, default /opt/tf-plugins) plans,
// applies and destroys against the emulator with TF_SANDBOX=require: the
// provider's handshake socket, its TLS and resolver files, the emulator's
// port and the state database's all get through the sandbox, and nothing
// more is needed.
func TestRealAWSProviderUnderSandbox(t *testing.T) {
	mirror := os.Getenv("TF_PROVIDER_MIRROR")
	if mirror == "" {
		mirror = "/opt/tf-plugins"
	}
	if _, err := os.Stat(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Skipf("no real aws provider in the mirror %s", mirror)
	}
	if abi, _ := tf.LandlockABI(); abi < tf.MinSandboxABI {
		t.Skipf("kernel Landlock ABI %d", abi)
	}
	bin, _, err := tf.FindBinary(t.Context(), tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if err != nil {
		t.Skip(err)
	}
	emu := awstest.New(t)
	e, err := tf.New(tf.Config{
		BinaryPath:       bin,
		WorkRoot:         t.TempDir(),
		PGConnStr:        storetest.NewDatabase(t),
		FilesystemMirror: mirror,
		AWSEndpointURL:   emu.URL,
		Environment:      "test",
		StopGrace:        5 * time.Second,
		Sandbox:          tf.SandboxRequire,
		Logger:           zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !e.SandboxActive() {
		t.Fatal("sandbox not active under require")
	}
	creds := &tf.Credentials{AccessKeyID: "AKIDEMULATOR", SecretAccessKey: "emulator-secret"}
	p := tf.Project{UserID: "sam", ProjectID: "boxed", Region: "us-east-1", CreatedAt: time.Now().UTC(), Files: map[string]string{"main.tf": `
resource "aws_dynamodb_table" "items" {
  name         = "sam-boxed-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
resource "aws_cloudwatch_log_group" "logs" {
  name              = "/sam/boxed"
  retention_in_days = 7
}
output "table_arn" { value = aws_dynamodb_table.items.arn }
`}}
	start := time.Now()
	plan, err := e.Plan(t.Context(), p, creds)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if plan.Summary.Add != 2 {
		t.Fatalf("plan adds %d, want 2:\n%s", plan.Summary.Add, plan.Log)
	}
	if _, err := e.Apply(t.Context(), p, plan, creds); err != nil {
		t.Fatalf("apply: %v", err)
	}
	res, err := e.StateResources(t.Context(), p, creds)
	if err != nil || len(res) != 2 {
		t.Fatalf("state after apply: %v, %v", res, err)
	}
	if _, err := e.Destroy(t.Context(), p, creds); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	t.Logf("plan, apply and destroy with the real provider under the sandbox took %s", time.Since(start).Round(time.Millisecond))
}
