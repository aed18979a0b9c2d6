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
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
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
	}, nil, taggedCreatedAt); err != nil {
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
// taggedCreatedAt is platformTags' CreatedAt: a project row created then
// owns the resources platformTags describes.
var taggedCreatedAt = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

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

// recreatingStore re-creates a project right after the sweep has read the
// live projects, the second time it does: a project deleted and created
// again under the same id while a sweep runs.
type recreatingStore struct {
	*store.Store
	calls    int
	recreate func(ctx context.Context)
}

func (s *recreatingStore) LiveProjects(ctx context.Context) ([]store.LiveProject, error) {
	keys, err := s.Store.LiveProjects(ctx)
	if s.calls++; s.calls == 2 {
		s.recreate(ctx)
	}
	return keys, err
}

// TestSweepKeepsTheBucketOfAProjectRecreatedDuringTheSweep is the review's
// finding: alice/demo was deleted (its bucket alice-site left behind, an
// orphan in two listings), then created again while a sweep ran, and its
// new incarnation made alice-site again with the customer's data in it.
// The sweep used to delete it: its tags still named alice/demo.
func TestSweepKeepsTheBucketOfAProjectRecreatedDuringTheSweep(t *testing.T) {
	ctx := t.Context()
	emu := awstest.New(t)
	st := openStore(t)
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	createBucket(t, emu, "alice-site", platformTags("alice", "demo")) // CreatedAt 2026-11-30T11:00:00Z, no row
	recreatedAt := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	ws := &recreatingStore{Store: st, recreate: func(ctx context.Context) {
		if _, _, err := st.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "demo"}, store.Spec{
			Region: "us-east-1", Files: map[string]string{"main.tf": ""}, TTLMinutes: 60, MaxMonthlyCostUSD: 10,
		}, nil, recreatedAt); err != nil {
			t.Fatal(err)
		}
		// The new incarnation's apply: the old bucket is gone (the
		// finalizer destroyed it), the new one has the same name, its
		// tags and the customer's data.
		if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: awssdk.String("alice-site")}); err != nil {
			t.Fatal(err)
		}
		createBucket(t, emu, "alice-site", with(platformTags("alice", "demo"), "CreatedAt", recreatedAt.Format(time.RFC3339)))
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String("alice-site"),
			Key: awssdk.String("customer-data.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}}
	relist(t, emu, st)
	got := sweepTwice(t, newOrphans(t, emu, ws, tfaws.CleanupDelete), emu, st)
	if ws.calls != 2 {
		t.Fatalf("the sweeps read the live projects %d times; the project was not re-created during the second", ws.calls)
	}
	var site *tfaws.Removal
	for i := range got {
		if got[i].ARN == "arn:aws:s3:::alice-site" {
			site = &got[i]
		}
	}
	if site == nil {
		t.Fatalf("the second sweep did not consider alice-site, which it had read as an orphan: %+v", got)
	}
	if site.Deleted || len(site.Steps) > 0 || site.Skipped == "" {
		t.Errorf("removal of the re-created project's bucket: %+v; want it left alone", *site)
	}
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: awssdk.String("alice-site"), Key: awssdk.String("customer-data.json")}); err != nil {
		t.Fatalf("the re-created project's data is gone: %v", err)
	}
}

// TestASecondSweepOfTheSameSnapshotFindsTheOrphansAlreadyGone: two
// replicas sweep the same snapshot; the second finds nothing to delete and
// says so. Nothing is counted or reported deleted twice.
func TestASecondSweepOfTheSameSnapshotFindsTheOrphansAlreadyGone(t *testing.T) {
	emu, st := orphanWorld(t)
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	newSweeper := func(reg prometheus.Registerer) *tfaws.Orphans {
		o, err := tfaws.NewOrphans(tfaws.OrphanConfig{Base: emu.Config(), Store: st, Mode: tfaws.CleanupDelete, Grace: time.Nanosecond, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	first := sweepTwice(t, newSweeper(reg1), emu, st)
	second, err := newSweeper(reg2).Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	summary := func(rs []tfaws.Removal) map[string]string {
		out := map[string]string{}
		for _, r := range rs {
			switch {
			case r.Deleted:
				out[r.ARN] = "deleted"
			case r.AlreadyGone:
				out[r.ARN] = "already gone"
			default:
				out[r.ARN] = "kept"
			}
		}
		return out
	}
	want := map[string]string{tableARN: "deleted", "arn:aws:s3:::carol-old-data": "deleted", "arn:aws:s3:::theirs": "kept"}
	if diff := cmp.Diff(want, summary(first)); diff != "" {
		t.Errorf("first sweep (-want +got):\n%s", diff)
	}
	want = map[string]string{tableARN: "already gone", "arn:aws:s3:::carol-old-data": "already gone", "arn:aws:s3:::theirs": "kept"}
	if diff := cmp.Diff(want, summary(second)); diff != "" {
		t.Errorf("second sweep (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		reg           *prometheus.Registry
		deleted, gone float64
	}{{reg1, 2, 0}, {reg2, 0, 2}} {
		if got := counterValue(t, c.reg, "tenantform_aws_orphans_deleted_total"); got != c.deleted {
			t.Errorf("tenantform_aws_orphans_deleted_total = %v; want %v", got, c.deleted)
		}
		if got := counterValue(t, c.reg, "tenantform_aws_orphans_already_gone_total"); got != c.gone {
			t.Errorf("tenantform_aws_orphans_already_gone_total = %v; want %v", got, c.gone)
		}
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestSweepLeavesAProjectsResourcesToItsFinalizerAndAmbiguousTagsAlone: a
// project being deleted owns its resources, and a resource naming its
// project by the Project tag alone is not provably anyone's.
func TestSweepLeavesAProjectsResourcesToItsFinalizerAndAmbiguousTagsAlone(t *testing.T) {
	ctx := t.Context()
	emu := awstest.New(t)
	st := openStore(t)
	createdAt := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	key := store.Key{UserID: "dave", ProjectID: "web"}
	if _, _, err := st.PutSpec(ctx, key, store.Spec{
		Region: "us-east-1", Files: map[string]string{"main.tf": ""}, TTLMinutes: 60, MaxMonthlyCostUSD: 10,
	}, nil, createdAt); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RequestDeletion(ctx, key, false, createdAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The Project tag alone ("chart-app-erin-x-y": erin's x-y or erin-x's y).
	createBucket(t, emu, "ambiguous", with(with(platformTags("erin", "x-y"), "UserId", ""), "ProjectId", ""))
	createBucket(t, emu, "dave-web", platformTags("dave", "web"))
	relist(t, emu, st)
	// The project being deleted has a row, so its bucket is no orphan in
	// the snapshot; the sweep's check at delete time must keep it too.
	o := newOrphans(t, emu, &rowlessStore{st}, tfaws.CleanupDelete)
	got := sweepTwice(t, o, emu, st)
	kept := map[string]string{}
	for _, r := range got {
		if r.ARN == "arn:aws:s3:::theirs" { // relist's forged entry: no such bucket here
			continue
		}
		if r.Deleted || r.Error != "" {
			t.Errorf("removal %+v", r)
		}
		kept[r.ARN] = r.Skipped
	}
	if !strings.Contains(kept["arn:aws:s3:::dave-web"], "being deleted") || !strings.Contains(kept["arn:aws:s3:::ambiguous"], "UserId and ProjectId") {
		t.Errorf("reasons %q", kept)
	}
	for _, b := range []string{"dave-web", "ambiguous"} {
		if !bucketExists(t, emu, b) {
			t.Errorf("bucket %s was deleted", b)
		}
	}
}

// rowlessStore reads no live project: the sweep's snapshot then takes
// every tagged resource for an orphan, and only the check at delete time
// (which reads the real row) stands between it and deletion.
type rowlessStore struct{ *store.Store }

func (rowlessStore) LiveProjects(context.Context) ([]store.LiveProject, error) { return nil, nil }

// TestSweepNeverDeletesWhatAStateHolds: alice/demo exists as a later
// incarnation (another CreatedAt) that no reconciler holds, which makes a
// bucket tagged with the earlier one an orphan, unless a terraform state
// holds it: here the project adopted it and its re-tagging has not
// happened yet. What a state holds is never deleted.
func TestSweepNeverDeletesWhatAStateHolds(t *testing.T) {
	ctx := t.Context()
	emu := awstest.New(t)
	st, dbURL := openStoreURL(t)
	if _, _, err := st.PutSpec(ctx, store.Key{UserID: "alice", ProjectID: "demo"}, store.Spec{
		Region: "us-east-1", Files: map[string]string{"main.tf": ""}, TTLMinutes: 60, MaxMonthlyCostUSD: 10,
	}, nil, time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	createBucket(t, emu, "alice-adopted", platformTags("alice", "demo")) // CreatedAt 2026-11-30T11:00:00Z
	createBucket(t, emu, "alice-old", platformTags("alice", "demo"))
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	state := `{"version": 4, "resources": [{"mode": "managed", "type": "aws_s3_bucket", "name": "site", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
		"instances": [{"attributes": {"arn": "arn:aws:s3:::alice-adopted", "bucket": "alice-adopted", "id": "alice-adopted"}}]}]}`
	if _, err := conn.Exec(ctx, `INSERT INTO `+tf.DefaultPGSchema+`.states (name, data) VALUES ($1, $2)`, tf.WorkspaceName("alice", "demo"), state); err != nil {
		t.Fatal(err)
	}
	relist(t, emu, st)
	got := sweepTwice(t, newOrphans(t, emu, &rowlessStore{st}, tfaws.CleanupDelete), emu, st)
	result := map[string]string{}
	for _, r := range got {
		switch {
		case r.Deleted:
			result[r.ARN] = "deleted"
		case r.Skipped != "":
			result[r.ARN] = r.Skipped
		}
	}
	if !strings.Contains(result["arn:aws:s3:::alice-adopted"], "terraform state of project alice/demo holds it") {
		t.Errorf("the bucket in the state: %q", result["arn:aws:s3:::alice-adopted"])
	}
	if result["arn:aws:s3:::alice-old"] != "deleted" {
		t.Errorf("the earlier incarnation's bucket no state holds: %q; want it deleted", result["arn:aws:s3:::alice-old"])
	}
	if !bucketExists(t, emu, "alice-adopted") || bucketExists(t, emu, "alice-old") {
		t.Fatal("want the bucket in the state kept and the other deleted")
	}
}
