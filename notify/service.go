package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// Store is the slice of *store.Store the service uses.
type Store interface {
	NotificationFacts(ctx context.Context, now time.Time, defaultMaxResources int, expiringWithin time.Duration, minAttempts int) (store.NotificationFacts, error)
	EnqueueNotification(ctx context.Context, channel, dedupKey, kind string, payload json.RawMessage) (bool, error)
	DeliverNotification(ctx context.Context, channels []string, send func(context.Context, store.Notification) error, retryIn func(attempts int) time.Duration) (bool, error, error)
	DeleteSentNotifications(ctx context.Context, olderThan time.Duration) (int64, error)
}

// keepSent is how long delivered notifications stay in the outbox: longer
// than the longest dedup period (a calendar month), so that no event is
// announced twice; past it, a project still failing at the same generation
// is announced again, as a reminder.
const keepSent = 90 * 24 * time.Hour

// Clock is the service's source of time; tests move it instead of sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures notifications. cmd/tenantform builds it from the
// environment; zero fields take the defaults in withDefaults.
type Config struct {
	// WebhookURL receives each event as a signed JSON POST
	// (ALERT_WEBHOOK_URL). A secret: it is never logged.
	WebhookURL string
	// WebhookSecret is the HMAC-SHA256 key of the signature header
	// (ALERT_WEBHOOK_SECRET); required with WebhookURL.
	WebhookSecret string
	// Email receives each event (ALERT_EMAIL) through SMTPURL.
	Email string
	// SMTPURL is the mail server (SMTP_URL): smtp://[user:pass@]host[:587]
	// (STARTTLS when offered, required with credentials) or
	// smtps://[user:pass@]host[:465]; ?from=addr sets the sender (default
	// Email).
	SMTPURL string
	// BudgetUSD is AWS_COST_BUDGET_LIMIT; 0 announces no budget events.
	BudgetUSD float64
	// DefaultMaxResources is MAX_RESOURCES_PER_USER. Default 10.
	DefaultMaxResources int
	// ExpiryWarning is how long before a project's expiry its reminder is
	// sent (ALERT_EXPIRY_WARNING). Default 15m.
	ExpiryWarning time.Duration
	// FailedAfterAttempts is how many failed attempts make a deployment or
	// destroy worth a notification. Default 3.
	FailedAfterAttempts int
	// ScanInterval is how often events are derived and the outbox
	// delivered. Default 1m.
	ScanInterval time.Duration
	// RetryBackoff is how long a failed delivery waits, by attempts made.
	// Default 30 s doubling to 1 h.
	RetryBackoff func(attempts int) time.Duration
	// HTTPClient posts to the webhook. Default: a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// SendTimeout bounds one delivery (a held outbox row). Default 30 s.
	SendTimeout time.Duration
	Clock       Clock
	Logger      *zap.Logger
}

// Enabled reports whether any channel is configured; without one there is
// nothing to run.
func (c Config) Enabled() bool { return c.WebhookURL != "" || (c.Email != "" && c.SMTPURL != "") }

// Validate reports settings that cannot work together, naming them.
func (c Config) Validate() error {
	var errs []error
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		errs = append(errs, errors.New("ALERT_WEBHOOK_SECRET is required with ALERT_WEBHOOK_URL (receivers verify the signature)"))
	}
	if c.SMTPURL != "" {
		if c.Email == "" {
			errs = append(errs, errors.New("SMTP_URL is set but ALERT_EMAIL is not: there is no one to mail"))
		}
		if _, err := parseSMTPURL(c.SMTPURL, c.Email); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.DefaultMaxResources <= 0 {
		c.DefaultMaxResources = 10
	}
	if c.ExpiryWarning <= 0 {
		c.ExpiryWarning = 15 * time.Minute
	}
	if c.FailedAfterAttempts <= 0 {
		c.FailedAfterAttempts = 3
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = time.Minute
	}
	if c.RetryBackoff == nil {
		c.RetryBackoff = defaultBackoff
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func defaultBackoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// sender delivers one event on one channel.
type sender interface {
	send(ctx context.Context, e Event, payload []byte) error
}

// Service derives events and delivers them. Any number of replicas may run
// it against one database.
type Service struct {
	cfg     Config
	st      Store
	rules   rules
	senders map[string]sender
	order   []string
}

// New returns the service, or an error naming the settings that are wrong.
func New(cfg Config, st Store) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, st: st, senders: map[string]sender{},
		rules: rules{BudgetUSD: cfg.BudgetUSD, MaxErrorLength: 2000}}
	if cfg.WebhookURL != "" {
		s.senders[store.ChannelWebhook] = &webhook{url: cfg.WebhookURL, secret: []byte(cfg.WebhookSecret), client: cfg.HTTPClient, now: cfg.Clock.Now}
		s.order = append(s.order, store.ChannelWebhook)
	}
	if cfg.Email != "" && cfg.SMTPURL != "" {
		m, err := parseSMTPURL(cfg.SMTPURL, cfg.Email)
		if err != nil {
			return nil, err
		}
		s.senders[store.ChannelEmail] = m
		s.order = append(s.order, store.ChannelEmail)
	}
	return s, nil
}

// Run scans and delivers every ScanInterval until ctx ends. Failures are
// logged and retried on the next round: notifications must not stop the
// process they run in.
func (s *Service) Run(ctx context.Context) error {
	if len(s.order) == 0 {
		return nil
	}
	s.cfg.Logger.Info("notifications enabled", zap.Strings("channels", s.order), zap.Duration("scan_interval", s.cfg.ScanInterval))
	for {
		if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("cannot derive notifications", zap.Error(err))
		}
		if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("cannot deliver notifications", zap.Error(err))
		}
		if _, err := s.st.DeleteSentNotifications(ctx, keepSent); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("cannot prune sent notifications", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(s.cfg.ScanInterval):
		}
	}
}

// Scan derives the events of now and records each, per channel, in the
// outbox; it returns how many were new.
func (s *Service) Scan(ctx context.Context) (int, error) {
	now := s.cfg.Clock.Now()
	facts, err := s.st.NotificationFacts(ctx, now, s.cfg.DefaultMaxResources, s.cfg.ExpiryWarning, s.cfg.FailedAfterAttempts)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range s.rules.events(facts, now) {
		payload, err := json.Marshal(e)
		if err != nil {
			return n, fmt.Errorf("cannot encode event %s: %w", e.ID, err)
		}
		for _, ch := range s.order {
			isNew, err := s.st.EnqueueNotification(ctx, ch, e.ID, e.Kind, payload)
			if err != nil {
				return n, err
			}
			if isNew {
				n++
				s.cfg.Logger.Info("notification queued", zap.String("id", e.ID), zap.String("channel", ch))
			}
		}
	}
	return n, nil
}

// Deliver sends what is due on each channel, oldest first, and returns how
// many were sent. A channel stops at its first failure: its receiver is
// probably down, and the failed notification waits for its backoff.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	sent := 0
	for _, ch := range s.order {
		snd := s.senders[ch]
		for ctx.Err() == nil {
			found, sendErr, err := s.st.DeliverNotification(ctx, []string{ch}, func(ctx context.Context, n store.Notification) error {
				var e Event
				if err := json.Unmarshal(n.Payload, &e); err != nil {
					return fmt.Errorf("stored notification %d is not an event: %w", n.ID, err)
				}
				sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
				defer cancel()
				return snd.send(sctx, e, n.Payload)
			}, s.cfg.RetryBackoff)
			if err != nil {
				return sent, err
			}
			if !found {
				break
			}
			if sendErr != nil {
				s.cfg.Logger.Warn("notification not delivered; will retry", zap.String("channel", ch), zap.Error(sendErr))
				break
			}
			sent++
		}
	}
	return sent, ctx.Err()
}
