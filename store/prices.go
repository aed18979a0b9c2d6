package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Billing refresh kinds recorded in billing_refreshes.
const (
	RefreshPrices      = "prices"
	RefreshActualCosts = "actual-costs"
)

// Price is one unit price fetched from the AWS Price List API.
type Price struct {
	Region string `json:"region"`
	// Dimension is package cost's name of the priced unit, such as
	// "dynamodb.rcu-hours".
	Dimension string `json:"dimension"`
	// USD is per single unit.
	USD float64 `json:"usd"`
	// UsageType is the price list's usagetype of the product priced.
	UsageType string `json:"usageType"`
	// FetchedAt is the database time of the refresh that stored it.
	FetchedAt time.Time `json:"fetchedAt"`
}

// ReplacePrices makes prices the fetched prices of region: rows of the
// region that are not in prices are removed, so that a dimension the price
// list stopped answering falls back to the built-in table rather than to a
// stale figure. It also records the refresh of kind RefreshPrices.
func (s *Store) ReplacePrices(ctx context.Context, region string, prices []Price) (time.Time, error) {
	dims := make([]string, len(prices))
	usd := make([]float64, len(prices))
	usage := make([]string, len(prices))
	for i, p := range prices {
		if p.Region != region {
			return time.Time{}, fmt.Errorf("price of %s is for region %q, not %q", p.Dimension, p.Region, region)
		}
		dims[i], usd[i], usage[i] = p.Dimension, p.USD, p.UsageType
	}
	var at time.Time
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM aws_prices WHERE region = $1 AND NOT (dimension = ANY($2::text[]))`, region, dims); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO aws_prices (region, dimension, usd, usage_type, fetched_at)
			SELECT $1, d, u, t, now() FROM unnest($2::text[], $3::float8[], $4::text[]) AS x(d, u, t)
			ON CONFLICT (region, dimension) DO UPDATE SET
				usd = excluded.usd, usage_type = excluded.usage_type, fetched_at = excluded.fetched_at`,
			region, dims, usd, usage); err != nil {
			return err
		}
		return markRefreshed(ctx, tx, RefreshPrices, &at)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot store the prices of %s: %w", region, translate(err))
	}
	return at, nil
}

// Prices returns every stored price, by region and dimension.
func (s *Store) Prices(ctx context.Context) ([]Price, error) {
	rows, err := s.pool.Query(ctx, `SELECT region, dimension, usd, usage_type, fetched_at
		FROM aws_prices ORDER BY region, dimension`)
	if err != nil {
		return nil, fmt.Errorf("cannot read the prices: %w", translate(err))
	}
	prices, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Price, error) {
		var p Price
		err := r.Scan(&p.Region, &p.Dimension, &p.USD, &p.UsageType, &p.FetchedAt)
		p.FetchedAt = p.FetchedAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the prices: %w", translate(err))
	}
	return prices, nil
}

// ReplaceActualCosts makes costs (USD by Project tag) the month-to-date
// actual costs of month, the UTC calendar month that holds it: a complete
// Cost Explorer answer for every project, so tags it no longer lists are
// removed for that month. It records the refresh of kind
// RefreshActualCosts.
func (s *Store) ReplaceActualCosts(ctx context.Context, month time.Time, costs map[string]float64) error {
	tags := make([]string, 0, len(costs))
	usd := make([]float64, 0, len(costs))
	for tag, v := range costs {
		tags, usd = append(tags, tag), append(usd, v)
	}
	first := monthStart(month)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM project_actual_costs WHERE month = $1 AND NOT (project_tag = ANY($2::text[]))`, first, tags); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO project_actual_costs (project_tag, month, usd, updated_at)
			SELECT t, $1, u, now() FROM unnest($2::text[], $3::float8[]) AS x(t, u)
			ON CONFLICT (project_tag, month) DO UPDATE SET usd = excluded.usd, updated_at = excluded.updated_at`,
			first, tags, usd); err != nil {
			return err
		}
		var at time.Time
		return markRefreshed(ctx, tx, RefreshActualCosts, &at)
	})
	if err != nil {
		return fmt.Errorf("cannot store the actual costs of %s: %w", first.Format("2006-01"), translate(err))
	}
	return nil
}

// ActualCost is a month-to-date actual cost from Cost Explorer.
type ActualCost struct {
	USD float64 `json:"usd"`
	// Month is the first day of the UTC month the figure is for.
	Month time.Time `json:"month"`
	// UpdatedAt is when Cost Explorer was last asked.
	UpdatedAt time.Time `json:"updatedAt"`
}

// ActualMonthToDate returns the month-to-date actual cost of the project
// whose Project tag is projectTag (chart-app-{userId}-{projectId}), for the
// database's current UTC month. A project Cost Explorer did not list costs
// $0 so far (it lists only tags with costs). ErrNotFound means Cost
// Explorer has not been asked this month: the figure is unknown.
func (s *Store) ActualMonthToDate(ctx context.Context, projectTag string) (ActualCost, error) {
	return s.actualCost(ctx, projectActualCostSum, projectTag)
}

// UserActualMonthToDate sums the month-to-date actual costs of the user's
// current projects, as ActualMonthToDate does for one.
//
// The join spells the Project tag with projectTagSQL.
func (s *Store) UserActualMonthToDate(ctx context.Context, userID string) (ActualCost, error) {
	return s.actualCost(ctx, `SELECT coalesce(sum(c.usd), 0)
		FROM projects p JOIN project_actual_costs c
			ON c.project_tag = `+projectTagSQL("p")+`
			AND c.month = (SELECT month FROM current_month)
		WHERE p.user_id = $1`, userID)
}

// actualCost runs sumQuery, which sums USD for the current month (the CTE
// current_month), and adds the month and the time Cost Explorer was last
// asked this month.
func (s *Store) actualCost(ctx context.Context, sumQuery, arg string) (ActualCost, error) {
	q, args := actualCostQuery(sumQuery, arg)
	return scanActualCost(s.pool.QueryRow(ctx, q, args...))
}

// actualCostQuery is actualCost's statement, for a batch too.
func actualCostQuery(sumQuery, arg string) (string, []any) {
	return `
		WITH current_month AS (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AS start,
			date_trunc('month', now() AT TIME ZONE 'UTC')::date AS month)
		SELECT (` + sumQuery + `), (SELECT month FROM current_month),
			(SELECT refreshed_at FROM billing_refreshes WHERE kind = $2
				AND refreshed_at >= (SELECT start AT TIME ZONE 'UTC' FROM current_month))`,
		[]any{arg, RefreshActualCosts}
}

// projectActualCostSum is ActualMonthToDate's sum.
const projectActualCostSum = `SELECT coalesce(sum(usd), 0) FROM project_actual_costs
		WHERE project_tag = $1 AND month = (SELECT month FROM current_month)`

func scanActualCost(row pgx.Row) (ActualCost, error) {
	var c ActualCost
	var updated *time.Time
	if err := row.Scan(&c.USD, &c.Month, &updated); err != nil {
		return ActualCost{}, fmt.Errorf("cannot read the actual cost: %w", translate(err))
	}
	if updated == nil {
		return ActualCost{}, ErrNotFound
	}
	c.UpdatedAt = updated.UTC()
	return c, nil
}

// RefreshedWithin reports whether the billing refresh kind succeeded less
// than within ago, by the database's clock.
func (s *Store) RefreshedWithin(ctx context.Context, kind string, within time.Duration) (bool, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT refreshed_at FROM billing_refreshes
		WHERE kind = $1 AND refreshed_at > now() - make_interval(secs => $2)`, kind, within.Seconds()).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(err)
	}
	return true, nil
}

func markRefreshed(ctx context.Context, tx pgx.Tx, kind string, at *time.Time) error {
	err := tx.QueryRow(ctx, `
		INSERT INTO billing_refreshes (kind, refreshed_at) VALUES ($1, now())
		ON CONFLICT (kind) DO UPDATE SET refreshed_at = excluded.refreshed_at
		RETURNING refreshed_at`, kind).Scan(at)
	*at = at.UTC()
	return err
}

// monthStart is the first day of t's UTC month.
func monthStart(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// projectTagSQL is the SQL of the Project tag of the projects row alias:
// chart-app-{userId}-{projectId}, as tf.ProjectTag spells it (the store
// does not import tf; the API's quota test holds the two together). Every
// query joining Cost Explorer's figures to projects uses it.
func projectTagSQL(alias string) string {
	return `'chart-app-' || ` + alias + `.user_id || '-' || ` + alias + `.project_id`
}
