package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// OtherSeries is the user and project label under which everything past
// the metrics series cap is summed.
const OtherSeries = "_other"

// MetricsSnapshot is everything the Prometheus state collector exports,
// read by one statement so that a scrape costs one query however many
// tenants there are.
type MetricsSnapshot struct {
	// ProjectsByPhase counts projects per phase; phases without projects
	// are absent (the collector exports them as 0).
	ProjectsByPhase map[Phase]int
	// Projects are the most costly projects, at most the cap, the rest
	// summed into one entry whose user and project are OtherSeries.
	Projects []ProjectFigures
	// Users are the users holding the most resources, capped the same way.
	Users []UserFigures
	// Runs counts the terraform runs finished at or after the runsSince
	// passed to MetricsSnapshot, by operation and outcome.
	Runs []RunCount
	// SettledBefore is the database's now() less RunSettleDelay: runs
	// finished before it are settled (RunCount.Settled) and need not be
	// read again; pass it as the next runsSince.
	SettledBefore time.Time
	// TotalEstimatedMonthlyCostUSD is the sum over every project.
	TotalEstimatedMonthlyCostUSD float64
	// QueueDepth counts projects that are due and that no live lease
	// holds: work waiting for a reconciler.
	QueueDepth int
	// OldestWaitSeconds is how long the longest-waiting of those has been
	// due (0 when none waits): the sign of a reconciler that is not
	// progressing.
	OldestWaitSeconds float64
	// Outbox counts undelivered notifications per channel.
	Outbox []OutboxCount
	// ActualCostsKnown: Cost Explorer was asked this UTC month, so
	// ProjectFigures.ActualMonthToDateUSD are figures, not unknowns.
	ActualCostsKnown bool
}

// OutboxCount is the notification backlog of one channel.
type OutboxCount struct {
	Channel string
	// Pending are not delivered yet; Failing are those of them whose last
	// attempt failed.
	Pending, Failing int
}

// ProjectFigures are one project's exported figures.
type ProjectFigures struct {
	Key
	EstimatedMonthlyCostUSD float64
	// MaxMonthlyCostUSD is the spec's ceiling.
	MaxMonthlyCostUSD float64
	// SecondsToExpiry is negative once expired; for OtherSeries it is the
	// soonest expiry of the projects summed there.
	SecondsToExpiry float64
	// Ready is whether the project is in phase Ready; OtherSeries is ready
	// only when all it sums are.
	Ready bool
	// Phases counts the projects of the entry by phase: one project in
	// its phase, or for OtherSeries those it sums.
	Phases map[Phase]int
	// ActualMonthToDateUSD is what Cost Explorer reported for the
	// project this UTC month (0 when it listed none; see
	// MetricsSnapshot.ActualCostsKnown).
	ActualMonthToDateUSD float64
}

// UserFigures are one user's exported figures.
type UserFigures struct {
	UserID                  string
	Projects                int
	Resources               int
	EstimatedMonthlyCostUSD float64
	// MaxResources is the user's quota: their override, else the default
	// passed to MetricsSnapshot.
	MaxResources int
}

// RunCount counts finished runs of one operation and outcome.
type RunCount struct {
	Operation string
	Outcome   string
	Count     int64
	// Settled is the part of Count finished before SettledBefore.
	Settled int64
}

// RunSettleDelay is how long after a run finished it is counted as
// settled. The margin covers finish times written from a reconciler's own
// clock and transactions that commit late, so that no run is settled
// before it is visible.
const RunSettleDelay = 10 * time.Minute

// metricsSQL computes the whole snapshot in one statement. Rows are tagged
// by kind; $1 is the series cap (at least 1), $2 the default resource quota,
// $3 the finish time from which runs are counted: the run history only
// grows, so a caller keeps the settled counts and reads only recent runs
// (through runs_finished_at), keeping every scrape's cost independent of
// the history's length.
// Past the cap, cap-1 entries keep their own series and the rest share
// OtherSeries, so no family ever has more than cap per-tenant series.
// Ranking by cost (projects) and resources (users) keeps the entries that
// matter most to operators visible.
var metricsSQL = `
WITH p AS (
    SELECT projects.user_id, projects.project_id, phase, resource_count,
           -- Cost Explorer's month-to-date figure, by the Project tag
           -- (projectTagSQL).
           COALESCE(ac.usd, 0)::float8 AS actual,
           estimated_monthly_cost::float8 AS cost,
           COALESCE(max_monthly_cost_usd, 0) AS ceiling,
           EXTRACT(EPOCH FROM expires_at - now())::float8 AS to_expiry,
           -- ClaimDue's condition: due, and no live lease.
           (due_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())) AS waiting,
           -- A project whose holder died waits from its lease's expiry.
           EXTRACT(EPOCH FROM now() - greatest(due_at, COALESCE(lease_expires_at, due_at)))::float8 AS waited
    FROM projects LEFT JOIN project_actual_costs ac
        ON ac.project_tag = ` + projectTagSQL("projects") + `
        AND ac.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
), pr AS (
    SELECT p.*, row_number() OVER (ORDER BY cost DESC, user_id COLLATE "C", project_id COLLATE "C") AS rn, count(*) OVER () AS n FROM p
), u AS (
    SELECT p.user_id, count(*) AS projects, sum(p.resource_count) AS resources, sum(p.cost) AS cost,
           COALESCE(max(q.max_resources), $2) AS quota
    FROM p LEFT JOIN user_quotas q ON q.user_id = p.user_id
    GROUP BY p.user_id
), ur AS (
    SELECT u.*, row_number() OVER (ORDER BY resources DESC, cost DESC, user_id COLLATE "C") AS rn, count(*) OVER () AS n FROM u
)
SELECT 'phase', phase, '', count(*)::float8, 0::float8, 0::float8, 0::float8, 0::float8 FROM p GROUP BY phase
UNION ALL
SELECT 'project', k.u, k.p, sum(cost), sum(ceiling), min(to_expiry), min(ready), sum(actual)
FROM (SELECT CASE WHEN n <= $1 OR rn < $1 THEN user_id ELSE '_other' END AS u,
             CASE WHEN n <= $1 OR rn < $1 THEN project_id ELSE '_other' END AS p,
             cost, ceiling, to_expiry, CASE WHEN phase = 'Ready' THEN 1 ELSE 0 END::float8 AS ready, actual FROM pr) k
GROUP BY k.u, k.p
UNION ALL
SELECT 'project_phase:' || k.phase, k.u, k.p, count(*)::float8, 0, 0, 0, 0
FROM (SELECT CASE WHEN n <= $1 OR rn < $1 THEN user_id ELSE '_other' END AS u,
             CASE WHEN n <= $1 OR rn < $1 THEN project_id ELSE '_other' END AS p, phase FROM pr) k
GROUP BY k.u, k.p, k.phase
UNION ALL
SELECT 'user', k.u, '', sum(projects), sum(resources), sum(cost), sum(quota), 0
FROM (SELECT CASE WHEN n <= $1 OR rn < $1 THEN user_id ELSE '_other' END AS u,
             projects, resources, cost, quota FROM ur) k
GROUP BY k.u
UNION ALL
SELECT 'run', operation, outcome, count(*),
       count(*) FILTER (WHERE finished_at < now() - $4 * interval '1 microsecond'), 0, 0, 0
FROM runs WHERE finished_at >= $3 GROUP BY operation, outcome
UNION ALL
SELECT 'outbox', channel, '', count(*), count(*) FILTER (WHERE attempts > 0), 0, 0, 0
FROM notification_outbox WHERE sent_at IS NULL GROUP BY channel
UNION ALL
SELECT 'total', '', '', COALESCE(sum(cost), 0), count(*) FILTER (WHERE waiting),
       COALESCE(max(waited) FILTER (WHERE waiting), 0),
       -- microseconds since the epoch: exact in a float8
       (EXTRACT(EPOCH FROM date_trunc('microseconds', now() - $4 * interval '1 microsecond')) * 1000000)::float8,
       -- 1 when Cost Explorer was asked this UTC month ($5: its refresh kind)
       (SELECT count(*) FROM billing_refreshes WHERE kind = $5
           AND refreshed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::float8 FROM p`

// MetricsSnapshot reads the figures of the state metrics, at most
// maxSeries entries per user and per project (see metricsSQL), with
// defaultMaxResources as the quota of users without an override, and the
// runs finished since runsSince (the zero time: all).
func (s *Store) MetricsSnapshot(ctx context.Context, maxSeries, defaultMaxResources int, runsSince time.Time) (MetricsSnapshot, error) {
	if maxSeries < 1 {
		return MetricsSnapshot{}, fmt.Errorf("metrics series cap must be at least 1, not %d", maxSeries)
	}
	if runsSince.IsZero() {
		runsSince = time.Unix(0, 0)
	}
	rows, err := s.pool.Query(ctx, metricsSQL, maxSeries, defaultMaxResources, micro(runsSince), RunSettleDelay.Microseconds(), RefreshActualCosts)
	if err != nil {
		return MetricsSnapshot{}, fmt.Errorf("cannot read the metrics snapshot: %w", translate(err))
	}
	defer rows.Close()
	snap := MetricsSnapshot{ProjectsByPhase: map[Phase]int{}}
	projectPhases := map[Key]map[Phase]int{}
	for rows.Next() {
		var kind, a, b string
		var v1, v2, v3, v4, v5 float64
		if err := rows.Scan(&kind, &a, &b, &v1, &v2, &v3, &v4, &v5); err != nil {
			return MetricsSnapshot{}, fmt.Errorf("cannot read the metrics snapshot: %w", err)
		}
		if phase, ok := strings.CutPrefix(kind, "project_phase:"); ok {
			k := Key{UserID: a, ProjectID: b}
			if projectPhases[k] == nil {
				projectPhases[k] = map[Phase]int{}
			}
			projectPhases[k][Phase(phase)] = int(v1)
			continue
		}
		switch kind {
		case "phase":
			snap.ProjectsByPhase[Phase(a)] = int(v1)
		case "project":
			snap.Projects = append(snap.Projects, ProjectFigures{Key: Key{UserID: a, ProjectID: b},
				EstimatedMonthlyCostUSD: v1, MaxMonthlyCostUSD: v2, SecondsToExpiry: v3, Ready: v4 == 1, ActualMonthToDateUSD: v5})
		case "user":
			snap.Users = append(snap.Users, UserFigures{UserID: a, Projects: int(v1), Resources: int(v2),
				EstimatedMonthlyCostUSD: v3, MaxResources: int(v4)})
		case "run":
			snap.Runs = append(snap.Runs, RunCount{Operation: a, Outcome: b, Count: int64(v1), Settled: int64(v2)})
		case "outbox":
			snap.Outbox = append(snap.Outbox, OutboxCount{Channel: a, Pending: int(v1), Failing: int(v2)})
		case "total":
			snap.TotalEstimatedMonthlyCostUSD, snap.QueueDepth, snap.OldestWaitSeconds = v1, int(v2), v3
			snap.SettledBefore = time.UnixMicro(int64(v4)).UTC()
			snap.ActualCostsKnown = v5 > 0
		}
	}
	if err := rows.Err(); err != nil {
		return MetricsSnapshot{}, fmt.Errorf("cannot read the metrics snapshot: %w", translate(err))
	}
	for i := range snap.Projects {
		snap.Projects[i].Phases = projectPhases[snap.Projects[i].Key]
	}
	return snap, nil
}
