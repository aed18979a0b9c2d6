package aws_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
)

var (
	t0      = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	bucketA = "arn:aws:s3:::alice-demo-bucket"
	tableA  = "arn:aws:dynamodb:us-east-1:000000000000:table/alice-demo"
	roleA   = "arn:aws:iam::000000000000:role/alice-demo"
)

func platformTags(user, project string) map[string]string {
	return map[string]string{
		"Project": "chart-app-" + user + "-" + project, "Environment": "production",
		"ManagedBy": "chart-app-platform", "UserId": user, "ProjectId": project,
		"CreatedAt": "2026-11-30T11:00:00Z",
	}
}

func item(arn string, tags map[string]string) store.InventoryItem {
	return store.InventoryItem{ARN: arn, Type: tfaws.ResourceType(arn), Region: "us-east-1", Tags: tags}
}

func with(tags map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for kk, vv := range tags {
		out[kk] = vv
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestCompareProject(t *testing.T) {
	alice := platformTags("alice", "demo")
	facts := tfaws.ProjectFacts{
		UserID: "alice", ProjectID: "demo", Region: "us-east-1",
		PlatformTags: alice,
		// The role is in state but the Tagging API does not list roles:
		// it never counts as missing.
		StateARNs: []string{bucketA, tableA, roleA, ""},
		SettledAt: t0,
	}
	fresh := map[string]time.Time{"us-east-1": t0.Add(time.Minute)}
	stray := item("arn:aws:s3:::alice-demo-leftover", alice)
	for _, tc := range []struct {
		name  string
		facts tfaws.ProjectFacts
		inv   store.Inventory
		want  tfaws.Comparison
	}{
		{
			name: "in sync",
			inv:  store.Inventory{Items: []store.InventoryItem{item(bucketA, alice), item(tableA, alice)}, ListedAt: fresh},
			want: tfaws.Comparison{},
		},
		{
			name: "bucket deleted out of band",
			inv:  store.Inventory{Items: []store.InventoryItem{item(tableA, alice)}, ListedAt: fresh},
			want: tfaws.Comparison{Missing: []string{bucketA}},
		},
		{
			name: "platform tag changed and removed",
			inv: store.Inventory{Items: []store.InventoryItem{
				item(bucketA, with(alice, "Environment", "staging")),
				item(tableA, with(alice, "CreatedAt", "")),
			}, ListedAt: fresh},
			want: tfaws.Comparison{Retagged: []tfaws.TagChange{
				{ARN: tableA, Key: "CreatedAt", Want: "2026-11-30T11:00:00Z", Got: ""},
				{ARN: bucketA, Key: "Environment", Want: "production", Got: "staging"},
			}},
		},
		{
			name: "a stray of the project; other projects' resources are not",
			inv: store.Inventory{Items: []store.InventoryItem{
				item(bucketA, alice), item(tableA, alice), stray,
				item("arn:aws:s3:::bob", platformTags("bob", "demo")),
				// Same Project tag, but UserId/ProjectId name another project.
				item("arn:aws:s3:::alice-demo-x", with(platformTags("alice-demo", "x"), "Project", "chart-app-alice-demo")),
			}, ListedAt: fresh},
			want: tfaws.Comparison{Strays: []store.InventoryItem{stray}},
		},
		{
			name: "listing older than the last run",
			inv:  store.Inventory{Items: []store.InventoryItem{stray}, ListedAt: map[string]time.Time{"us-east-1": t0.Add(-time.Second)}},
			want: tfaws.Comparison{Stale: true},
		},
		{
			name: "region never listed",
			inv:  store.Inventory{ListedAt: map[string]time.Time{"us-west-2": t0.Add(time.Hour)}},
			want: tfaws.Comparison{Stale: true},
		},
		{
			name: "a state resource in another region needs that region's listing",
			facts: func() tfaws.ProjectFacts {
				f := facts
				f.StateARNs = []string{"arn:aws:dynamodb:us-west-2:000000000000:table/w"}
				return f
			}(),
			inv:  store.Inventory{ListedAt: fresh},
			want: tfaws.Comparison{Stale: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.facts
			if f.UserID == "" {
				f = facts
			}
			got := tfaws.CompareProject(f, tc.inv)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("comparison (-want +got):\n%s", diff)
			}
			if got.InSync() != (tc.name == "in sync") {
				t.Fatalf("InSync() = %v", got.InSync())
			}
		})
	}
}

func TestFindOrphans(t *testing.T) {
	created := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC) // platformTags' CreatedAt
	live := []store.LiveProject{
		{Key: store.Key{UserID: "alice", ProjectID: "demo"}, CreatedAt: created.Add(123 * time.Millisecond)},
		{Key: store.Key{UserID: "erin", ProjectID: "web"}, CreatedAt: created.Add(time.Hour)},
	}
	orphan := item("arn:aws:s3:::gone", platformTags("carol", "old"))
	// erin/web was deleted and created again: this is the earlier one's.
	earlier := item("arn:aws:s3:::erin-earlier", platformTags("erin", "web"))
	legacy := item("arn:aws:s3:::legacy", map[string]string{"ManagedBy": "chart-app-platform", "Project": "chart-app-dave-x"})
	items := []store.InventoryItem{
		item(bucketA, platformTags("alice", "demo")),
		orphan,
		legacy,
		// Another platform's resource, and one naming no project.
		item("arn:aws:s3:::theirs", with(platformTags("carol", "old"), "ManagedBy", "someone-else")),
		item("arn:aws:s3:::anonymous", map[string]string{"ManagedBy": "chart-app-platform"}),
		// Project tag only, matching a live project.
		item("arn:aws:s3:::alice-legacy", map[string]string{"ManagedBy": "chart-app-platform", "Project": "chart-app-alice-demo"}),
		earlier,
		// The live incarnation's; and one whose CreatedAt cannot say.
		item("arn:aws:s3:::erin-now", with(platformTags("erin", "web"), "CreatedAt", created.Add(time.Hour).Format(time.RFC3339))),
		item("arn:aws:s3:::erin-untold", with(platformTags("erin", "web"), "CreatedAt", "")),
	}
	got := tfaws.FindOrphans(items, live)
	if diff := cmp.Diff([]store.InventoryItem{orphan, legacy, earlier}, got); diff != "" {
		t.Fatalf("orphans (-want +got):\n%s", diff)
	}
}

func TestImportTarget(t *testing.T) {
	for _, tc := range []struct{ arn, typ, id string }{
		{bucketA, "aws_s3_bucket", "alice-demo-bucket"},
		{tableA, "aws_dynamodb_table", "alice-demo"},
		{"arn:aws:lambda:us-east-1:1:function:fn", "aws_lambda_function", "fn"},
		{"arn:aws:logs:us-east-1:1:log-group:/aws/lambda/fn", "aws_cloudwatch_log_group", "/aws/lambda/fn"},
		{roleA, "aws_iam_role", "alice-demo"},
		{"arn:aws:apigateway:us-east-1::/restapis/abc123", "aws_api_gateway_rest_api", "abc123"},
		{"arn:aws:sqs:us-east-1:1:q", "", ""},
	} {
		typ, id, ok := tfaws.ImportTarget(tc.arn)
		if typ != tc.typ || id != tc.id || ok != (tc.typ != "") {
			t.Errorf("ImportTarget(%s) = %q, %q, %v; want %q, %q", tc.arn, typ, id, ok, tc.typ, tc.id)
		}
	}
}
