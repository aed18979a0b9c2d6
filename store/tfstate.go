package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// NoStateTableError: the backend's states table is not in this database.
// It is never read as "no state": terraform's pg backend writes elsewhere
// (TF_STATE_DATABASE_URL naming another database) or the start-up check
// (CheckStateDatabase) did not run, and treating it as an empty state
// would make every deletion skip its destroy and leak everything.
type NoStateTableError struct{ Table string }

func (e *NoStateTableError) Error() string {
	return fmt.Sprintf("terraform's state table %s does not exist in tenantform's database (DATABASE_URL): "+
		"terraform's pg backend keeps its state elsewhere (does TF_STATE_DATABASE_URL name another database?); "+
		"refusing to read that as \"no state\"", e.Table)
}

// noStateTable translates a missing backend table (42P01) into a
// *NoStateTableError.
func noStateTable(err error, schema string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return &NoStateTableError{Table: pgx.Identifier{schema, "states"}.Sanitize()}
	}
	return err
}

// CheckStateDatabase makes sure that tenantform reads terraform's state
// where terraform writes it: stateConnString (the pg backend's
// connection, TF_STATE_DATABASE_URL) must reach the database this store
// is connected to. A reconciler calls it at start and refuses to start
// on an error.
//
// The proof is a transaction-scoped advisory lock: advisory locks live in
// one database of one server, so a random key locked here cannot be taken
// through stateConnString exactly when both reach the same database (the
// schema is named, so then they also reach the same table).
//
// It also creates the backend's schema and table through stateConnString
// when terraform has not yet (a new deployment), with the statements
// terraform's pg backend runs at init (IF NOT EXISTS, so either may come
// first): from then on a missing table is an error (NoStateTableError),
// never "no state". Last, it reads the table through this store, so a role
// that cannot read it is found now, not at the first deletion.
func (s *Store) CheckStateDatabase(ctx context.Context, stateConnString, schema string) error {
	conn, err := pgx.Connect(ctx, stateConnString)
	if err != nil {
		return fmt.Errorf("cannot connect to terraform's state database (TF_STATE_DATABASE_URL): %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	key := int64(binary.BigEndian.Uint64(b[:]))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing was written
	var mainDB string
	if err := tx.QueryRow(ctx, `SELECT current_database() FROM (SELECT pg_advisory_xact_lock($1)) l`, key).Scan(&mainDB); err != nil {
		return fmt.Errorf("cannot check where terraform's state is: %w", translate(err))
	}
	var stateDB string
	var free bool
	if err := conn.QueryRow(ctx, `SELECT current_database(), pg_try_advisory_xact_lock($1)`, key).Scan(&stateDB, &free); err != nil {
		return fmt.Errorf("cannot check where terraform's state is: %w", err)
	}
	if free {
		return fmt.Errorf("TF_STATE_DATABASE_URL reaches another database (%q, or the same name on another server) than DATABASE_URL (%q): "+
			"tenantform reads terraform's state through DATABASE_URL, so both must reach the same database (give TF_STATE_DATABASE_URL "+
			"another role, not another database)", stateDB, mainDB)
	}
	if err := tx.Rollback(ctx); err != nil {
		return translate(err)
	}

	if err := createStateTable(ctx, conn, schema); err != nil {
		return fmt.Errorf("cannot create terraform's state table through TF_STATE_DATABASE_URL: %w", err)
	}
	table := pgx.Identifier{schema, "states"}.Sanitize()
	if _, err := s.pool.Exec(ctx, `SELECT 1 FROM `+table+` LIMIT 1`); err != nil {
		return fmt.Errorf("cannot read terraform's state table %s through DATABASE_URL: %w", table, noStateTable(translate(err), schema))
	}
	return nil
}

// createStateTable runs what terraform's pg backend (1.11) runs at init
// to create its schema and table, when they are missing.
func createStateTable(ctx context.Context, conn *pgx.Conn, schema string) error {
	var schemas int
	if err := conn.QueryRow(ctx, `SELECT count(1) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&schemas); err != nil {
		return err
	}
	if schemas < 1 {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, `CREATE SEQUENCE IF NOT EXISTS public.global_states_id_seq AS bigint`); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{schema, "states"}.Sanitize()+` (
		id bigint NOT NULL DEFAULT nextval('public.global_states_id_seq') PRIMARY KEY,
		name text UNIQUE,
		data text
	)`)
	return err
}
