package store

import "github.com/jackc/pgx/v5/pgxpool"

// Pool lets the package's external tests inject faults with raw SQL.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
