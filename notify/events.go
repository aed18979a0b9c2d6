// Package notify tells operators about what needs a person: the cost
// budget crossed, a user at their quota, a project about to expire, a
// deployment that keeps failing, a destroy that cannot finish. It derives
// events from the projects table, records each one once per period in the
// store's outbox (so replicas and restarts neither duplicate nor lose one)
// and delivers them to a signed webhook (ALERT_WEBHOOK_URL) and by e-mail
// (ALERT_EMAIL through SMTP_URL).
package notify

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/tenantform/tenantform/store"
)

// Event kinds.
const (
	KindBudgetCrossed    = "budget_crossed"
	KindQuotaReached     = "quota_reached"
	KindProjectExpiring  = "project_expiring"
	KindDeploymentFailed = "deployment_failed"
	KindDestroyStuck     = "destroy_stuck"
)

// Event is one notification, as the webhook posts it (JSON) and the
// e-mail presents it.
type Event struct {
	// ID names the event and its period; receivers may use it to drop a
	// repeat (after a crash mid-delivery, a notification is sent again
	// rather than lost).
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Time      time.Time      `json:"time"`
	Summary   string         `json:"summary"`
	UserID    string         `json:"userId,omitempty"`
	ProjectID string         `json:"projectId,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// Budget thresholds, as fractions of AWS_COST_BUDGET_LIMIT. Each is
// announced at most once per calendar month (UTC).
var budgetThresholds = []float64{1.0, 0.8}

// extendMinutes is the extension an expiry reminder suggests: another
// hour from the call.
const extendMinutes = 60

// rules are what turns facts into events.
type rules struct {
	BudgetUSD      float64
	MaxErrorLength int
}

// events derives the events the facts call for at now. It is a pure
// function so that each rule is tested cell by cell; the outbox, not this
// function, makes repeats harmless.
func (r rules) events(f store.NotificationFacts, now time.Time) []Event {
	now = now.UTC()
	var out []Event
	if r.BudgetUSD > 0 {
		for _, th := range budgetThresholds {
			if f.TotalEstimatedMonthlyCostUSD >= th*r.BudgetUSD {
				pct := int(math.Round(th * 100))
				out = append(out, Event{
					ID:   fmt.Sprintf("budget/%d/%s", pct, now.Format("2006-01")),
					Kind: KindBudgetCrossed, Time: now,
					Summary: fmt.Sprintf("Estimated monthly cost $%.2f has crossed %d%% of the $%.2f budget",
						f.TotalEstimatedMonthlyCostUSD, pct, r.BudgetUSD),
					Details: map[string]any{"estimatedMonthlyCostUSD": round2(f.TotalEstimatedMonthlyCostUSD),
						"budgetUSD": r.BudgetUSD, "thresholdPercent": pct},
				})
				break // the highest threshold crossed says it all
			}
		}
	}
	for _, u := range f.UsersAtQuota {
		out = append(out, Event{
			ID:   fmt.Sprintf("quota/%s/%s", u.UserID, now.Format("2006-01-02")),
			Kind: KindQuotaReached, Time: now, UserID: u.UserID,
			Summary: fmt.Sprintf("User %s holds %d of their %d resources; new projects will be blocked",
				u.UserID, u.Resources, u.MaxResources),
			Details: map[string]any{"resources": u.Resources, "maxResources": u.MaxResources,
				"raiseQuota": map[string]any{"method": "PUT", "path": "/api/v1/users/" + url.PathEscape(u.UserID) + "/quota"}},
		})
	}
	for _, p := range f.Expiring {
		left := p.ExpiresAt.Sub(now).Round(time.Second)
		path := projectPath(p.Key) + "/extend"
		out = append(out, Event{
			ID:   fmt.Sprintf("expiring/%s/%d", p.UID, p.ExpiresAt.Unix()),
			Kind: KindProjectExpiring, Time: now, UserID: p.UserID, ProjectID: p.ProjectID,
			Summary: fmt.Sprintf("Project %s/%s will be destroyed in %s (at %s) unless extended",
				p.UserID, p.ProjectID, left, p.ExpiresAt.UTC().Format(time.RFC3339)),
			Details: map[string]any{
				"expiresAt": p.ExpiresAt.UTC(), "secondsLeft": int64(left.Seconds()),
				"extend": map[string]any{"method": "POST", "path": path, "body": map[string]int{"ttlMinutes": extendMinutes}},
				"curl":   fmt.Sprintf(`curl -X POST "$API%s" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"ttlMinutes": %d}'`, path, extendMinutes),
			},
		})
	}
	for _, p := range f.Failed {
		out = append(out, Event{
			ID:   fmt.Sprintf("failed/%s/%d", p.UID, p.Generation),
			Kind: KindDeploymentFailed, Time: now, UserID: p.UserID, ProjectID: p.ProjectID,
			Summary: fmt.Sprintf("Project %s/%s failed to deploy generation %d after %d attempts",
				p.UserID, p.ProjectID, p.Generation, p.Attempts),
			Details: map[string]any{"generation": p.Generation, "attempts": p.Attempts,
				"lastError": r.clip(p.LastError), "status": map[string]any{"method": "GET", "path": projectPath(p.Key)}},
		})
	}
	for _, p := range f.StuckDestroys {
		since := ""
		if p.DeletionRequestedAt != nil {
			since = fmt.Sprint(p.DeletionRequestedAt.Unix())
		}
		out = append(out, Event{
			ID:   fmt.Sprintf("destroy/%s/%s", p.UID, since),
			Kind: KindDestroyStuck, Time: now, UserID: p.UserID, ProjectID: p.ProjectID,
			Summary: fmt.Sprintf("Destroying project %s/%s has failed %d times; its AWS resources still exist",
				p.UserID, p.ProjectID, p.Attempts),
			Details: map[string]any{"attempts": p.Attempts, "lastError": r.clip(p.LastError),
				"deletionRequestedAt": p.DeletionRequestedAt},
		})
	}
	return out
}

func projectPath(k store.Key) string {
	return "/api/v1/users/" + url.PathEscape(k.UserID) + "/projects/" + url.PathEscape(k.ProjectID)
}

// clip keeps error texts (terraform output) to a readable size.
func (r rules) clip(s string) string {
	s = strings.TrimSpace(s)
	if r.MaxErrorLength > 0 && len(s) > r.MaxErrorLength {
		return s[:r.MaxErrorLength] + "…"
	}
	return s
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
