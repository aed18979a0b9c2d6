package policy_test

import (
	"regexp"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// TestNamePrefix: the prefix is compact, valid in every name it starts
// (S3 bucket: lowercase letters, digits and "-"), the same for the same
// ids and different for ids that would join to the same string.
func TestNamePrefix(t *testing.T) {
	long := strings.Repeat("a", 40)
	p := policy.NamePrefix(long, long)
	if len(p) != 20 || !regexp.MustCompile(`^tf-[0-9a-f]{16}-$`).MatchString(p) {
		t.Errorf("NamePrefix = %q, want tf-<16 hex>- (20 characters)", p)
	}
	if policy.NamePrefix("alice", "web") != policy.NamePrefix("alice", "web") {
		t.Error("not deterministic")
	}
	if policy.NamePrefix("a-b", "c") == policy.NamePrefix("a", "b-c") {
		t.Error("ids that join alike share a prefix")
	}
	if got := policy.NamePrefixTag("alice", "web") + "-"; got != policy.NamePrefix("alice", "web") {
		t.Errorf("tag %q is not the prefix without its dash", got)
	}
	if got := policy.IAMPath("alice", "web"); got != "/tenantform/alice/web/" {
		t.Errorf("IAMPath = %q", got)
	}
}

// TestCheckPlanNamePrefix: in role mode, every named resource being
// created carries the project's name prefix (or IAM path), known at plan
// or given as a prefix argument; other names are refused with the prefix
// in the message. Outside role mode names are free.
func TestCheckPlanNamePrefix(t *testing.T) {
	prefix := policy.NamePrefix("alice", "web")
	other := policy.NamePrefix("bob", "web")
	path := policy.IAMPath("alice", "web")
	rules := policy.DefaultRules()
	rules.RequireNamePrefix = true
	pc := policy.PlanContext{Rules: rules, Tags: platformStrings()}
	replace := tfjson.Actions{tfjson.ActionDelete, tfjson.ActionCreate}
	update := tfjson.Actions{tfjson.ActionUpdate}
	for _, tc := range []struct {
		name    string
		rc      *tfjson.ResourceChange
		refused string // "" when accepted
	}{
		{"bucket with the prefix", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket": prefix + "site", "tags_all": tagsWith(nil)}, nil), ""},
		{"bucket without", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket": "site", "tags_all": tagsWith(nil)}, nil), `bucket "site" must start with "` + prefix + `"`},
		{"bucket of another project", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket": other + "site", "tags_all": tagsWith(nil)}, nil), "must start with"},
		{"bucket replaced without", change("aws_s3_bucket.b", "aws_s3_bucket", replace, map[string]any{"bucket": "site", "tags_all": tagsWith(nil)}, nil), "must start with"},
		{"bucket updated (named before role mode)", change("aws_s3_bucket.b", "aws_s3_bucket", update, map[string]any{"bucket": "site", "tags_all": tagsWith(nil)}, nil), ""},
		{"bucket_prefix with the prefix", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket_prefix": prefix + "s-", "tags_all": tagsWith(nil)}, map[string]any{"bucket": true}), ""},
		{"bucket_prefix without", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"bucket_prefix": "s-", "tags_all": tagsWith(nil)}, map[string]any{"bucket": true}), `set bucket_prefix to "` + prefix + `"`},
		{"generated bucket name", change("aws_s3_bucket.b", "aws_s3_bucket", create, map[string]any{"tags_all": tagsWith(nil)}, map[string]any{"bucket": true, "bucket_prefix": true}), "bucket is not known until apply"},
		{"table", change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": prefix + "t", "billing_mode": "PAY_PER_REQUEST", "tags_all": tagsWith(nil)}, nil), ""},
		{"table without", change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": "t", "billing_mode": "PAY_PER_REQUEST", "tags_all": tagsWith(nil)}, nil), `name "t" must start with`},
		{"table name unknown", change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"billing_mode": "PAY_PER_REQUEST", "tags_all": tagsWith(nil)}, map[string]any{"name": true}), "name is not known until apply: it must start with"},
		{"function", change("aws_lambda_function.f", "aws_lambda_function", create, map[string]any{"function_name": prefix + "api", "tags_all": tagsWith(nil)}, nil), ""},
		{"function without", change("aws_lambda_function.f", "aws_lambda_function", create, map[string]any{"function_name": "api", "tags_all": tagsWith(nil)}, nil), `function_name "api" must start with`},
		{"layer without", change("aws_lambda_layer_version.l", "aws_lambda_layer_version", create, map[string]any{"layer_name": "deps"}, nil), `layer_name "deps" must start with`},
		{"log group of the function", change("aws_cloudwatch_log_group.g", "aws_cloudwatch_log_group", create, map[string]any{"name": "/aws/lambda/" + prefix + "api", "tags_all": tagsWith(nil)}, nil), ""},
		{"log group with the prefix", change("aws_cloudwatch_log_group.g", "aws_cloudwatch_log_group", create, map[string]any{"name": prefix + "app", "tags_all": tagsWith(nil)}, nil), ""},
		{"log group of another function", change("aws_cloudwatch_log_group.g", "aws_cloudwatch_log_group", create, map[string]any{"name": "/aws/lambda/api", "tags_all": tagsWith(nil)}, nil), `(or "/aws/lambda/` + prefix + `")`},
		{"role under the path", change("aws_iam_role.r", "aws_iam_role", create, map[string]any{"name": "exec", "path": path, "assume_role_policy": lambdaTrust, "tags_all": tagsWith(nil)}, nil), ""},
		{"role at /", change("aws_iam_role.r", "aws_iam_role", create, map[string]any{"name": "exec", "path": "/", "assume_role_policy": lambdaTrust, "tags_all": tagsWith(nil)}, nil), `path must be "` + path + `"`},
		{"role under another project's path", change("aws_iam_role.r", "aws_iam_role", create, map[string]any{"name": "exec", "path": policy.IAMPath("alice", "web2"), "assume_role_policy": lambdaTrust, "tags_all": tagsWith(nil)}, nil), "path must be"},
		{"policy at /", change("aws_iam_policy.p", "aws_iam_policy", create, map[string]any{"name": "p", "path": "/", "tags_all": tagsWith(nil)}, nil), "path must be"},
		{"another project's NamePrefix tag", change("aws_dynamodb_table.t", "aws_dynamodb_table", create, map[string]any{"name": prefix + "t", "billing_mode": "PAY_PER_REQUEST", "tags": map[string]any{"NamePrefix": strings.TrimSuffix(other, "-")}, "tags_all": tagsWith(map[string]any{"NamePrefix": strings.TrimSuffix(other, "-")})}, nil), "sets the NamePrefix tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range policy.CheckPlan(&tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{tc.rc}}, pc) {
				if strings.Contains(v.Message, "name") || strings.Contains(v.Message, "path") || strings.Contains(v.Message, "NamePrefix") || strings.Contains(v.Message, "bucket") {
					got = append(got, v.Message)
				}
			}
			if tc.refused == "" {
				if len(got) > 0 {
					t.Fatalf("refused: %q", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tc.refused) {
				t.Fatalf("want one refusal containing %q, got %q", tc.refused, got)
			}
			// Outside role mode the same change has no name rule.
			free := pc
			free.Rules.RequireNamePrefix = false
			for _, v := range policy.CheckPlan(&tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{tc.rc}}, free) {
				if strings.Contains(v.Message, "name prefix") || strings.Contains(v.Message, "IAM path") || strings.Contains(v.Message, "NamePrefix") {
					t.Errorf("outside role mode: %s", v.Message)
				}
			}
		})
	}
}
