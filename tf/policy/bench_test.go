package policy_test

import (
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// BenchmarkCheckWebStack times the source policy on the web stack of
// legit_test.go (S3 site, API Gateway v2, Lambda, DynamoDB, IAM).
func BenchmarkCheckWebStack(b *testing.B) {
	rules := policy.DefaultRules()
	for b.Loop() {
		if v := policy.Check(webStack, rules); v != nil {
			b.Fatal(v)
		}
	}
}

// BenchmarkCheckPlan times the plan policy on 100 planned resources.
func BenchmarkCheckPlan(b *testing.B) {
	var changes []*tfjson.ResourceChange
	for i := range 100 {
		changes = append(changes, change("aws_s3_bucket.b", "aws_s3_bucket", create,
			map[string]any{"bucket": string(rune('a' + i%26)), "region": "us-east-1", "tags_all": tagsWith(nil)}, nil))
	}
	plan := &tfjson.Plan{ResourceChanges: changes}
	pc := policy.PlanContext{Rules: policy.DefaultRules(), Tags: platformStrings(), MaxResources: 1000}
	for b.Loop() {
		if v := policy.CheckPlan(plan, pc); v != nil {
			b.Fatal(v)
		}
	}
}
