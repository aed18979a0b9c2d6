package store

import (
	"errors"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Behind a transaction-pooling PgBouncer (Heroku's connection pooler, or
// pool_mode = transaction), consecutive transactions of one client
// connection may run on different server connections. What the store
// needs then:
//
//   - no named prepared statements: pgx's default caches them per
//     connection, and the next transaction's server has never seen them.
//     The "cache_describe" mode caches only each statement's parameter
//     and result types, client-side, and sends every execution as one
//     unnamed parse-bind-execute round trip, which a pooler forwards whole.
//     (The "exec" mode would guess parameter types from Go types instead,
//     and sends a []byte meant for a jsonb column as bytea.)
//   - no session state: every advisory lock the store takes is
//     transaction-scoped (pg_advisory_xact_lock), it sets no session
//     variables and creates no temporary tables;
//   - no LISTEN: the reconciler polls instead (controller.Config.PollInterval);
//   - migrations over a direct connection: golang-migrate holds a session
//     advisory lock (pg_advisory_lock) for the migration's duration;
//   - terraform's pg backend over a direct connection, for the same reason
//     (its state locks are session advisory locks).

// ForTransactionPooling returns connString with pgx told to use no named
// prepared statements (default_query_exec_mode=cache_describe), unless the string
// already chooses a mode. URLs and key=value strings are both accepted, as
// by Open.
func ForTransactionPooling(connString string) (string, error) {
	if _, err := pgconn.ParseConfig(connString); err != nil {
		return "", errors.New("not a valid PostgreSQL connection string")
	}
	const param = "default_query_exec_mode"
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", errors.New("not a valid PostgreSQL connection URL")
		}
		q := u.Query()
		if q.Get(param) == "" {
			q.Set(param, "cache_describe")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	if strings.Contains(connString, param+"=") {
		return connString, nil
	}
	return strings.TrimSpace(connString) + " " + param + "=cache_describe", nil
}
