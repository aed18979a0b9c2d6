package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store"
)

// orphanWorld is an emulator and a store holding: a live project's
// bucket, an orphaned bucket with objects and an orphaned table (project
// carol/old has no row), an untagged bucket, another platform's bucket
// naming the same project, and a forged inventory entry claiming that
// bucket is tenantform's.
func orphanWorld(t *testing.T) (*awstest.Emulator, *store.Store) {
	t.Helper()
	ctx := context.Background()
	emu := awstest.New(t)
	st := openStore(t)
	if _, _, err := st.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "demo"}, store.Spec{
		Region: "us-east-1", Files: map[string]string{"main.tf": ""}, TTLMinutes: 60, MaxMonthlyCostUSD: 10,
	}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	createBucket(t, emu, "alice-live", platformTags("alice", "demo"))
	createBucket(t, emu, "carol-old-data", platformTags("carol", "old"))
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	for _, key := range []string{"a.txt", "b.txt", "dir/c.txt"} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String("carol-old-data"), Key: awssdk.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	createTable(t, emu, "carol-old", platformTags("carol", "old"))
	createBucket(t, emu, "plain", nil)
	createBucket(t, emu, "theirs", with(platformTags("carol", "old"), "ManagedBy", "another-platform"))

	relist(t, emu, st)
	return emu, st
}

// relist is one inventory listing of orphanWorld: the emulator's tagged
// resources, plus the forged entry.
func relist(t *testing.T, emu *awstest.Emulator, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	r := newRefresher(t, emu, st, 0)
	for _, region := range []string{"us-east-1", "us-west-2"} {
		items, err := r.List(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		if region == "us-east-1" {
			items = append(items, store.InventoryItem{ARN: "arn:aws:s3:::theirs", Type: "s3:bucket", Region: region, Tags: platformTags("carol", "old")})
		}
		if _, err := st.ReplaceInventory(ctx, region, items); err != nil {
			t.Fatal(err)
		}
	}
}

// sweepTwice sweeps, lists again and sweeps again: an orphan is deleted
// only once a second listing, the grace period after the first, still
// shows it. The first sweep must touch nothing.
func sweepTwice(t *testing.T, o *tfaws.Orphans, emu *awstest.Emulator, st *store.Store) []tfaws.Removal {
	t.Helper()
	first, err := o.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range first {
		if r.Deleted || r.AlreadyGone || len(r.Steps) > 0 || r.Skipped == "" {
			t.Fatalf("the first sweep, one listing in, handled %+v; want it waiting", r)
		}
	}
	relist(t, emu, st)
	got, err := o.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// newOrphans sweeps st with a grace period of 1 ns: two listings are
// still required, and any two are far enough apart.
func newOrphans(t *testing.T, emu *awstest.Emulator, st tfaws.OrphanStore, mode tfaws.CleanupMode) *tfaws.Orphans {
	t.Helper()
	o, err := tfaws.NewOrphans(tfaws.OrphanConfig{Base: emu.Config(), Store: st, Mode: mode, Grace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var tableARN = "arn:aws:dynamodb:us-east-1:000000000000:table/carol-old"

// wantRemovals is what a sweep of orphanWorld reports, in dependency
// order (tables before buckets).
func wantRemovals(deleted bool) []tfaws.Removal {
	return []tfaws.Removal{
		{ARN: tableARN, Type: "dynamodb:table", Region: "us-east-1", Project: "chart-app-carol-old",
			Steps: []string{"delete DynamoDB table carol-old"}, Deleted: deleted},
		{ARN: "arn:aws:s3:::carol-old-data", Type: "s3:bucket", Region: "us-east-1", Project: "chart-app-carol-old",
			Steps: []string{
				"delete 3 object(s) from bucket carol-old-data: a.txt, b.txt, dir/c.txt",
				"delete bucket carol-old-data",
			}, Deleted: deleted},
		{ARN: "arn:aws:s3:::theirs", Type: "s3:bucket", Region: "us-east-1", Project: "chart-app-carol-old",
			Skipped: `its live ManagedBy tag is "another-platform", not the listed "chart-app-platform": it is not the resource that was found orphaned (only ManagedBy=chart-app-platform resources are ever deleted)`},
	}
}

func TestOrphansAreListedFromTheSnapshot(t *testing.T) {
	emu, st := orphanWorld(t)
	got, err := newOrphans(t, emu, st, "").List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, o := range got {
		arns = append(arns, o.ARN)
		if o.Project != "chart-app-carol-old" || o.UserID != "carol" || o.ProjectID != "old" || o.Cleanup != "report" || o.FirstSeen.IsZero() {
			t.Errorf("orphan %+v", o)
		}
	}
	if diff := cmp.Diff([]string{tableARN, "arn:aws:s3:::carol-old-data", "arn:aws:s3:::theirs"}, arns); diff != "" {
		t.Fatalf("orphans (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got[0])
	if err != nil || !strings.Contains(string(b), `"arn":`) || !strings.Contains(string(b), `"cleanup":"report"`) {
		t.Fatalf("JSON %s, %v", b, err)
	}
}

func TestReportOnlySweepDeletesNothingAndListsWhatDeleteWould(t *testing.T) {
	emu, st := orphanWorld(t)
	got := sweepTwice(t, newOrphans(t, emu, st, tfaws.CleanupReport), emu, st)
	if diff := cmp.Diff(wantRemovals(false), got); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
	for _, b := range []string{"alice-live", "carol-old-data", "plain", "theirs"} {
		if !bucketExists(t, emu, b) {
			t.Errorf("report-only sweep removed bucket %s", b)
		}
	}
	if !tableExists(t, emu, "carol-old") {
		t.Error("report-only sweep removed the table")
	}
}

func TestDeleteSweepEmptiesAndDeletesOnlyTenantformsOrphans(t *testing.T) {
	emu, st := orphanWorld(t)
	o := newOrphans(t, emu, st, tfaws.CleanupDelete)
	got := sweepTwice(t, o, emu, st)
	if diff := cmp.Diff(wantRemovals(true), got); diff != "" {
		t.Fatalf("sweep (-want +got):\n%s", diff)
	}
	if bucketExists(t, emu, "carol-old-data") || tableExists(t, emu, "carol-old") {
		t.Fatal("the orphans are still there")
	}
	for _, b := range []string{"alice-live", "plain", "theirs"} {
		if !bucketExists(t, emu, b) {
			t.Errorf("bucket %s was deleted", b)
		}
	}
	// The next listing shows no tenantform orphan left.
	if err := newRefresher(t, emu, st, 0).Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	left, err := o.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("orphans left: %+v", left)
	}
}

func bucketExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	t.Helper()
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	out, err := s3c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Buckets {
		if awssdk.ToString(b.Name) == name {
			return true
		}
	}
	return false
}

func tableExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	t.Helper()
	out, err := dynamodb.NewFromConfig(emu.Config()).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(out.TableNames) != fmt.Sprint(removed(out.TableNames, name))
}

func removed(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func TestDeleteRemovesAStrayOfALiveProjectButNothingElse(t *testing.T) {
	emu, st := orphanWorld(t)
	o := newOrphans(t, emu, st, tfaws.CleanupReport)
	stray := store.InventoryItem{ARN: "arn:aws:s3:::alice-live", Type: "s3:bucket", Region: "us-east-1", Tags: platformTags("alice", "demo")}
	// Claims to be alice's, but the bucket's live tags say another platform.
	forged := store.InventoryItem{ARN: "arn:aws:s3:::theirs", Type: "s3:bucket", Region: "us-east-1", Tags: platformTags("alice", "demo")}
	got := o.Delete(t.Context(), []store.InventoryItem{stray, forged})
	if len(got) != 2 || !got[0].Deleted || got[1].Deleted || got[1].Skipped == "" {
		t.Fatalf("removals %+v", got)
	}
	if bucketExists(t, emu, "alice-live") || !bucketExists(t, emu, "theirs") {
		t.Fatal("want the stray gone and the other platform's bucket kept")
	}
}
