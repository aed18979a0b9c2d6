package tf

import (
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/policy"
)

func TestStateOnly(t *testing.T) {
	refused := Project{UserID: "eve", ProjectID: "evil", Region: "us-east-1",
		Variables: map[string]any{"n": 1},
		Files: map[string]string{
			"main.tf": `resource "aws_s3_bucket" "b" {}
resource "terraform_data" "x" {
  provisioner "local-exec" { command = "env" }
}`,
		}}
	if len(policy.Check(refused.Files, policy.DefaultRules())) == 0 {
		t.Fatal("the test configuration should violate the policy")
	}
	got := StateOnly(refused)
	if v := policy.Check(got.Files, policy.DefaultRules()); len(v) > 0 {
		t.Fatalf("the state-only configuration violates the policy: %v", v)
	}
	if strings.Contains(got.Files["main.tf"], "provisioner") || got.Variables != nil || len(got.Files) != 1 {
		t.Fatalf("tenant configuration leaked into the state-only project: %+v", got)
	}
	if !analyze(got.Files).usesAWS {
		t.Error("the aws provider requirement was lost: init could not install the provider of the state's resources")
	}
	if got.UserID != "eve" || got.ProjectID != "evil" || got.Region != "us-east-1" {
		t.Errorf("identity or region changed: %+v", got)
	}
	plain := StateOnly(Project{UserID: "a", ProjectID: "b", Files: map[string]string{"main.tf": `resource "terraform_data" "x" {}`}})
	if analyze(plain.Files).usesAWS {
		t.Error("a configuration without AWS got an aws provider requirement")
	}
}
