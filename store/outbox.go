package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Notification is one outbox row: an event to deliver on one channel.
type Notification struct {
	ID        int64
	Channel   string
	DedupKey  string
	Kind      string
	Payload   json.RawMessage
	Attempts  int
	CreatedAt time.Time
}

// EnqueueNotification records a notification unless one with the same
// channel and dedup key exists; it reports whether it was new. Any number
// of processes may enqueue the same event: exactly one row results.
func (s *Store) EnqueueNotification(ctx context.Context, channel, dedupKey, kind string, payload json.RawMessage) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO notification_outbox (channel, dedup_key, kind, payload)
		VALUES ($1, $2, $3, $4) ON CONFLICT (channel, dedup_key) DO NOTHING`, channel, dedupKey, kind, payload)
	if err != nil {
		return false, fmt.Errorf("cannot enqueue notification %s: %w", dedupKey, translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// DeliverNotification claims the oldest due, unsent notification on one of
// channels and calls send with it while holding the row lock (FOR UPDATE
// SKIP LOCKED: concurrent senders take different rows). On success the row
// is marked sent; on failure its attempts grow and it is due again after
// retryIn(attempts). found is false when nothing was due; sendErr is send's
// error, already recorded. A crash during send rolls the claim back, so the
// notification is retried rather than lost.
func (s *Store) DeliverNotification(ctx context.Context, channels []string,
	send func(context.Context, Notification) error, retryIn func(attempts int) time.Duration) (found bool, sendErr error, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, nil, translate(err)
	}
	defer tx.Rollback(ctx)
	var n Notification
	err = tx.QueryRow(ctx, `SELECT id, channel, dedup_key, kind, payload, attempts, created_at
		FROM notification_outbox
		WHERE sent_at IS NULL AND next_attempt_at <= now() AND channel = ANY($1)
		ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, channels).
		Scan(&n.ID, &n.Channel, &n.DedupKey, &n.Kind, &n.Payload, &n.Attempts, &n.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("cannot claim a notification: %w", translate(err))
	}
	sendErr = send(ctx, n)
	if sendErr == nil {
		_, err = tx.Exec(ctx, `UPDATE notification_outbox SET sent_at = now(), attempts = attempts + 1, last_error = '' WHERE id = $1`, n.ID)
	} else {
		msg := sendErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		_, err = tx.Exec(ctx, `UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = now() + $3 * interval '1 microsecond' WHERE id = $1`,
			n.ID, msg, retryIn(n.Attempts+1).Microseconds())
	}
	if err != nil {
		return true, sendErr, fmt.Errorf("cannot record delivery of notification %d: %w", n.ID, translate(err))
	}
	return true, sendErr, translate(tx.Commit(ctx))
}

// NotificationFacts is what the notification scanner derives events from.
type NotificationFacts struct {
	TotalEstimatedMonthlyCostUSD float64
	// UsersAtQuota hold at least their resource quota (a quota of 0 is a
	// deliberate block, not news).
	UsersAtQuota []UserQuotaFact
	// Expiring projects reach their time to live within the window asked
	// for and are not being deleted.
	Expiring []ProjectFact
	// Failed projects are in phase Failed (a terminal failure), or in
	// Retrying after failing at least the attempts asked for.
	Failed []ProjectFact
	// StuckDestroys are deletions that failed at least that many times.
	StuckDestroys []ProjectFact
}

// UserQuotaFact is a user's resources against their quota.
type UserQuotaFact struct {
	UserID       string
	Resources    int
	MaxResources int
}

// ProjectFact is what a project notification says about it.
type ProjectFact struct {
	Key
	UID                 string
	Generation          int64
	Phase               Phase
	ExpiresAt           time.Time
	DeletionRequestedAt *time.Time
	Attempts            int
	LastError           string
}

// maxFactsPerKind bounds one scan's work; what is left is found by the
// next scan (events already enqueued are skipped by their dedup key).
const maxFactsPerKind = 1000

// NotificationFacts reads the facts at now: defaultMaxResources is the
// quota of users without an override, expiringWithin the reminder window,
// minAttempts how many failures make a deployment or destroy "failed after
// retries".
func (s *Store) NotificationFacts(ctx context.Context, now time.Time, defaultMaxResources int, expiringWithin time.Duration, minAttempts int) (NotificationFacts, error) {
	var f NotificationFacts
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(sum(estimated_monthly_cost), 0)::float8 FROM projects`).
		Scan(&f.TotalEstimatedMonthlyCostUSD); err != nil {
		return f, fmt.Errorf("cannot read the total cost: %w", translate(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT p.user_id, sum(p.resource_count)::int, COALESCE(max(q.max_resources), $1)
		FROM projects p LEFT JOIN user_quotas q ON q.user_id = p.user_id
		GROUP BY p.user_id HAVING sum(p.resource_count) >= COALESCE(max(q.max_resources), $1) AND COALESCE(max(q.max_resources), $1) > 0
		ORDER BY p.user_id LIMIT $2`, defaultMaxResources, maxFactsPerKind)
	if err != nil {
		return f, fmt.Errorf("cannot read users at quota: %w", translate(err))
	}
	f.UsersAtQuota, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserQuotaFact, error) {
		var u UserQuotaFact
		return u, r.Scan(&u.UserID, &u.Resources, &u.MaxResources)
	})
	if err != nil {
		return f, fmt.Errorf("cannot read users at quota: %w", translate(err))
	}
	projectFacts := func(what, where string, args ...any) ([]ProjectFact, error) {
		rows, err := s.pool.Query(ctx, `SELECT user_id, project_id, uid::text, generation, phase, expires_at,
			deletion_requested_at, attempts, last_error FROM projects WHERE `+where, args...)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s projects: %w", what, translate(err))
		}
		ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProjectFact, error) {
			var p ProjectFact
			err := r.Scan(&p.UserID, &p.ProjectID, &p.UID, &p.Generation, &p.Phase, &p.ExpiresAt,
				&p.DeletionRequestedAt, &p.Attempts, &p.LastError)
			return p, err
		})
		if err != nil {
			return nil, fmt.Errorf("cannot read %s projects: %w", what, translate(err))
		}
		return ps, nil
	}
	now = micro(now)
	if f.Expiring, err = projectFacts("expiring", `deletion_requested_at IS NULL AND expires_at > $1 AND expires_at <= $2
		ORDER BY expires_at, user_id, project_id LIMIT $3`, now, now.Add(expiringWithin), maxFactsPerKind); err != nil {
		return f, err
	}
	if f.Failed, err = projectFacts("failed", `phase IN ('Failed', 'Retrying') AND deletion_requested_at IS NULL
		AND (next_attempt_at IS NULL OR attempts >= $1) ORDER BY user_id, project_id LIMIT $2`, minAttempts, maxFactsPerKind); err != nil {
		return f, err
	}
	if f.StuckDestroys, err = projectFacts("stuck destroying", `deletion_requested_at IS NOT NULL AND phase = 'Destroying' AND attempts >= $1
		ORDER BY user_id, project_id LIMIT $2`, minAttempts, maxFactsPerKind); err != nil {
		return f, err
	}
	return f, nil
}

// DeleteSentNotifications removes notifications sent longer than olderThan
// ago (by the database's clock, which stamped them), so the outbox does
// not grow forever. Keep them longer than the longest dedup period (a
// month), or an event would be announced again.
func (s *Store) DeleteSentNotifications(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notification_outbox WHERE sent_at < now() - $1 * interval '1 microsecond'`,
		olderThan.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("cannot prune the notification outbox: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
