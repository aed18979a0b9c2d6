package tf

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// stateConns keeps a few idle connections to the backend's database for
// withStateConn, so that a run does not open one per use: a new project's
// plan, apply and outputs read used three, and each costs a backend
// process and a SCRAM exchange (14–16 ms on this machine's loopback,
// more over TLS to a hosted database). No background goroutine and no
// Close: an idle connection waits in the channel until the next use takes
// it, and one idle for longer than stateConnMaxIdle is closed then
// instead of used. At most stateConnsIdle stay open per engine.
type stateConns struct {
	connStr string
	idle    chan idleStateConn
	now     func() time.Time
}

type idleStateConn struct {
	conn  *pgx.Conn
	since time.Time
}

const (
	stateConnsIdle   = 2
	stateConnMaxIdle = time.Minute
)

func newStateConns(connStr string) *stateConns {
	return &stateConns{connStr: connStr, idle: make(chan idleStateConn, stateConnsIdle), now: time.Now}
}

// get returns an idle connection young enough to use (reused is set), or
// a new one.
func (s *stateConns) get(ctx context.Context) (conn *pgx.Conn, reused bool, err error) {
	for {
		select {
		case ic := <-s.idle:
			if s.now().Sub(ic.since) < stateConnMaxIdle && !ic.conn.IsClosed() {
				return ic.conn, true, nil
			}
			ic.conn.Close(context.WithoutCancel(ctx))
		default:
			conn, err := pgx.Connect(ctx, s.connStr)
			return conn, false, err
		}
	}
}

// put keeps conn for the next use when its last use went well and it is
// idle outside a transaction; otherwise, or when enough are kept, it
// closes it.
func (s *stateConns) put(ctx context.Context, conn *pgx.Conn, useErr error) {
	if useErr == nil && !conn.IsClosed() && conn.PgConn().TxStatus() == 'I' {
		select {
		case s.idle <- idleStateConn{conn: conn, since: s.now()}:
			return
		default:
		}
	}
	conn.Close(context.WithoutCancel(ctx))
}

// withStateConn runs fn on a connection to the backend's database, with
// the quoted name of its states table. fn must be safe to run twice: when
// a kept connection turns out to be dead (the server restarted or ended
// it, the network cut it while idle), fn runs again on a new one.
func (e *Engine) withStateConn(ctx context.Context, fn func(conn *pgx.Conn, states string) error) error {
	states := pgx.Identifier{e.cfg.PGSchema, "states"}.Sanitize()
	conn, reused, err := e.stateConns.get(ctx)
	if err != nil {
		return err
	}
	err = fn(conn, states)
	// pgx closes a connection on an I/O error or a FATAL from the
	// server; a statement's own error (a PgError) leaves it open.
	var pgErr *pgconn.PgError
	dead := conn.IsClosed() || (err != nil && !errors.As(err, &pgErr))
	e.stateConns.put(ctx, conn, err)
	if err == nil || !reused || !dead || ctx.Err() != nil {
		return err
	}
	conn, err = pgx.Connect(ctx, e.cfg.PGConnStr)
	if err != nil {
		return err
	}
	err = fn(conn, states)
	e.stateConns.put(ctx, conn, err)
	return err
}
