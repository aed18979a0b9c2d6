package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

func TestCheckErrorCarriesTheViolations(t *testing.T) {
	if err := policy.CheckError(tf(`resource "terraform_data" "x" {}`), policy.DefaultRules()); err != nil {
		t.Fatalf("clean configuration: got %v, want nil", err)
	}
	err := policy.CheckError(tf(`data "external" "x" {}`), policy.DefaultRules())
	var perr *policy.Error
	if !errors.As(err, &perr) {
		t.Fatalf("got %T %v, want *policy.Error", err, err)
	}
	want := []policy.Violation{{File: "main.tf", Line: 1, Message: `data source "external" is not allowed: it runs a program on the tenantform host`}}
	if diff := cmp.Diff(want, perr.Violations); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(err.Error(), "1 problem in the configuration: main.tf:1: data source") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// Violations come sorted by file, then line, whatever order the rules
// found them in.
func TestViolationsAreSortedByFileAndLine(t *testing.T) {
	files := map[string]string{
		"b.tf": "data \"http\" \"x\" {}\n\ndata \"external\" \"y\" {}\n",
		"a.tf": "output \"x\" { value = path.cwd }\nresource \"null_resource\" \"n\" {}\n",
	}
	var got []string
	for _, v := range policy.Check(files, policy.DefaultRules()) {
		got = append(got, v.String()[:6])
	}
	want := []string{"a.tf:1", "a.tf:2", "b.tf:1", "b.tf:3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// The rules come from Rules, not from constants: a type, region or
// provider allowed by the caller passes, and an empty Rules allows none.
func TestRulesAreConfigurable(t *testing.T) {
	files := tf(`provider "aws" {
  alias  = "eu"
  region = "eu-west-1"
}

resource "aws_sqs_queue" "q" {
  provider = aws.eu
}

module "vetted" {
  source = "tenantform/vetted/aws"
}
`)
	rules := policy.DefaultRules()
	rules.AllowedRegions = append(rules.AllowedRegions, "eu-west-1")
	rules.AllowedResourceTypes = append(rules.AllowedResourceTypes, "aws_sqs_*")
	rules.AllowedModuleSources = []string{"tenantform/vetted/aws"}
	if got := policy.Check(files, rules); got != nil {
		t.Errorf("extended rules: got %v, want none", got)
	}
	got := policy.Check(files, policy.Rules{})
	if len(got) != 4 {
		t.Errorf("empty rules: got %d violations %v, want 4 (provider, resource type, resource provider, module)", len(got), got)
	}
}

func TestDefaultRulesDenyWinsOverPrefix(t *testing.T) {
	rules := policy.DefaultRules()
	ok := tf(`resource "aws_api_gateway_rest_api" "a" { name = "a" }`)
	if got := policy.Check(ok, rules); got != nil {
		t.Errorf("aws_api_gateway_rest_api: got %v, want none", got)
	}
	rules.DeniedResourceTypes = append(rules.DeniedResourceTypes, "aws_api_gateway_rest_*")
	if got := policy.Check(ok, rules); len(got) != 1 {
		t.Errorf("denied by pattern: got %v, want one violation", got)
	}
}

func TestViolationListIsBounded(t *testing.T) {
	src := strings.Repeat("output \"x\" { value = file(\"/etc/passwd\") }\n", 2000)
	got := policy.Check(tf(src), policy.DefaultRules())
	if len(got) != policy.MaxViolations {
		t.Fatalf("got %d violations, want %d", len(got), policy.MaxViolations)
	}
	if want := "1501 more problems are not shown"; got[0].File != "(submission)" || got[0].Message != want {
		t.Errorf("first violation = %v, want (submission): %s", got[0], want)
	}
	if got[1].Line != 1 || got[len(got)-1].Line != policy.MaxViolations-1 {
		t.Errorf("kept lines %d..%d, want the first ones, 1..%d", got[1].Line, got[len(got)-1].Line, policy.MaxViolations-1)
	}
}
