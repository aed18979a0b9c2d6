package policy_test

import (
	"strings"
	"testing"

	"github.com/tenantform/tenantform/tf/policy"
)

func TestExtendAddsTypesButNeverEscapes(t *testing.T) {
	rules, err := policy.DefaultRules().Extend([]string{"aws_sqs_queue", "aws_sns_*"}, []string{"aws_ssm_parameter"})
	if err != nil {
		t.Fatal(err)
	}
	files := tf(`resource "aws_sqs_queue" "q" { name = "q" }
resource "aws_sns_topic" "t" { name = "t" }
data "aws_ssm_parameter" "p" { name = "/tenant/x" }
resource "terraform_data" "x" {
  provisioner "local-exec" { command = "id" }
}`)
	got := policy.Check(files, rules)
	if len(got) != 1 || !strings.Contains(got[0].Message, "provisioner blocks are not allowed") {
		t.Errorf("got %v, want only the provisioner refused", got)
	}
	if v := policy.Check(files, policy.DefaultRules()); len(v) != 4 {
		t.Errorf("the defaults were changed by Extend: %v", v)
	}

	for _, bad := range [][2][]string{
		{{"*"}, nil},
		{{"aws_api_gateway_*"}, nil}, // would allow aws_api_gateway_account
		{nil, {"terraform_remote_state"}},
		{nil, {"http"}},
		{{"Bad Type"}, nil},
	} {
		if _, err := policy.DefaultRules().Extend(bad[0], bad[1]); err == nil {
			t.Errorf("Extend(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
