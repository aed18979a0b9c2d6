package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen delivers the keys announced on NotifyChannel until ctx ends. It
// holds one dedicated connection; when that connection is lost it
// reconnects (with capped backoff) and calls onConnect again — notifications
// sent while disconnected are lost, so onConnect must trigger a rescan.
func (s *Store) Listen(ctx context.Context, onConnect func(), onNotify func(Key), onError func(error)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, onConnect, onNotify)
		if ctx.Err() != nil {
			return
		}
		if onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, onConnect func(), onNotify func(Key)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	onConnect()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if user, project, ok := strings.Cut(n.Payload, "/"); ok {
			onNotify(Key{UserID: user, ProjectID: project})
		}
	}
}
