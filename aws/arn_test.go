package aws_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
)

func TestLambdaQualifiers(t *testing.T) {
	for _, tc := range []struct{ arn, typ, qualifier string }{
		{"arn:aws:lambda:us-east-1:123456789012:function:f", "lambda:function", ""},
		{"arn:aws:lambda:us-east-1:123456789012:function:f:live", "lambda:function", "live"},
		{"arn:aws:lambda:us-east-1:123456789012:function:f:3", "lambda:function", "3"},
		{"arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "lambda:function", "$LATEST"},
		{"arn:aws:lambda:us-east-1:123456789012:layer:l:2", "lambda:layer", ""},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/t", "dynamodb:table", ""},
	} {
		a, ok := tfaws.ParseARN(tc.arn)
		if !ok || tfaws.ResourceType(tc.arn) != tc.typ || a.Qualifier() != tc.qualifier {
			t.Errorf("%s: type %q, qualifier %q, %v; want %q, %q", tc.arn, tfaws.ResourceType(tc.arn), a.Qualifier(), ok, tc.typ, tc.qualifier)
		}
	}
	// An alias is not the function: it is not adopted as one.
	if typ, id, ok := tfaws.ImportTarget("arn:aws:lambda:us-east-1:1:function:f:live"); ok {
		t.Errorf("ImportTarget of an alias = %q, %q; want none", typ, id)
	}
	if typ, id, ok := tfaws.ImportTarget("arn:aws:lambda:us-east-1:1:function:f"); !ok || typ != "aws_lambda_function" || id != "f" {
		t.Errorf("ImportTarget of the function = %q, %q, %v", typ, id, ok)
	}
}

// TestAProjectWithALambdaAliasIsInSync is the review's finding: the state
// holds the function and its alias (aws_lambda_alias's arn is the
// qualified function:f:live), the Tagging API lists the function only,
// and the alias was "missing" from every listing: the project re-planned
// at every resync, forever.
func TestAProjectWithALambdaAliasIsInSync(t *testing.T) {
	tags := platformTags("alice", "demo")
	fn := "arn:aws:lambda:us-east-1:123456789012:function:alice-demo-fn"
	facts := tfaws.ProjectFacts{UserID: "alice", ProjectID: "demo", Region: "us-east-1", PlatformTags: tags,
		StateARNs: []string{fn, fn + ":live", fn + ":1", tableA}, SettledAt: t0}
	inv := store.Inventory{Items: []store.InventoryItem{item(fn, tags), item(tableA, tags)},
		ListedAt: map[string]time.Time{"us-east-1": t0.Add(time.Minute)}}
	got := tfaws.CompareProject(facts, inv)
	if diff := cmp.Diff(tfaws.Comparison{}, got, cmpopts.EquateEmpty()); diff != "" || !got.InSync() {
		t.Fatalf("comparison (-want +got):\n%s", diff)
	}
	// The function itself is still tracked.
	inv.Items = inv.Items[1:]
	if got := tfaws.CompareProject(facts, inv); !cmp.Equal(got.Missing, []string{fn}) {
		t.Fatalf("function deleted out of band: missing %v; want %v", got.Missing, []string{fn})
	}
}
