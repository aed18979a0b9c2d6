package aws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store"
)

// createBucket makes a bucket in the emulator with tags (none when nil).
func createBucket(t *testing.T, emu *awstest.Emulator, name string, tags map[string]string) {
	t.Helper()
	ctx := context.Background()
	c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(name)}); err != nil {
		t.Fatal(err)
	}
	if len(tags) == 0 {
		return
	}
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(name), Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
		t.Fatal(err)
	}
}

// createTable makes a DynamoDB table in the emulator with tags; it
// returns its ARN.
func createTable(t *testing.T, emu *awstest.Emulator, name string, tags map[string]string) string {
	t.Helper()
	var ts []ddbtypes.Tag
	for k, v := range tags {
		ts = append(ts, ddbtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	out, err := dynamodb.NewFromConfig(emu.Config()).CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            awssdk.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: awssdk.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: awssdk.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		Tags:                 ts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.TableDescription.TableArn)
}

func newRefresher(t *testing.T, emu *awstest.Emulator, st tfaws.InventoryStore, pageSize int, reg ...prometheus.Registerer) *tfaws.Refresher {
	t.Helper()
	cfg := tfaws.InventoryConfig{
		Base:     emu.Config(),
		Regions:  []string{"us-east-1", "us-west-2"},
		Store:    st,
		PageSize: pageSize,
	}
	if len(reg) > 0 {
		cfg.Registerer = reg[0]
	}
	r, err := tfaws.NewRefresher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInventoryListsEveryPageOfTaggedResources(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("alice-demo-%d", i)
		createBucket(t, emu, name, platformTags("alice", "demo"))
		want = append(want, "arn:aws:s3:::"+name)
	}
	table := createTable(t, emu, "bob-x", platformTags("bob", "x"))
	want = append([]string{table}, want...) // dynamodb sorts before s3
	createBucket(t, emu, "untagged", nil)
	createBucket(t, emu, "other-platform", with(platformTags("carol", "y"), "ManagedBy", "someone-else"))

	reg := prometheus.NewRegistry()
	if err := newRefresher(t, emu, st, 2, reg).Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "tenantform_aws_inventory_resources", map[string]string{"region": "us-east-1"}); got != 6 {
		t.Fatalf("tenantform_aws_inventory_resources{us-east-1} = %v, want 6", got)
	}
	// 6 tagged resources, 2 a page: 3 pages in us-east-1, 1 (empty) in us-west-2.
	if diff := cmp.Diff(map[string]int{"us-east-1": 3, "us-west-2": 1}, emu.TaggingCalls()); diff != "" {
		t.Fatalf("GetResources calls per region (-want +got):\n%s", diff)
	}
	inv, err := st.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, arns(inv.Items)); diff != "" {
		t.Fatalf("inventory (-want +got):\n%s", diff)
	}
	got := inv.Items[0]
	if got.Type != "dynamodb:table" || got.Region != "us-east-1" || got.Tags["ProjectId"] != "x" || got.FirstSeen.IsZero() {
		t.Fatalf("table item %+v", got)
	}
	if inv.Items[1].Type != "s3:bucket" || len(inv.ListedAt) != 2 {
		t.Fatalf("bucket item %+v, listings %v", inv.Items[1], inv.ListedAt)
	}
}

func TestOneListingPerRegionServesAThousandProjects(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	settled := time.Now().Add(-time.Minute)
	facts := make([]tfaws.ProjectFacts, 1000)
	for i := range facts {
		user, project := fmt.Sprintf("u%d", i), "p"
		facts[i] = tfaws.ProjectFacts{UserID: user, ProjectID: project, Region: "us-east-1",
			PlatformTags: platformTags(user, project), SettledAt: settled}
	}
	// Three projects own a bucket each; one of them has lost it.
	for _, i := range []int{1, 2, 3} {
		name := fmt.Sprintf("bucket-%d", i)
		createBucket(t, emu, name, facts[i].PlatformTags)
		facts[i].StateARNs = []string{"arn:aws:s3:::" + name}
	}
	facts[4].StateARNs = []string{"arn:aws:s3:::bucket-4"}

	if err := newRefresher(t, emu, st, 0).Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	inv, err := st.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var drifted []int
	for i, f := range facts {
		c := tfaws.CompareProject(f, inv)
		if c.Stale {
			t.Fatalf("project %d: stale", i)
		}
		if c.Drifted() {
			drifted = append(drifted, i)
		}
	}
	if diff := cmp.Diff([]int{4}, drifted); diff != "" {
		t.Fatalf("drifted projects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"us-east-1": 1, "us-west-2": 1}, emu.TaggingCalls()); diff != "" {
		t.Fatalf("GetResources calls for 1,000 projects (-want +got):\n%s", diff)
	}
}

// failingStore fails the region it is told to.
type failingStore struct {
	tfaws.InventoryStore
	failRegion string
}

func (f failingStore) ReplaceInventory(ctx context.Context, region string, items []store.InventoryItem) (time.Time, error) {
	if region == f.failRegion {
		return time.Time{}, fmt.Errorf("disk full")
	}
	return f.InventoryStore.ReplaceInventory(ctx, region, items)
}

func TestAFailedRegionKeepsItsSnapshotAndTheOthersAreStored(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	reg := prometheus.NewRegistry()
	err := newRefresher(t, emu, failingStore{InventoryStore: st, failRegion: "us-east-1"}, 0, reg).Refresh(t.Context())
	if err == nil {
		t.Fatal("want the failure reported")
	}
	for region, want := range map[string]float64{"us-east-1": 1, "us-west-2": 0} {
		if got := metricValue(t, reg, "tenantform_aws_inventory_listing_failures_total", map[string]string{"region": region}); got != want {
			t.Fatalf("failures in %s = %v, want %v", region, got, want)
		}
	}
	inv, err := st.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inv.ListedAt["us-west-2"]; !ok || len(inv.ListedAt) != 1 {
		t.Fatalf("listings %v, want us-west-2 only", inv.ListedAt)
	}
}

func arns(items []store.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ARN)
	}
	return out
}

// Several reconcilers each run a refresher: a region one of them has just
// listed is not listed again by the others.
func TestReplicasShareTheListing(t *testing.T) {
	emu := awstest.New(t)
	st := openStore(t)
	createBucket(t, emu, "alice-demo-0", platformTags("alice", "demo"))
	for range 3 {
		if err := newRefresher(t, emu, st, 0).RefreshDue(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int{"us-east-1": 1, "us-west-2": 1}, emu.TaggingCalls()); diff != "" {
		t.Fatalf("GetResources calls of three replicas (-want +got):\n%s", diff)
	}
}
