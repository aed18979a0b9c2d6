package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool lets the package's external tests inject faults with raw SQL.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// PickUsersRowsTouched runs the first step of ClaimDue under EXPLAIN
// ANALYZE and returns how many rows its plan nodes produced or filtered
// away in all: the work of a claim, independent of timing.
func (s *Store) PickUsersRowsTouched(ctx context.Context, c Claim) (int64, error) {
	return s.explainPickUsers(ctx, c)
}
