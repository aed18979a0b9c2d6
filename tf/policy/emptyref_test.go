package policy_test

import (
	"fmt"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// The real provider reads unset naming arguments back from AWS as ""
// (kms_key_arn, image_uri, a log group's kms_key_id, an integration's
// connection_id…), so every plan after the first carries them: "" names
// nothing and is not a reference to refuse. Found by the corpus e2e test
// (controller), whose in-place update was refused on these.
func TestEmptyNamingArgumentsNameNothing(t *testing.T) {
	update := tfjson.Actions{tfjson.ActionUpdate}
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change("aws_lambda_function.api", "aws_lambda_function", update, map[string]any{
			"function_name": "api", "kms_key_arn": "", "image_uri": "", "code_signing_config_arn": "", "memory_size": 256.0,
			"tags_all": tagsWith(nil)}, nil),
		change("aws_cloudwatch_log_group.fn", "aws_cloudwatch_log_group", update, map[string]any{
			"name": "/aws/lambda/api", "kms_key_id": "", "retention_in_days": 14.0, "tags_all": tagsWith(nil)}, nil),
		change("aws_apigatewayv2_stage.default", "aws_apigatewayv2_stage", update, map[string]any{
			"name": "$default", "client_certificate_id": "", "tags_all": tagsWith(nil)}, nil),
	}}
	for _, v := range policy.CheckPlan(plan, policy.PlanContext{Rules: policy.DefaultRules(), Tags: platformStrings()}) {
		if s := fmt.Sprint(v); strings.Contains(s, `= ""`) {
			t.Errorf("an empty naming argument refused: %s", s)
		}
	}
}
