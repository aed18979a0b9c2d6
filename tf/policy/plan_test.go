package policy_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// planWant is one expected plan violation.
type planWant struct {
	Address, Reason, Has string
}

func planProbes(got []policy.Violation, wants []planWant) []planWant {
	var out []planWant
	for i, v := range got {
		has := v.Message
		if i < len(wants) && strings.Contains(v.Message, wants[i].Has) {
			has = wants[i].Has
		}
		out = append(out, planWant{v.Address, v.Reason, has})
	}
	return out
}

func readPlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile("testdata/plans/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// The fixtures under testdata/plans/terraform_data_*.json are `terraform
// show -json` of plans made by terraform 1.11 (see testdata/plans/README).

func TestCheckPlanCountsResourcesLeftAfterApply(t *testing.T) {
	create := readPlan(t, "terraform_data_create.json") // 5 to create
	shrink := readPlan(t, "terraform_data_shrink.json") // 3 kept, 2 destroyed
	for _, tc := range []struct {
		name string
		plan *tfjson.Plan
		max  int
		want []planWant
	}{
		{"create within quota", create, 5, nil},
		{"create over quota", create, 4, []planWant{{"(plan)", policy.ReasonQuota, "the plan leaves 5 resources, more than the 4"}}},
		{"destroyed resources do not count", shrink, 3, nil},
		{"not checked without a quota", create, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.CheckPlan(tc.plan, policy.PlanContext{Rules: policy.DefaultRules(), MaxResources: tc.max})
			if diff := cmp.Diff(tc.want, planProbes(got, tc.want)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPlanCostUnknownForUnpricedTypes(t *testing.T) {
	priced := func(typ string) bool { return typ != "terraform_data" }
	got := policy.CheckPlan(readPlan(t, "terraform_data_create.json"), policy.PlanContext{Rules: policy.DefaultRules(), Priced: priced})
	if len(got) != 5 {
		t.Fatalf("got %d violations, want one per resource: %v", len(got), got)
	}
	for _, v := range got {
		if v.Reason != policy.ReasonCostUnknown || v.Address == "" {
			t.Errorf("violation %+v: want CostUnknown with an address", v)
		}
	}
}

// platformTags are the tags of a fixture project.
var platformTags = map[string]any{
	"Project": "chart-app-alice-web", "Environment": "production", "ManagedBy": "chart-app-platform",
	"UserId": "alice", "ProjectId": "web", "CreatedAt": "2025-03-04T04:06:07Z",
}

func platformStrings() map[string]string {
	out := map[string]string{}
	for k, v := range platformTags {
		out[k] = v.(string)
	}
	return out
}

func tagsWith(extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range platformTags {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// change is a hand-built resource change of an aws type, shaped as
// terraform show -json shapes them, without the plan's configuration: the
// rules on known values. Plans made by the real hashicorp/aws provider are
// in testdata/realplans (realplan_test.go).
func change(addr, typ string, actions tfjson.Actions, after, unknown map[string]any) *tfjson.ResourceChange {
	if unknown == nil {
		unknown = map[string]any{}
	}
	return &tfjson.ResourceChange{
		Address: addr, Type: typ, Name: "x", Mode: tfjson.ManagedResourceMode,
		Change: &tfjson.Change{Actions: actions, After: after, AfterUnknown: unknown},
	}
}

var create = tfjson.Actions{tfjson.ActionCreate}

const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"lambda.amazonaws.com"}}]}`

func TestCheckPlanAWSRules(t *testing.T) {
	pc := policy.PlanContext{Rules: policy.DefaultRules(), Tags: platformStrings()}
	for _, tc := range []struct {
		name    string
		changes []*tfjson.ResourceChange
		want    []planWant
	}{
		{
			name: "an ordinary project passes",
			changes: []*tfjson.ResourceChange{
				change("aws_s3_bucket.site", "aws_s3_bucket", create, map[string]any{"bucket": "site", "region": "us-east-1", "tags": map[string]any{"Team": "web"}, "tags_all": tagsWith(map[string]any{"Team": "web"})}, map[string]any{"arn": true, "id": true}),
				change("aws_s3_bucket_policy.site", "aws_s3_bucket_policy", create, map[string]any{"bucket": "site", "policy": `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`}, nil),
				change("aws_iam_role.fn", "aws_iam_role", create, map[string]any{"name": "fn", "arn": "fn-arn", "assume_role_policy": lambdaTrust, "tags_all": tagsWith(nil)}, nil),
				change("aws_iam_role_policy.fn", "aws_iam_role_policy", create, map[string]any{"role": "fn", "policy": `{"Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","sts:GetCallerIdentity"],"Resource":"*"}]}`}, nil),
				change("aws_iam_role_policy_attachment.logs", "aws_iam_role_policy_attachment", create, map[string]any{"role": "fn", "policy_arn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}, nil),
				// A role unknown until apply needs the plan's configuration
				// to pass: see the plans of testdata/realplans.
				change("aws_lambda_function.fn", "aws_lambda_function", create, map[string]any{"function_name": "fn", "memory_size": 128.0, "role": "fn-arn", "tags_all": tagsWith(nil)}, nil),
				change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": "t", "billing_mode": "PAY_PER_REQUEST", "replica": []any{map[string]any{"region_name": "us-west-2"}}, "tags_all": tagsWith(nil)}, nil),
			},
		},
		{
			name: "tags_all lacking or changing platform tags, or spelling one otherwise",
			changes: []*tfjson.ResourceChange{
				change("aws_s3_bucket.a", "aws_s3_bucket", create, map[string]any{"bucket": "a", "tags_all": map[string]any{"Team": "web"}}, nil),
				change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket": "b", "tags_all": tagsWith(map[string]any{"UserId": "bob", "projectid": "x"})}, nil),
				change("aws_s3_bucket.c", "aws_s3_bucket", create, map[string]any{"bucket": "c", "tags": map[string]any{"managedBy": "me"}}, map[string]any{"tags_all": true}),
				change("aws_s3_bucket.d", "aws_s3_bucket", create, map[string]any{"bucket": "d", "tags": map[string]any{}}, map[string]any{"tags_all": true, "tags": map[string]any{"UserId": true}}),
			},
			want: []planWant{
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag CreatedAt"},
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag Environment"},
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag ManagedBy"},
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag Project"},
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag ProjectId"},
				{"aws_s3_bucket.a", policy.ReasonPolicy, "tags_all lacks the platform tag UserId"},
				{"aws_s3_bucket.b", policy.ReasonPolicy, `tags_all sets projectid, another spelling of the platform tag ProjectId`},
				{"aws_s3_bucket.b", policy.ReasonPolicy, `tags_all sets the platform tag UserId to "bob" instead of "alice"`},
				{"aws_s3_bucket.c", policy.ReasonPolicy, "tags sets managedBy, a platform tag (ManagedBy)"},
				{"aws_s3_bucket.d", policy.ReasonPolicy, "tags sets UserId, a platform tag (UserId)"},
			},
		},
		{
			name: "regions and replica regions outside the allow-list, or unknown",
			changes: []*tfjson.ResourceChange{
				change("aws_s3_bucket.a", "aws_s3_bucket", create, map[string]any{"bucket": "a", "region": "eu-west-1", "tags_all": tagsWith(nil)}, nil),
				change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": "t", "billing_mode": "PAY_PER_REQUEST", "replica": []any{map[string]any{"region_name": "ap-east-1"}}, "tags_all": tagsWith(nil)}, nil),
				change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket": "b", "tags_all": tagsWith(nil)}, map[string]any{"region": true}),
			},
			want: []planWant{
				{"aws_dynamodb_table.t", policy.ReasonPolicy, `replica.region_name "ap-east-1" is not allowed`},
				{"aws_s3_bucket.a", policy.ReasonPolicy, `region "eu-west-1" is not allowed`},
				{"aws_s3_bucket.b", policy.ReasonPolicy, "region is unknown until apply"},
			},
		},
		{
			name: "IAM escalation: outside trust, admin actions, managed policies, passing another role",
			changes: []*tfjson.ResourceChange{
				change("aws_iam_role.r", "aws_iam_role", create, map[string]any{"name": "r", "tags_all": tagsWith(nil),
					"assume_role_policy":  `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::999999999999:root"}},{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*"}]}`,
					"managed_policy_arns": []any{"arn:aws:iam::aws:policy/AdministratorAccess"}}, nil),
				change("aws_iam_role_policy.p", "aws_iam_role_policy", create, map[string]any{"role": "r",
					"policy": `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allow","Action":["iam:PassRole","STS:AssumeRole","organizations:ListAccounts"],"Resource":"*"},{"Effect":"Allow","NotAction":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`}, nil),
				change("aws_iam_role_policy_attachment.admin", "aws_iam_role_policy_attachment", create, map[string]any{"role": "tenantform-platform", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}, nil),
				change("aws_lambda_function.f", "aws_lambda_function", create, map[string]any{"function_name": "f", "memory_size": 128.0, "role": "arn:aws:iam::123456789012:role/other-tenant", "tags_all": tagsWith(nil)}, nil),
			},
			want: []planWant{
				{"aws_iam_role.r", policy.ReasonPolicy, "assume_role_policy statement 1: AWS principals (arn:aws:iam::999999999999:root) are not allowed"},
				{"aws_iam_role.r", policy.ReasonPolicy, `assume_role_policy statement 2: principal "*" is not allowed`},
				{"aws_iam_role.r", policy.ReasonPolicy, `managed_policy_arns = "arn:aws:iam::aws:policy/AdministratorAccess" is not a resource of this project`},
				{"aws_iam_role_policy.p", policy.ReasonPolicy, `policy statement 1: action "*" is not allowed`},
				{"aws_iam_role_policy.p", policy.ReasonPolicy, `policy statement 2: action "STS:AssumeRole" is not allowed`},
				{"aws_iam_role_policy.p", policy.ReasonPolicy, `policy statement 2: action "iam:PassRole" is not allowed`},
				{"aws_iam_role_policy.p", policy.ReasonPolicy, `policy statement 2: action "organizations:ListAccounts" is not allowed`},
				{"aws_iam_role_policy.p", policy.ReasonPolicy, "policy statement 3 allows NotAction"},
				{"aws_iam_role_policy_attachment.admin", policy.ReasonPolicy, `policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess" is not a resource of this project`},
				{"aws_iam_role_policy_attachment.admin", policy.ReasonPolicy, `role = "tenantform-platform" is not a role this project creates`},
				{"aws_lambda_function.f", policy.ReasonPolicy, `role = "arn:aws:iam::123456789012:role/other-tenant" is not a role this project creates`},
			},
		},
		{
			name: "naming another tenant's bucket, table or function by value",
			changes: []*tfjson.ResourceChange{
				change("aws_s3_bucket_policy.p", "aws_s3_bucket_policy", create, map[string]any{"bucket": "other-tenant-site", "policy": "{}"}, nil),
				change("aws_dynamodb_table_item.i", "aws_dynamodb_table_item", create, map[string]any{"table_name": "other-notes"}, nil),
				change("aws_lambda_permission.p", "aws_lambda_permission", create, map[string]any{"function_name": "other-fn"}, nil),
				// A string of one's own bucket that is not its identity
				// names nothing the project owns.
				change("aws_s3_bucket.mine", "aws_s3_bucket", create, map[string]any{"bucket_prefix": "victim", "tags_all": tagsWith(nil)}, map[string]any{"bucket": true, "id": true}),
				change("aws_s3_bucket_policy.q", "aws_s3_bucket_policy", create, map[string]any{"bucket": "victim", "policy": "{}"}, nil),
			},
			want: []planWant{
				{"aws_dynamodb_table_item.i", policy.ReasonPolicy, `table_name = "other-notes" is not a resource of this project (aws_dynamodb_table)`},
				{"aws_lambda_permission.p", policy.ReasonPolicy, `function_name = "other-fn" is not a resource of this project`},
				{"aws_s3_bucket_policy.p", policy.ReasonPolicy, `bucket = "other-tenant-site" is not a resource of this project (aws_s3_bucket)`},
				{"aws_s3_bucket_policy.q", policy.ReasonPolicy, `bucket = "victim" is not a resource of this project`},
			},
		},
		{
			name: "capacity unknown until apply leaves the cost open-ended",
			changes: []*tfjson.ResourceChange{
				change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": "t", "billing_mode": "PROVISIONED", "tags_all": tagsWith(nil)}, map[string]any{"read_capacity": true, "write_capacity": true}),
				change("aws_lambda_function.f", "aws_lambda_function", create, map[string]any{"function_name": "f", "tags_all": tagsWith(nil)}, map[string]any{"memory_size": true}),
			},
			want: []planWant{
				{"aws_dynamodb_table.t", policy.ReasonCostUnknown, "read_capacity is unknown until apply, so the cost is open-ended"},
				{"aws_dynamodb_table.t", policy.ReasonCostUnknown, "write_capacity is unknown until apply"},
				{"aws_lambda_function.f", policy.ReasonCostUnknown, "memory_size is unknown until apply"},
			},
		},
		{
			name: "types outside the allow-lists, in any module",
			changes: []*tfjson.ResourceChange{
				change("module.m.null_resource.x", "null_resource", create, map[string]any{}, nil),
				{Address: "module.m.data.aws_s3_object.o", Type: "aws_s3_object", Mode: tfjson.DataResourceMode,
					Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}, After: map[string]any{}}},
			},
			want: []planWant{
				{"module.m.data.aws_s3_object.o", policy.ReasonPolicy, `data source "aws_s3_object" is not allowed`},
				{"module.m.null_resource.x", policy.ReasonPolicy, `resource type "null_resource" is not allowed`},
			},
		},
		{
			name: "deleted resources are not checked",
			changes: []*tfjson.ResourceChange{
				change("aws_s3_bucket.old", "aws_s3_bucket", tfjson.Actions{tfjson.ActionDelete}, nil, nil),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.CheckPlan(&tfjson.Plan{ResourceChanges: tc.changes}, pc)
			if diff := cmp.Diff(tc.want, planProbes(got, tc.want)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPlanRequiresThePermissionsBoundary(t *testing.T) {
	rules := policy.DefaultRules()
	rules.PermissionsBoundaryARN = "arn:aws:iam::111122223333:policy/tenantform-tenant-boundary"
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change("aws_iam_role.ok", "aws_iam_role", create, map[string]any{"name": "ok", "assume_role_policy": lambdaTrust, "permissions_boundary": rules.PermissionsBoundaryARN, "tags_all": tagsWith(nil)}, nil),
		change("aws_iam_role.none", "aws_iam_role", create, map[string]any{"name": "none", "assume_role_policy": lambdaTrust, "tags_all": tagsWith(nil)}, nil),
		change("aws_iam_role.other", "aws_iam_role", create, map[string]any{"name": "other", "assume_role_policy": lambdaTrust, "permissions_boundary": "arn:aws:iam::aws:policy/AdministratorAccess", "tags_all": tagsWith(nil)}, nil),
	}}
	want := []planWant{
		{"aws_iam_role.none", policy.ReasonPolicy, "permissions_boundary must be the platform's boundary"},
		{"aws_iam_role.other", policy.ReasonPolicy, "permissions_boundary must be the platform's boundary"},
	}
	got := policy.CheckPlan(plan, policy.PlanContext{Rules: rules, Tags: platformStrings()})
	if diff := cmp.Diff(want, planProbes(got, want)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func TestCheckPlanProviderRegions(t *testing.T) {
	var plan tfjson.Plan
	// The configuration part of terraform show -json, as terraform 1.11
	// writes it for provider "aws" blocks.
	if err := json.Unmarshal([]byte(`{"format_version": "1.2", "configuration": {"provider_config": {
  "aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", "expressions": {"region": {"constant_value": "us-east-1"}}},
  "aws.eu": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", "alias": "eu", "expressions": {"region": {"constant_value": "eu-west-1"}}},
  "aws.x": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws", "alias": "x", "expressions": {"region": {"references": ["var.r"]}}}
}}}`), &plan); err != nil {
		t.Fatal(err)
	}
	want := []planWant{
		{"provider.aws.eu", policy.ReasonPolicy, `region "eu-west-1" is not allowed`},
		{"provider.aws.x", policy.ReasonPolicy, "the provider's region must be a literal"},
	}
	got := policy.CheckPlan(&plan, policy.PlanContext{Rules: policy.DefaultRules()})
	if diff := cmp.Diff(want, planProbes(got, want)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}
