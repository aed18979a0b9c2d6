package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tenantform/tenantform/store"
)

func TestReplacePricesReplacesOnlyThatRegion(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if ok, err := s.RefreshedWithin(ctx, store.RefreshPrices, time.Hour); err != nil || ok {
		t.Fatalf("RefreshedWithin before any refresh = %v, %v; want false", ok, err)
	}
	first := []store.Price{
		{Region: "us-east-1", Dimension: "s3.storage", USD: 0.023, UsageType: "TimedStorage-ByteHrs"},
		{Region: "us-east-1", Dimension: "lambda.requests", USD: 0.0000002, UsageType: "Request"},
	}
	if _, err := s.ReplacePrices(ctx, "us-east-1", first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplacePrices(ctx, "eu-west-1", []store.Price{{Region: "eu-west-1", Dimension: "s3.storage", USD: 0.024, UsageType: "EU-TimedStorage-ByteHrs"}}); err != nil {
		t.Fatal(err)
	}
	// The next us-east-1 answer lacks lambda.requests: it goes, eu-west-1 stays.
	at, err := s.ReplacePrices(ctx, "us-east-1", []store.Price{{Region: "us-east-1", Dimension: "s3.storage", USD: 0.021, UsageType: "TimedStorage-ByteHrs"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Prices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Price{
		{Region: "eu-west-1", Dimension: "s3.storage", USD: 0.024, UsageType: "EU-TimedStorage-ByteHrs"},
		{Region: "us-east-1", Dimension: "s3.storage", USD: 0.021, UsageType: "TimedStorage-ByteHrs", FetchedAt: at},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.Price{}, "FetchedAt")); diff != "" {
		t.Errorf("prices (-want +got):\n%s", diff)
	}
	if !got[1].FetchedAt.Equal(at) {
		t.Errorf("FetchedAt = %v, want the refresh's %v", got[1].FetchedAt, at)
	}
	if ok, err := s.RefreshedWithin(ctx, store.RefreshPrices, time.Hour); err != nil || !ok {
		t.Errorf("RefreshedWithin after a refresh = %v, %v; want true", ok, err)
	}
	if _, err := s.ReplacePrices(ctx, "us-east-1", []store.Price{{Region: "eu-west-1", Dimension: "s3.storage"}}); err == nil {
		t.Error("ReplacePrices accepted a price of another region")
	}
}

func TestActualCostsPerProjectAndUser(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Now()
	for _, k := range []store.Key{{UserID: "alice", ProjectID: "web"}, {UserID: "alice", ProjectID: "db"}, {UserID: "bob", ProjectID: "web"}} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, now); err != nil {
			t.Fatal(err)
		}
	}
	// Before Cost Explorer was asked this month, the figure is unknown.
	if _, err := s.ActualMonthToDate(ctx, "chart-app-alice-web"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActualMonthToDate before any refresh: err = %v, want ErrNotFound", err)
	}
	if _, err := s.UserActualMonthToDate(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserActualMonthToDate before any refresh: err = %v, want ErrNotFound", err)
	}
	lastMonth := now.AddDate(0, -1, -now.Day()+1)
	if err := s.ReplaceActualCosts(ctx, lastMonth, map[string]float64{"chart-app-alice-web": 100}); err != nil {
		t.Fatal(err)
	}
	costs := map[string]float64{"chart-app-alice-web": 1.25, "chart-app-alice-db": 2.5, "chart-app-bob-web": 7, "chart-app-alice-gone": 3}
	if err := s.ReplaceActualCosts(ctx, now, costs); err != nil {
		t.Fatal(err)
	}
	delete(costs, "chart-app-bob-web") // no longer listed: $0 this month
	if err := s.ReplaceActualCosts(ctx, now, costs); err != nil {
		t.Fatal(err)
	}
	month := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		get  func() (store.ActualCost, error)
		want float64
	}{
		{"alice-web", func() (store.ActualCost, error) { return s.ActualMonthToDate(ctx, "chart-app-alice-web") }, 1.25},
		{"bob-web, dropped", func() (store.ActualCost, error) { return s.ActualMonthToDate(ctx, "chart-app-bob-web") }, 0},
		// alice-gone has no project row: it is not alice's current project.
		{"alice", func() (store.ActualCost, error) { return s.UserActualMonthToDate(ctx, "alice") }, 3.75},
		{"bob", func() (store.ActualCost, error) { return s.UserActualMonthToDate(ctx, "bob") }, 0},
		{"carol, no projects", func() (store.ActualCost, error) { return s.UserActualMonthToDate(ctx, "carol") }, 0},
	} {
		got, err := tt.get()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.USD != tt.want || !got.Month.Equal(month) || got.UpdatedAt.IsZero() {
			t.Errorf("%s: got %+v, want %v USD for month %v with an update time", tt.name, got, tt.want, month)
		}
	}
}
