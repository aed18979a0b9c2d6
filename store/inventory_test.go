package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tenantform/tenantform/store"
)

func TestReplaceInventoryKeepsFirstSeenAndDropsWhatIsGone(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	bucket := store.InventoryItem{ARN: "arn:aws:s3:::b1", Type: "s3:bucket", Region: "us-east-1",
		Tags: map[string]string{"Project": "chart-app-alice-demo", "ManagedBy": "chart-app-platform"}}
	table := store.InventoryItem{ARN: "arn:aws:dynamodb:us-east-1:1:table/t", Type: "dynamodb:table", Region: "us-east-1",
		Tags: map[string]string{"Project": "chart-app-bob-x", "ManagedBy": "chart-app-platform"}}
	west := store.InventoryItem{ARN: "arn:aws:dynamodb:us-west-2:1:table/w", Type: "dynamodb:table", Region: "us-west-2",
		Tags: map[string]string{"Project": "chart-app-alice-demo", "ManagedBy": "chart-app-platform"}}

	first, err := s.ReplaceInventory(ctx, "us-east-1", []store.InventoryItem{bucket, table})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplaceInventory(ctx, "us-west-2", []store.InventoryItem{west}); err != nil {
		t.Fatal(err)
	}
	bucket.Tags["Environment"] = "production"
	second, err := s.ReplaceInventory(ctx, "us-east-1", []store.InventoryItem{bucket})
	if err != nil {
		t.Fatal(err)
	}
	if !second.After(first) {
		t.Fatalf("second listing at %v, not after the first at %v", second, first)
	}
	inv, err := s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket.FirstSeen, bucket.LastSeen = first, second
	// Sorted by ARN: dynamodb before s3.
	west.FirstSeen, west.LastSeen = inv.Items[0].FirstSeen, inv.Items[0].FirstSeen
	want := []store.InventoryItem{west, bucket}
	if diff := cmp.Diff(want, inv.Items); diff != "" {
		t.Fatalf("inventory (-want +got):\n%s", diff)
	}
	if inv.ListedAt["us-east-1"] != second || inv.ListedAt["us-west-2"].IsZero() {
		t.Fatalf("listed at %v", inv.ListedAt)
	}

	mine, err := s.ProjectInventory(ctx, "chart-app-alice-demo")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{west.ARN, bucket.ARN}, arns(mine.Items)); diff != "" {
		t.Fatalf("project inventory (-want +got):\n%s", diff)
	}

	// An empty listing empties the region.
	if _, err := s.ReplaceInventory(ctx, "us-east-1", nil); err != nil {
		t.Fatal(err)
	}
	inv, err = s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{west.ARN}, arns(inv.Items)); diff != "" {
		t.Fatalf("after an empty listing (-want +got):\n%s", diff)
	}

	if _, err := s.ReplaceInventory(ctx, "us-east-1", []store.InventoryItem{west}); err == nil {
		t.Fatal("an item of another region was accepted")
	}
}

func TestLiveProjects(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i, k := range []store.Key{{UserID: "bob", ProjectID: "x"}, {UserID: "alice", ProjectID: "demo"}} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.LiveProjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.LiveProject{{Key: store.Key{UserID: "alice", ProjectID: "demo"}, CreatedAt: t0.Add(time.Hour)},
		{Key: store.Key{UserID: "bob", ProjectID: "x"}, CreatedAt: t0}}
	if diff := cmp.Diff(want, keys, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
}

func arns(items []store.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ARN)
	}
	return out
}
