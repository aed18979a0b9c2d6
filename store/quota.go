package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// QuotaOverride replaces the global per-user limits for one user. A nil
// field keeps the global default.
type QuotaOverride struct {
	MaxResources      *int     `json:"maxResources"`
	MaxMonthlyCostUSD *float64 `json:"maxMonthlyCostUSD"`
}

// GetQuotaOverride returns the user's override (zero value when none).
func (s *Store) GetQuotaOverride(ctx context.Context, userID string) (QuotaOverride, error) {
	return scanQuotaOverride(s.pool.QueryRow(ctx, quotaOverrideSQL, userID))
}

const quotaOverrideSQL = `SELECT max_resources, max_monthly_cost_usd::float8 FROM user_quotas WHERE user_id = $1`

// scanQuotaOverride reads quotaOverrideSQL's row: none is no override.
func scanQuotaOverride(row pgx.Row) (QuotaOverride, error) {
	var q QuotaOverride
	err := row.Scan(&q.MaxResources, &q.MaxMonthlyCostUSD)
	if errors.Is(translate(err), ErrNotFound) {
		return QuotaOverride{}, nil
	}
	return q, translate(err)
}

// SetQuotaOverride stores the user's limits and wakes the user's blocked
// projects, which must be re-admitted against the new limits.
func (s *Store) SetQuotaOverride(ctx context.Context, userID string, q QuotaOverride, now time.Time) error {
	now = micro(now)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO user_quotas (user_id, max_resources, max_monthly_cost_usd, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET max_resources = EXCLUDED.max_resources,
			max_monthly_cost_usd = EXCLUDED.max_monthly_cost_usd, updated_at = EXCLUDED.updated_at`,
		userID, q.MaxResources, q.MaxMonthlyCostUSD, now); err != nil {
		return translate(err)
	}
	if err := wakeBlocked(ctx, tx, userID, now); err != nil {
		return err
	}
	return translate(tx.Commit(ctx))
}
