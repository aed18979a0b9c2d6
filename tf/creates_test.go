package tf

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"
)

// testdata/plan-creates.json is `terraform show -json` (terraform 1.11.4,
// the real hashicorp/aws 5.100.0) of a plan creating buckets with a fixed
// name, a bucket_prefix, no name at all, one through an aliased us-west-2
// provider, a table, a role with a name_prefix and a log group.
func TestPlannedCreatesFromARealPlan(t *testing.T) {
	p := readPlan(t, "testdata/plan-creates.json")
	got := PlannedCreates(p, "eu-west-1")
	type row struct{ Address, Type, Region, Name, Prefix string }
	var rows []row
	for _, c := range got {
		name, _ := c.Values["bucket"].(string)
		if name == "" {
			name, _ = c.Values["name"].(string)
		}
		prefix, _ := c.Values["bucket_prefix"].(string)
		if prefix == "" {
			prefix, _ = c.Values["name_prefix"].(string)
		}
		rows = append(rows, row{c.Address, c.Type, c.Region, name, prefix})
	}
	// The root provider block says us-east-1: a constant region wins over
	// the project's; the aliased provider's us-west-2 follows its resource.
	want := []row{
		{"aws_cloudwatch_log_group.lg", "aws_cloudwatch_log_group", "us-east-1", "/aws/lambda/alice", ""},
		{"aws_dynamodb_table.t", "aws_dynamodb_table", "us-east-1", "alice-table", ""},
		{"aws_iam_role.r", "aws_iam_role", "us-east-1", "", "alice-role-"},
		{"aws_s3_bucket.auto", "aws_s3_bucket", "us-east-1", "", ""},
		{"aws_s3_bucket.logs", "aws_s3_bucket", "us-east-1", "", "alice-logs-"},
		{"aws_s3_bucket.site", "aws_s3_bucket", "us-east-1", "alice-site", ""},
		{"aws_s3_bucket.west", "aws_s3_bucket", "us-west-2", "alice-west", ""},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("planned creates (-want +got):\n%s", diff)
	}
	if imports := importChanges(p); len(imports) != 0 {
		t.Errorf("a plan without import blocks has import changes: %+v", imports)
	}
}

// Without a constant region, the project's region applies; updates,
// deletes and no-ops are not creates; the create half of a replace is.
func TestPlannedCreatesActionsAndDefaultRegion(t *testing.T) {
	p := readPlan(t, "testdata/plan.json")
	var got []string
	for _, c := range PlannedCreates(p, "eu-west-1") {
		if c.Region != "eu-west-1" {
			t.Errorf("%s: region %q, want the project's", c.Address, c.Region)
		}
		got = append(got, c.Address)
	}
	if diff := cmp.Diff([]string{"terraform_data.new[0]", "terraform_data.replace"}, got); diff != "" {
		t.Errorf("creates (-want +got):\n%s", diff)
	}
}

// An import whose action is a replacement or a delete destroys what it
// adopts; an import that only updates tags does not.
func TestImportChanges(t *testing.T) {
	var p tfjson.Plan
	raw := `{"format_version":"1.2","resource_changes":[
	 {"address":"aws_dynamodb_table.t","mode":"managed","type":"aws_dynamodb_table","name":"t",
	  "change":{"actions":["delete","create"],"before":{},"after":{},"importing":{"id":"alice-table"}}},
	 {"address":"aws_s3_bucket.b","mode":"managed","type":"aws_s3_bucket","name":"b",
	  "change":{"actions":["update"],"before":{},"after":{},"importing":{"id":"alice-site"}}},
	 {"address":"aws_s3_bucket.c","mode":"managed","type":"aws_s3_bucket","name":"c",
	  "change":{"actions":["create"],"before":null,"after":{}}}]}`
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	want := []ImportChange{
		{Address: "aws_dynamodb_table.t", ID: "alice-table", Action: "replace"},
		{Address: "aws_s3_bucket.b", ID: "alice-site", Action: "update"},
	}
	got := importChanges(&p)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !got[0].Destroys() || got[1].Destroys() {
		t.Errorf("Destroys: replace %v, update %v", got[0].Destroys(), got[1].Destroys())
	}
}

func readPlan(t *testing.T, file string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// testdata/plan-import-replace.json is `terraform show -json` (terraform
// 1.11.4, the real hashicorp/aws 5.100.0 against the emulator) of the
// adoption that replaced a table: an import block adopts table adopt-t,
// whose configuration has another hash key. Terraform's summary line was
// "1 to import, 2 to add, 0 to change, 1 to destroy".
func TestImportChangesOfARealReplacingAdoption(t *testing.T) {
	p := readPlan(t, "testdata/plan-import-replace.json")
	want := []ImportChange{{Address: "aws_dynamodb_table.t", ID: "adopt-t", Action: "replace"}}
	got := importChanges(p)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !got[0].Destroys() {
		t.Error("the replaced import does not destroy")
	}
	if c := counts(summarize(p)); c != [3]int{2, 0, 1} {
		t.Errorf("add/change/destroy = %v, want terraform's 2/0/1", c)
	}
	var creates []string
	for _, c := range PlannedCreates(p, "us-east-1") {
		creates = append(creates, c.Address)
	}
	if diff := cmp.Diff([]string{"aws_dynamodb_table.other", "aws_dynamodb_table.t"}, creates); diff != "" {
		t.Errorf("creates (-want +got):\n%s", diff)
	}
}
