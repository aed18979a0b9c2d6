package aws_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	tfaws "github.com/tenantform/tenantform/aws"
)

func TestStateARNs(t *testing.T) {
	state := `{"version": 4, "terraform_version": "1.11.4", "resources": [
	  {"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{"attributes": {"arn": "arn:aws:s3:::b", "bucket": "b"}}]},
	  {"mode": "data", "type": "aws_iam_policy_document", "name": "d", "instances": [{"attributes": {"arn": "arn:aws:iam::1:policy/x"}}]},
	  {"mode": "managed", "type": "terraform_data", "name": "t", "instances": [{"attributes": {"id": "x"}}]},
	  {"mode": "managed", "type": "aws_dynamodb_table", "name": "t", "instances": [
	    {"index_key": 0, "attributes": {"arn": "arn:aws:dynamodb:us-east-1:1:table/t0"}},
	    {"index_key": 1, "attributes": {"arn": "arn:aws:dynamodb:us-east-1:1:table/t1"}}]}
	]}`
	got, err := tfaws.StateARNs([]byte(state))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"arn:aws:dynamodb:us-east-1:1:table/t0", "arn:aws:dynamodb:us-east-1:1:table/t1", "arn:aws:s3:::b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ARNs (-want +got):\n%s", diff)
	}
	if _, err := tfaws.StateARNs([]byte(`{"version": 3}`)); err == nil {
		t.Fatal("an old state format was accepted")
	}
}
