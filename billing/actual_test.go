package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/billing"
	"github.com/tenantform/tenantform/tf"
)

func newActualService(t *testing.T, fake *awstest.Billing, st billing.Store, clock *fakeClock) *billing.Service {
	t.Helper()
	svc, err := billing.New(billing.Config{Base: fake.Config("eu-west-1"), Regions: []string{"eu-west-1"}, Store: st,
		PricesInterval: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestActualCostsOneCallForAllProjectsAcrossPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	fake.SetCostPageSize(100)
	const projects = 250
	for i := range projects {
		fake.SetCost("Project", tf.ProjectTag("u", fmt.Sprintf("p%03d", i)), fmt.Sprintf("%d.25", i))
	}
	fake.SetCost("Project", "", "99") // costs without the tag
	st := openStore(t)
	svc := newActualService(t, fake, st, &fakeClock{now: time.Now()})

	if err := svc.RefreshActualCosts(ctx); err != nil {
		t.Fatal(err)
	}
	// 251 groups at 100 a page: one query, three pages.
	calls := fake.Calls("GetCostAndUsage")
	if len(calls) != 3 {
		t.Fatalf("%d GetCostAndUsage calls for %d projects, want 3 pages of one query", len(calls), projects)
	}
	for i, c := range calls {
		if c.Service != "ce" || c.Region != "us-east-1" {
			t.Errorf("call %d signed for %s in %s, want ce in us-east-1", i, c.Service, c.Region)
		}
		var in struct{ NextPageToken string }
		json.Unmarshal(c.Body, &in)
		if want := []string{"", "100", "200"}[i]; in.NextPageToken != want {
			t.Errorf("call %d NextPageToken %q, want %q", i, in.NextPageToken, want)
		}
	}
	for _, i := range []int{0, 99, 100, 249} {
		got, err := st.ActualMonthToDate(ctx, tf.ProjectTag("u", fmt.Sprintf("p%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(i) + 0.25; got.USD != want {
			t.Errorf("project p%03d: %v USD, want %v", i, got.USD, want)
		}
	}
	// Nothing is stored for the untagged costs.
	if got, err := st.ActualMonthToDate(ctx, ""); err != nil || got.USD != 0 {
		t.Errorf("untagged costs stored: %+v, %v", got, err)
	}
}

func TestActualCostRequestAsksForTheMonthSoFar(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	fake.SetCost("Project", "chart-app-alice-web", "1.5")
	st := openStore(t)
	clock := &fakeClock{now: time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("PST", -8*3600))}
	svc := newActualService(t, fake, st, clock)
	if err := svc.RefreshActualCosts(ctx); err != nil {
		t.Fatal(err)
	}
	// 2026-12-01 00:30 PST is 08:30 UTC on the 1st: the period is the 1st
	// to the 2nd (End is exclusive), never an empty one.
	var got map[string]any
	if err := json.Unmarshal(fake.Calls("GetCostAndUsage")[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"TimePeriod":  map[string]any{"Start": "2026-12-01", "End": "2026-12-02"},
		"Granularity": "MONTHLY",
		"Metrics":     []any{"UnblendedCost"},
		"GroupBy":     []any{map[string]any{"Type": "TAG", "Key": "Project"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetCostAndUsage request (-want +got):\n%s", diff)
	}
	start, end := billing.MonthToDate(time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC))
	if start.Format(time.DateOnly) != "2026-11-01" || end.Format(time.DateOnly) != "2026-12-01" {
		t.Errorf("MonthToDate on the 30th = %v to %v, want 2026-11-01 to 2026-12-01", start, end)
	}
}

func TestActualCostsRefreshOnTheirIntervalAndKeepTheLastOnFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	fake.SetCost("Project", "chart-app-alice-web", "3.5")
	st := openStore(t)
	clock := &fakeClock{now: time.Now()}
	svc := newActualService(t, fake, st, clock)

	if err := svc.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshDue(ctx); err != nil { // within the interval: no call
		t.Fatal(err)
	}
	if n := len(fake.Calls("GetCostAndUsage")); n != 1 {
		t.Errorf("%d GetCostAndUsage calls from two wake-ups within the interval, want 1", n)
	}
	fake.SetCost("Project", "chart-app-alice-web", "4")
	fake.FailNext("GetCostAndUsage", "DataUnavailableException", "data is not available", http.StatusBadRequest)
	if err := svc.RefreshActualCosts(ctx); err == nil {
		t.Fatal("RefreshActualCosts with Cost Explorer failing returned nil")
	}
	got, err := st.ActualMonthToDate(ctx, "chart-app-alice-web")
	if err != nil || got.USD != 3.5 {
		t.Errorf("after a failed refresh: %+v, %v; want the last figure, 3.5", got, err)
	}
	if err := svc.RefreshActualCosts(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ActualMonthToDate(ctx, "chart-app-alice-web"); got.USD != 4 {
		t.Errorf("after a refresh: %v USD, want 4", got.USD)
	}
}

// TestRunRefreshesAtOnceAndStops: Run's first pass fetches prices and
// actual costs, and Run returns when its context ends.
func TestRunRefreshesAtOnceAndStops(t *testing.T) {
	t.Parallel()
	fake := awstest.NewBilling(t)
	addPriceList(fake)
	fake.SetCost("Project", "chart-app-alice-web", "2")
	st := openStore(t)
	svc := newActualService(t, fake, st, &fakeClock{now: time.Now()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	stored := func() bool {
		_, err := st.ActualMonthToDate(context.Background(), "chart-app-alice-web")
		return err == nil
	}
	for svc.Prices().Len() == 0 || !stored() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh prices and actual costs within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling for work done, not waiting out time
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil on cancellation", err)
	}
	if n := len(fake.Calls("GetCostAndUsage")); n != 1 {
		t.Errorf("Run made %d GetCostAndUsage calls, want 1", n)
	}
}
