package policy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// The fixtures under testdata/realplans are `terraform show -json` of plans
// made by the real hashicorp/aws 5.100.0 against the AWS emulator, from the
// configurations under testdata/realplans/src (generate.sh regenerates them;
// see its header).

// realPlanTags are the platform tags generate.sh's provider settings carry.
var realPlanTags = map[string]string{
	"CreatedAt":   "2026-01-01T00:00:00Z",
	"Environment": "dev",
	"ManagedBy":   "tenantform",
	"Project":     "chart-app-u1-p1",
	"ProjectId":   "p1",
	"UserId":      "u1",
}

func readRealPlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "realplans", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.ResourceChanges) == 0 {
		t.Fatalf("%s is not a plan with changes", name)
	}
	return &p
}

func realPlanContext() policy.PlanContext {
	return policy.PlanContext{Rules: policy.DefaultRules(), Tags: realPlanTags, MaxResources: 50,
		Priced: func(string) bool { return true }}
}

// TestRealProviderLegitPlansPass: ordinary projects planned by the real
// provider pass the plan check. The provider computes aws_s3_bucket's
// region (5.x), an on-demand table's capacities and Lambda's default
// ephemeral storage: none of these is a tenant's unknown value.
func TestRealProviderLegitPlansPass(t *testing.T) {
	for _, name := range []string{"s3_site", "dynamodb_ondemand", "lambda_logs", "http_api", "module_alias"} {
		t.Run(name, func(t *testing.T) {
			if got := policy.CheckPlan(readRealPlan(t, name), realPlanContext()); len(got) != 0 {
				t.Errorf("violations of an ordinary project:\n%s", violationLines(got))
			}
		})
	}
}

// TestRealProviderComputesWhatTheFixturesClaim keeps the fixtures honest:
// the values the legit tests rely on being computed are unknown in them.
func TestRealProviderComputesWhatTheFixturesClaim(t *testing.T) {
	for _, tc := range []struct{ plan, typ, attr string }{
		{"s3_site", "aws_s3_bucket", "region"},
		{"dynamodb_ondemand", "aws_dynamodb_table", "read_capacity"},
		{"dynamodb_ondemand", "aws_dynamodb_table", "write_capacity"},
		{"lambda_logs", "aws_lambda_function", "ephemeral_storage"},
	} {
		found := false
		for _, rc := range readRealPlan(t, tc.plan).ResourceChanges {
			if rc.Type != tc.typ {
				continue
			}
			found = true
			if u, _ := rc.Change.AfterUnknown.(map[string]any); u[tc.attr] != true {
				t.Errorf("%s: %s.%s is not unknown in the plan", tc.plan, rc.Address, tc.attr)
			}
		}
		if !found {
			t.Errorf("%s has no %s", tc.plan, tc.typ)
		}
	}
}

func violationLines(vs []policy.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.String() + " [" + v.Reason + "]\n")
	}
	return b.String()
}
