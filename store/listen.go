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
	s.listenChannel(ctx, NotifyChannel, onConnect, func(payload string) {
		if user, project, ok := strings.Cut(payload, "/"); ok {
			onNotify(Key{UserID: user, ProjectID: project})
		}
	}, onError)
}

// listenChannel delivers the payloads announced on channel, reconnecting as
// Listen describes.
func (s *Store) listenChannel(ctx context.Context, channel string, onConnect func(), onNotify func(string), onError func(error)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, channel, onConnect, onNotify)
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

func (s *Store) listenOnce(ctx context.Context, channel string, onConnect func(), onNotify func(string)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	onConnect()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		onNotify(n.Payload)
	}
}
