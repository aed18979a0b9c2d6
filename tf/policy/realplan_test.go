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

// realPlansDir holds the fixtures; realplan_e2e_test.go plans afresh into
// another directory and runs the same checks there.
const realPlansDir = "testdata/realplans"

// legitRealCases are the ordinary projects of testdata/realplans/src.
var legitRealCases = []string{"s3_site", "dynamodb_ondemand", "lambda_logs", "http_api", "module_alias"}

func readRealPlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	return readRealPlanIn(t, realPlansDir, name)
}

func readRealPlanIn(t *testing.T, dir, name string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
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
	checkLegitPlans(t, realPlansDir)
}

func checkLegitPlans(t *testing.T, dir string) {
	for _, name := range legitRealCases {
		t.Run(name, func(t *testing.T) {
			if got := policy.CheckPlan(readRealPlanIn(t, dir, name), realPlanContext()); len(got) != 0 {
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

// realSources reads a case's configuration as a submission.
func realSources(t *testing.T, name string) map[string]string {
	t.Helper()
	root := filepath.Join("testdata", "realplans", "src", name)
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "aliases" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// hostileRefusals are the refusals of testdata/realplans/src/hostile: per
// resource, the argument the plan check names (Plan) and, when the upload
// check refuses it already, the argument or phrase it names (Source).
var hostileRefusals = []struct {
	Address, Plan, Source string
}{
	{"aws_dynamodb_table_item.into_foreign_table", "table_name is unknown until apply and is computed from terraform_data.other_table.output", "aws_dynamodb_table_item.table_name"},
	{"aws_lambda_function.borrowed_role", "role is unknown until apply and is computed from aws_iam_role.mine.description", "aws_lambda_function.role refers to aws_iam_role.description"},
	{"aws_lambda_permission.foreign_public", "function_name is unknown until apply and is computed from aws_dynamodb_table.mine.ttl[0].attribute_name", "aws_lambda_permission.function_name"},
	{"aws_lambda_function_url.foreign_url", "function_name is unknown until apply and is computed from terraform_data.other_table.output", "aws_lambda_function_url.function_name"},
	{"aws_iam_role_policy.onto_foreign_role", "role is unknown until apply and is computed from terraform_data.other_role.output", "aws_iam_role_policy.role"},
	{"aws_iam_role_policy_attachment.admin", "policy_arn is unknown until apply and is computed from terraform_data.admin.output", "aws_iam_role_policy_attachment.policy_arn"},
	{"aws_iam_role_policy.unknown_action", "policy is unknown until apply and is computed from terraform_data.star.output", ""},
	{"aws_iam_role.trust_anyone", "assume_role_policy statement 1: AWS principals (*) are not allowed", "assume_role_policy: AWS principals are not allowed"},
	{"aws_iam_role.trust_unknown", "assume_role_policy is unknown until apply and is computed from terraform_data.other_role.output", "assume_role_policy: AWS principals are not allowed"},
	{"aws_lambda_function.foreign_code", `s3_bucket = "other-tenant-bucket" is not a resource of this project`, "aws_lambda_function.s3_bucket"},
	{"aws_lambda_function.foreign_code", `layers = "arn:aws:lambda:us-east-1:000000000000:layer:other:1" is not a resource of this project`, "aws_lambda_function.layers"},
	{"aws_dynamodb_table.restored", `restore_source_name = "other-tenant-table" is not a resource of this project`, "aws_dynamodb_table.restore_source_name"},
	{"aws_dynamodb_table.imported", `import_table.s3_bucket_source.bucket = "other-tenant-bucket" is not a resource of this project`, "aws_dynamodb_table.import_table.s3_bucket_source.bucket"},
	{"aws_apigatewayv2_integration.foreign_function", `integration_uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:other/invocations" is not a resource of this project`, "aws_apigatewayv2_integration.integration_uri"},
	{"aws_apigatewayv2_api_mapping.foreign_domain", `domain_name = "other-tenant.example.com" is not a resource of this project`, "aws_apigatewayv2_api_mapping.domain_name"},
	{"aws_dynamodb_table.open_mode", "billing_mode is unknown until apply, so the cost is open-ended", ""},
	{"aws_lambda_function.open_storage", "ephemeral_storage.size is unknown until apply, so the cost is open-ended", ""},
	// The plan cannot tell a dynamic block's unknown values from the
	// provider's: the upload check refuses the block.
	{"aws_lambda_function.dynamic_storage", "", `dynamic "ephemeral_storage" is not allowed`},
	{"aws_dynamodb_table.replica_region", "replica.region_name is unknown until apply", ""},
}

// TestRealProviderHostilePlan: each hostile resource of a plan made by
// the real provider is refused by the plan check, naming its address and
// argument, and, where it can tell, by the upload check already. Nothing
// else is refused (the stand-ins and the tenant's own role, table and API
// are ordinary).
func TestRealProviderHostilePlan(t *testing.T) {
	checkHostilePlan(t, realPlansDir)
}

func checkHostilePlan(t *testing.T, dir string) {
	plan := policy.CheckPlan(readRealPlanIn(t, dir, "hostile"), realPlanContext())
	source := policy.Check(realSources(t, "hostile"), policy.DefaultRules())
	usedPlan := make([]bool, len(plan))
	usedSource := make([]bool, len(source))
	for _, h := range hostileRefusals {
		if h.Plan != "" {
			found := false
			for i, v := range plan {
				if v.Address == h.Address && strings.Contains(v.Message, h.Plan) {
					found, usedPlan[i] = true, true
				}
			}
			if !found {
				t.Errorf("plan check: no violation of %s with %q", h.Address, h.Plan)
			}
		}
		if h.Source != "" {
			found := false
			for i, v := range source {
				if strings.Contains(v.Message, h.Source) {
					found, usedSource[i] = true, true
				}
			}
			if !found {
				t.Errorf("upload check: no violation for %s with %q", h.Address, h.Source)
			}
		}
	}
	for i, v := range plan {
		if !usedPlan[i] {
			t.Errorf("unexpected plan violation: %s", v)
		}
	}
	for i, v := range source {
		if !usedSource[i] {
			t.Errorf("unexpected upload violation: %s", v)
		}
	}
}

// TestRealProviderLegitSourcesPass: the configurations of the ordinary
// projects pass the upload check too.
func TestRealProviderLegitSourcesPass(t *testing.T) {
	for _, name := range legitRealCases {
		if got := policy.Check(realSources(t, name), policy.DefaultRules()); len(got) != 0 {
			t.Errorf("%s: violations of an ordinary project:\n%s", name, violationLines(got))
		}
	}
}
