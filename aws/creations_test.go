package aws_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// The names and prefixes recorded before an apply, read from a real plan
// (tf/testdata/plan-creates.json: `terraform show -json` with the real
// hashicorp/aws 5.100.0).
func TestPlannedNamesFromARealPlan(t *testing.T) {
	b, err := os.ReadFile("../tf/testdata/plan-creates.json")
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, c := range tf.PlannedCreates(&p, "us-east-1") {
		name, prefix := tfaws.PlannedName(c.Type, c.Values)
		got[c.Address] = [2]string{name, prefix}
	}
	want := map[string][2]string{
		"aws_cloudwatch_log_group.lg": {"/aws/lambda/alice", ""},
		"aws_dynamodb_table.t":        {"alice-table", ""},
		"aws_iam_role.r":              {"", "alice-role-"},
		"aws_s3_bucket.auto":          {"", "terraform-"}, // neither set: the provider's own prefix
		"aws_s3_bucket.logs":          {"", "alice-logs-"},
		"aws_s3_bucket.site":          {"alice-site", ""},
		"aws_s3_bucket.west":          {"alice-west", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGeneratedAt(t *testing.T) {
	at, ok := tfaws.GeneratedAt("logs-", "logs-20261201224233123400000001")
	if !ok || !at.Equal(time.Date(2026, 12, 1, 22, 42, 33, 0, time.UTC)) {
		t.Errorf("generated name: %v %v", at, ok)
	}
	for _, name := range []string{"logs-x", "logs-2026120122423312340000000g", "logs-data", "other-20261201224233123400000001", "logs-202612012242331234000000011"} {
		if _, ok := tfaws.GeneratedAt("logs-", name); ok {
			t.Errorf("%q read as generated from logs-", name)
		}
	}
}

// The matching rules of the recovery: the recorded name, or the prefix
// with a generated suffix, created inside the run's window; never a
// resource in the state, one carrying another project's (or another
// platform's) tags, nor one another project's pending apply could have
// made. A find the plan declares is adopted into its address (one per
// address); the others are deleted.
func TestMatchCreations(t *testing.T) {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Minute)
	in := func(d time.Duration) time.Time { return start.Add(d) }
	gen := func(prefix string, at time.Time, n int) string {
		return prefix + at.Format("20060102150405") + "0000" + strings.Repeat("0", 7) + string(rune('0'+n))
	}
	rec := func(name, prefix string) store.PendingCreation {
		return store.PendingCreation{CreationRecord: store.CreationRecord{Address: "aws_s3_bucket." + name + prefix, Type: "aws_s3_bucket", Name: name, NamePrefix: prefix, Region: "us-east-1"},
			RunNumber: 7, StartedAt: start, FinishedAt: end}
	}
	bucket := func(name string, at time.Time, tags map[string]string) tfaws.Candidate {
		return tfaws.Candidate{Type: "aws_s3_bucket", Name: name, Region: "us-east-1", CreatedAt: at, Tags: tags}
	}
	mine := map[string]string{"ManagedBy": tf.ManagedByTag, "UserId": "alice", "ProjectId": "site", "Project": tf.ProjectTag("alice", "site")}
	theirs := map[string]string{"ManagedBy": tf.ManagedByTag, "UserId": "bob", "ProjectId": "site", "Project": tf.ProjectTag("bob", "site")}
	foreign := map[string]string{"team": "data"}
	other := rec("", "shared-")
	other.ProjectUID, other.RunNumber = "bob's", 3

	facts := tfaws.CreationFacts{
		UserID: "alice", ProjectID: "site",
		Pending: []store.PendingCreation{rec("alice-site", ""), rec("", "alice-logs-"), rec("alice-gone", ""), rec("alice-kept", ""), rec("", "shared-"), rec("alice-tagged", "")},
		Others:  []store.PendingCreation{other},
		Candidates: []tfaws.Candidate{
			bucket("alice-site", in(time.Second), nil),                                 // adopted: fixed name, in the window, untagged
			bucket(gen("alice-logs-", in(30*time.Second), 1), in(30*time.Second), nil), // adopted into the prefix's address (oldest first)
			bucket(gen("alice-logs-", in(90*time.Second), 2), in(90*time.Second), nil), // its twin: deleted
			bucket(gen("alice-logs-", in(-time.Hour), 3), in(-time.Hour), nil),         // before the run: not ours
			bucket("alice-gone", in(time.Second), nil),                                 // not in the plan any more: deleted
			bucket("alice-kept", in(time.Second), nil),                                 // in the state: nothing to do
			bucket("alice-tagged", in(time.Second), mine),                              // tagged as ours (crash after tagging): adopted
			bucket("alice-old", in(-time.Minute), nil),                                 // no record names it
			bucket(gen("shared-", in(10*time.Second), 4), in(10*time.Second), nil),     // bob's apply may have made it
			bucket("alice-site", in(time.Second), nil),                                 // listed twice: once
		},
		InState: map[string]bool{"aws_s3_bucket/alice-kept": true},
		Wanted: []tfaws.WantedCreate{
			{Address: "aws_s3_bucket.site", Type: "aws_s3_bucket", Name: "alice-site"},
			{Address: "aws_s3_bucket.logs", Type: "aws_s3_bucket", Prefix: "alice-logs-"},
			{Address: "aws_s3_bucket.tagged", Type: "aws_s3_bucket", Name: "alice-tagged"},
			{Address: "aws_s3_bucket.shared", Type: "aws_s3_bucket", Prefix: "shared-"},
		},
	}
	finds, skips := tfaws.MatchCreations(facts)
	got := map[string]string{}
	for _, f := range finds {
		got[f.Candidate.Name] = "adopt " + f.AdoptInto
		if f.AdoptInto == "" {
			got[f.Candidate.Name] = "delete"
		}
		if f.Run != 7 {
			t.Errorf("%s: run %d, want 7", f.Candidate.Name, f.Run)
		}
	}
	want := map[string]string{
		"alice-site": "adopt aws_s3_bucket.site",
		gen("alice-logs-", in(30*time.Second), 1): "adopt aws_s3_bucket.logs",
		gen("alice-logs-", in(90*time.Second), 2): "delete",
		"alice-gone":   "delete",
		"alice-tagged": "adopt aws_s3_bucket.tagged",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finds (-want +got):\n%s", diff)
	}
	skipped := map[string]string{}
	for _, s := range skips {
		skipped[s.Candidate.Name] = s.Why
	}
	if why := skipped[gen("shared-", in(10*time.Second), 4)]; !strings.Contains(why, "another project's apply (run 3)") {
		t.Errorf("a name another project's pending apply could have made: %q", why)
	}
	if why := skipped[gen("alice-logs-", in(-time.Hour), 3)]; !strings.Contains(why, "outside run 7's window") {
		t.Errorf("a prefix match from before the run: %q", why)
	}

	// Tags: another project's, or another platform's, are never ours.
	for _, tags := range []map[string]string{theirs, foreign} {
		f := facts
		f.Candidates = []tfaws.Candidate{bucket("alice-site", in(time.Second), tags)}
		finds, skips := tfaws.MatchCreations(f)
		if len(finds) != 0 || len(skips) != 1 {
			t.Errorf("a bucket tagged %v: finds %+v, skips %+v", tags, finds, skips)
		}
	}
	// A table is tagged in its create call: an untagged one of that name
	// is not this project's; a tagged one is adopted; a name the tagged
	// inventory already imports is left to that import.
	table := store.PendingCreation{CreationRecord: store.CreationRecord{Address: "aws_dynamodb_table.t", Type: "aws_dynamodb_table", Name: "alice-t", Region: "us-east-1"},
		RunNumber: 7, StartedAt: start, FinishedAt: end}
	tf := tfaws.CreationFacts{UserID: "alice", ProjectID: "site", Pending: []store.PendingCreation{table},
		Wanted: []tfaws.WantedCreate{{Address: "aws_dynamodb_table.t", Type: "aws_dynamodb_table", Name: "alice-t"}}}
	for _, c := range []struct {
		tags     map[string]string
		imported bool
		want     string
	}{{nil, false, "skip"}, {mine, false, "adopt"}, {mine, true, "none"}} {
		tf.Candidates = []tfaws.Candidate{{Type: "aws_dynamodb_table", Name: "alice-t", Region: "us-east-1", CreatedAt: in(time.Second), Tags: c.tags}}
		tf.Imported = map[string]bool{"alice-t": c.imported}
		finds, skips := tfaws.MatchCreations(tf)
		got := "none"
		switch {
		case len(finds) == 1 && finds[0].AdoptInto == "aws_dynamodb_table.t":
			got = "adopt"
		case len(skips) == 1 && strings.Contains(skips[0].Why, "tags a aws_dynamodb_table in the create call"):
			got = "skip"
		case len(finds)+len(skips) > 0:
			got = "other"
		}
		if got != c.want {
			t.Errorf("table tagged %v, imported %v: %s (%+v %+v), want %s", c.tags, c.imported, got, finds, skips, c.want)
		}
	}

	// The window: one second of clock skew is tolerated, a minute is not.
	for at, ok := range map[time.Time]bool{in(-time.Second): true, end.Add(time.Second): true, in(-time.Minute): false, end.Add(time.Minute): false} {
		f := facts
		f.Candidates = []tfaws.Candidate{bucket("alice-site", at, nil)}
		finds, _ := tfaws.MatchCreations(f)
		if (len(finds) == 1) != ok {
			t.Errorf("created at %s (run %s to %s): finds %+v", at, start, end, finds)
		}
	}
}
