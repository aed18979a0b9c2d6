package aws_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
)

func TestAdoptImportsStraysTheConfigurationDeclares(t *testing.T) {
	tags := platformTags("alice", "demo")
	bucket := item("arn:aws:s3:::alice-demo-data", tags)
	table := item("arn:aws:dynamodb:us-east-1:000000000000:table/alice-demo-items", tags)
	leftover := item("arn:aws:s3:::alice-demo-old", tags)
	api := item("arn:aws:apigateway:us-east-1::/restapis/abc", tags)
	creates := []tfaws.PlannedCreate{
		{Address: "aws_s3_bucket.data", Type: "aws_s3_bucket", ID: tfaws.PlannedID("aws_s3_bucket", map[string]any{"bucket": "alice-demo-data"})},
		{Address: "aws_dynamodb_table.items", Type: "aws_dynamodb_table", ID: tfaws.PlannedID("aws_dynamodb_table", map[string]any{"name": "alice-demo-items"})},
		// A table with the old bucket's name is not the bucket.
		{Address: "aws_dynamodb_table.other", Type: "aws_dynamodb_table", ID: "alice-demo-old"},
		{Address: "aws_api_gateway_rest_api.api", Type: "aws_api_gateway_rest_api", ID: tfaws.PlannedID("aws_api_gateway_rest_api", map[string]any{"name": "x"})},
	}
	imports, unmatched := tfaws.Adopt([]store.InventoryItem{bucket, table, leftover, api}, creates)
	want := []tfaws.Import{{To: "aws_dynamodb_table.items", ID: "alice-demo-items"}, {To: "aws_s3_bucket.data", ID: "alice-demo-data"}}
	if diff := cmp.Diff(want, imports); diff != "" {
		t.Fatalf("imports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]store.InventoryItem{leftover, api}, unmatched, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("unmatched (-want +got):\n%s", diff)
	}
	file, err := tfaws.ImportFile(imports)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{
  "import": [
    {
      "to": "aws_dynamodb_table.items",
      "id": "alice-demo-items"
    },
    {
      "to": "aws_s3_bucket.data",
      "id": "alice-demo-data"
    }
  ]
}`, string(file)); diff != "" {
		t.Fatalf("import file (-want +got):\n%s", diff)
	}
}

// A tagged stray whose name is a planned prefix and a generated suffix is
// adopted into that address (one per address); a second one is left to be
// deleted.
func TestAdoptMatchesPrefixedStrays(t *testing.T) {
	tags := platformTags("alice", "demo")
	first := item("arn:aws:s3:::alice-logs-20261201120000000000000001", tags)
	second := item("arn:aws:s3:::alice-logs-20261201120500000000000002", tags)
	other := item("arn:aws:s3:::alice-logs-data", tags)
	imports, unmatched := tfaws.Adopt([]store.InventoryItem{first, second, other},
		[]tfaws.PlannedCreate{{Address: "aws_s3_bucket.logs", Type: "aws_s3_bucket", Prefix: "alice-logs-"}})
	if diff := cmp.Diff([]tfaws.Import{{To: "aws_s3_bucket.logs", ID: "alice-logs-20261201120000000000000001"}}, imports); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
	if len(unmatched) != 2 || unmatched[0].ARN != second.ARN || unmatched[1].ARN != other.ARN {
		t.Errorf("unmatched %+v", unmatched)
	}
}
