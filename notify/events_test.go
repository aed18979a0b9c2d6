package notify

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/store"
)

var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func TestBudgetEventsOncePerThresholdAndMonth(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		budget float64
		total  float64
		want   []string
	}{
		{"below 80%", 1000, 799.99, nil},
		{"at 80%", 1000, 800, []string{"budget/80/2030-03"}},
		{"between", 1000, 999, []string{"budget/80/2030-03"}},
		{"at 100% only the highest", 1000, 1000, []string{"budget/100/2030-03"}},
		{"far above", 1000, 5000, []string{"budget/100/2030-03"}},
		{"no budget", 0, 5000, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := rules{BudgetUSD: c.budget}.events(store.NotificationFacts{TotalEstimatedMonthlyCostUSD: c.total}, t0)
			var got []string
			for _, e := range evs {
				got = append(got, e.ID)
				if e.Kind != KindBudgetCrossed {
					t.Errorf("kind %s", e.Kind)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestProjectEventsNameTheirPeriodAndTheFix(t *testing.T) {
	t.Parallel()
	deleted := t0.Add(-time.Hour)
	f := store.NotificationFacts{
		UsersAtQuota: []store.UserQuotaFact{{UserID: "alice", Resources: 10, MaxResources: 10}},
		Expiring:     []store.ProjectFact{{Key: store.Key{UserID: "bob", ProjectID: "soon"}, UID: "u-1", ExpiresAt: t0.Add(5 * time.Minute)}},
		Failed: []store.ProjectFact{{Key: store.Key{UserID: "carol", ProjectID: "bad"}, UID: "u-2", Generation: 4, Attempts: 3,
			LastError: strings.Repeat("x", 50)}},
		StuckDestroys: []store.ProjectFact{{Key: store.Key{UserID: "dan", ProjectID: "gone"}, UID: "u-3", Attempts: 5, DeletionRequestedAt: &deleted}},
	}
	evs := rules{MaxErrorLength: 10}.events(f, t0)
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.Kind+" "+e.ID)
	}
	want := []string{
		"quota_reached quota/alice/2030-03-04",
		"project_expiring expiring/u-1/" + itoa(t0.Add(5*time.Minute).Unix()),
		"deployment_failed failed/u-2/4",
		"destroy_stuck destroy/u-3/" + itoa(deleted.Unix()),
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
	exp := evs[1]
	if exp.Details["secondsLeft"] != int64(300) || !strings.Contains(exp.Summary, "5m0s") {
		t.Errorf("expiring event does not say the time left: %s %v", exp.Summary, exp.Details)
	}
	extend := exp.Details["extend"].(map[string]any)
	if extend["path"] != "/api/v1/users/bob/projects/soon/extend" || extend["method"] != "POST" {
		t.Errorf("extend call = %v", extend)
	}
	if !strings.Contains(exp.Details["curl"].(string), "/api/v1/users/bob/projects/soon/extend") {
		t.Errorf("curl = %v", exp.Details["curl"])
	}
	if got := evs[2].Details["lastError"]; got != strings.Repeat("x", 10)+"…" {
		t.Errorf("lastError not clipped: %q", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
