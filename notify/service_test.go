package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantform/tenantform/notify"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is the injected clock; tests move it instead of sleeping. When
// rounds is set, After announces each wait on it and fires when the test
// sends on tick.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	rounds chan time.Duration
	tick   chan time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
func (c *clock) After(d time.Duration) <-chan time.Time {
	if c.rounds == nil {
		return make(chan time.Time)
	}
	c.rounds <- d
	return c.tick
}

const secret = "webhook-secret-for-tests"

// receiver is a webhook endpoint that verifies every signature and counts
// accepted deliveries per event id. Its first request fails with 500, so
// the retry path is part of every run.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	requests int
	accepted map[string]int
	events   map[string]notify.Event
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get(notify.HeaderTimestamp)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(notify.HeaderSignature))) {
		rc.t.Errorf("bad signature %q on %s", r.Header.Get(notify.HeaderSignature), body)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e notify.Event
	if err := json.Unmarshal(body, &e); err != nil {
		rc.t.Errorf("body is not an event: %v: %s", err, body)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.requests == 1 {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	if r.Header.Get(notify.HeaderEventID) != e.ID || r.Header.Get(notify.HeaderEvent) != e.Kind {
		rc.t.Errorf("headers %v do not match event %s", r.Header, e.ID)
	}
	rc.accepted[e.ID]++
	rc.events[e.ID] = e
}

func (rc *receiver) snapshot() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.accepted {
		out[k] = v
	}
	return out
}

// mailbox is a local SMTP server (emersion/go-smtp) that keeps every
// message it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []mailMsg
}

type mailMsg struct {
	from string
	to   []string
	data string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct {
	box *mailbox
	msg mailMsg
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.msg)
	s.box.mu.Unlock()
	s.msg = mailMsg{}
	return nil
}
func (s *mailSession) Reset()        { s.msg = mailMsg{} }
func (s *mailSession) Logout() error { return nil }

func startSMTP(t *testing.T) (*mailbox, string) {
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, "smtp://" + ln.Addr().String() + "?from=tenantform@example.com"
}

// seed creates one project row per event kind, relative to the test clock.
func seed(t *testing.T) (*store.Store, *clock, string) {
	ctx := context.Background()
	url := storetest.NewMigratedDatabase(t, store.MigrateURL)
	st, err := store.Open(ctx, url, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Exec(ctx, `INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at,
		phase, resource_count, estimated_monthly_cost, attempts, next_attempt_at, deletion_requested_at, last_error) VALUES
		('alice', 'big',  '{}', $1::timestamptz, $1, $1 + interval '1 day',  $1, 'Ready',      10, 900, 0, NULL, NULL, ''),
		('bob',   'soon', '{}', $1::timestamptz, $1, $1 + interval '5 min',  $1, 'Ready',       1,   1, 0, NULL, NULL, ''),
		('carol', 'bad',  '{}', $1::timestamptz, $1, $1 + interval '1 day',  $1, 'Retrying',    0,   0, 3, $1 + interval '10 min', NULL, 'Error: boom'),
		('dan',   'gone', '{}', $1::timestamptz, $1, $1 + interval '1 day',  $1, 'Destroying',  2,   0, 4, $1 + interval '10 min', $1 - interval '1 hour', 'Error: cannot delete')`, t0)
	if err != nil {
		t.Fatal(err)
	}
	return st, &clock{now: t0}, url
}

func TestEachEventDeliveredOnceAcrossRestartsAndReplicas(t *testing.T) {
	st, clk, _ := seed(t)
	rc := &receiver{t: t, accepted: map[string]int{}, events: map[string]notify.Event{}}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	box, smtpURL := startSMTP(t)
	cfg := notify.Config{
		WebhookURL: hook.URL + "/hooks/secret-path", WebhookSecret: secret,
		Email: "ops@example.com", SMTPURL: smtpURL,
		BudgetUSD: 1000, DefaultMaxResources: 10, ExpiryWarning: 15 * time.Minute,
		RetryBackoff: func(int) time.Duration { return 0 },
		Clock:        clk,
	}
	newService := func() *notify.Service {
		s, err := notify.New(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()

	// The first process derives the events and dies before delivering.
	n, err := newService().Scan(ctx)
	if err != nil || n != 10 {
		t.Fatalf("first scan queued %d (%v), want 5 events × 2 channels", n, err)
	}

	// Two replicas start: both derive the same events (nothing new) and
	// deliver concurrently, a few rounds each (the receiver's first answer
	// is a 500, retried).
	var wg sync.WaitGroup
	for range 2 {
		s := newService()
		wg.Go(func() {
			if n, err := s.Scan(ctx); err != nil || n != 0 {
				t.Errorf("replica scan queued %d (%v), want 0", n, err)
			}
			for range 3 {
				if _, err := s.Deliver(ctx); err != nil {
					t.Errorf("deliver: %v", err)
				}
			}
		})
	}
	wg.Wait()

	wantIDs := []string{"budget/80/2030-03", "quota/alice/2030-03-04", "failed/", "destroy/", "expiring/"}
	got := rc.snapshot()
	if len(got) != 5 {
		t.Fatalf("webhook got %d distinct events, want 5: %v", len(got), got)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
	for _, prefix := range wantIDs {
		found := false
		for id := range got {
			found = found || strings.HasPrefix(id, prefix)
		}
		if !found {
			t.Errorf("no event %s… in %v", prefix, got)
		}
	}
	for id, e := range rc.events {
		if e.Kind == notify.KindProjectExpiring {
			ext := e.Details["extend"].(map[string]any)
			if ext["path"] != "/api/v1/users/bob/projects/soon/extend" || e.Details["secondsLeft"] != float64(300) {
				t.Errorf("expiring event %s: %v", id, e.Details)
			}
		}
	}

	box.mu.Lock()
	mails := append([]mailMsg(nil), box.msgs...)
	box.mu.Unlock()
	if len(mails) != 5 {
		t.Fatalf("SMTP received %d mails, want 5", len(mails))
	}
	mailed := map[string]int{}
	for _, m := range mails {
		if len(m.to) != 1 || m.to[0] != "ops@example.com" || m.from != "tenantform@example.com" {
			t.Errorf("mail from %s to %v", m.from, m.to)
		}
		parsed, err := mail.ReadMessage(strings.NewReader(m.data))
		if err != nil {
			t.Fatalf("unreadable mail: %v\n%s", err, m.data)
		}
		mailed[parsed.Header.Get("X-Tenantform-Event-Id")]++
		if !strings.HasPrefix(parsed.Header.Get("Subject"), "[tenantform] ") {
			t.Errorf("mail without the subject: %s", m.data)
		}
	}
	for id := range got {
		if mailed[id] != 1 {
			t.Errorf("event %s mailed %d times", id, mailed[id])
		}
	}

	// Another restart finds nothing new and sends nothing again.
	s := newService()
	if n, err := s.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan after delivery queued %d (%v)", n, err)
	}
	if sent, err := s.Deliver(ctx); err != nil || sent != 0 {
		t.Fatalf("deliver after delivery sent %d (%v)", sent, err)
	}

	// A day later alice is still at her quota: a new period, one reminder
	// per channel. Budget (same month), failure (same generation) and the
	// destroy (same request) stay quiet.
	clk.Add(24 * time.Hour)
	if n, err := s.Scan(ctx); err != nil || n != 2 {
		t.Fatalf("next day's scan queued %d (%v), want the quota reminder on 2 channels", n, err)
	}
	if sent, err := s.Deliver(ctx); err != nil || sent != 2 {
		t.Fatalf("next day's delivery sent %d (%v), want 2", sent, err)
	}
	if rc.snapshot()["quota/alice/2030-03-05"] != 1 {
		t.Errorf("no next-day quota reminder: %v", rc.snapshot())
	}
}

func TestRunScansAndDeliversEachInterval(t *testing.T) {
	st, clk, _ := seed(t)
	clk.rounds, clk.tick = make(chan time.Duration), make(chan time.Time)
	rc := &receiver{t: t, accepted: map[string]int{}, events: map[string]notify.Event{}}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	s, err := notify.New(notify.Config{WebhookURL: hook.URL, WebhookSecret: secret, BudgetUSD: 1000,
		RetryBackoff: func(int) time.Duration { return 0 }, ScanInterval: 2 * time.Minute, Clock: clk}, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Round 1: the receiver's first answer is a 500, so the webhook
	// channel stops there; round 2 retries and delivers the rest.
	for round := 1; round <= 2; round++ {
		if d := <-clk.rounds; d != 2*time.Minute {
			t.Fatalf("round %d waits %s, want the scan interval", round, d)
		}
		if round == 1 {
			if n := len(rc.snapshot()); n != 0 {
				t.Fatalf("round 1 delivered %d despite the 500", n)
			}
			clk.tick <- clk.Now()
		}
	}
	if n := len(rc.snapshot()); n != 5 {
		t.Errorf("after two rounds the webhook has %d events, want 5: %v", n, rc.snapshot())
	}
	// Sent notifications are pruned only after 90 days.
	if n, err := st.DeleteSentNotifications(context.Background(), time.Hour); err != nil || n != 0 {
		t.Errorf("pruned %d (%v) of today's notifications", n, err)
	}
	if n, err := st.DeleteSentNotifications(context.Background(), 0); err != nil || n != 5 {
		t.Errorf("pruned %d (%v) notifications sent before now, want the 5 sent", n, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestWebhookErrorsDoNotRevealTheURL(t *testing.T) {
	st, clk, url := seed(t)
	// A port that refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := notify.New(notify.Config{WebhookURL: "http://" + addr + "/services/T000/B000/XXXXSECRET", WebhookSecret: secret,
		BudgetUSD: 1000, Clock: clk}, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if sent, err := s.Deliver(ctx); err != nil || sent != 0 {
		t.Fatalf("sent %d (%v) to a closed port", sent, err)
	}
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var attempts int
	var lastError string
	if err := raw.QueryRow(ctx, `SELECT attempts, last_error FROM notification_outbox WHERE channel = 'webhook' AND attempts > 0`).
		Scan(&attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || !strings.Contains(lastError, "connection refused") || strings.Contains(lastError, "SECRET") || strings.Contains(lastError, "/services/") {
		t.Errorf("attempts %d, recorded error %q: want one refused attempt, without the URL's path", attempts, lastError)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  notify.Config
		want string
	}{
		{notify.Config{WebhookURL: "https://x.example/h"}, "ALERT_WEBHOOK_SECRET is required"},
		{notify.Config{SMTPURL: "smtp://mail.example"}, "ALERT_EMAIL is not"},
		{notify.Config{SMTPURL: "http://user:hunter2@mail.example", Email: "a@b.c"}, "SMTP_URL is not"},
		{notify.Config{SMTPURL: "smtp://mail.example?from=nope", Email: "a@b.c"}, "from= is not"},
		{notify.Config{WebhookURL: "https://x.example/h", WebhookSecret: "s", SMTPURL: "smtps://u:p@mail.example", Email: "a@b.c"}, ""},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the SMTP password: %v", err)
		}
	}
}

func TestFactsLeaveOutWhatIsNotNews(t *testing.T) {
	st, _, url := seed(t)
	ctx := context.Background()
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(ctx, `INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at,
		phase, resource_count, attempts, next_attempt_at, deletion_requested_at) VALUES
		('erin',  'retrying', '{}', $1::timestamptz, $1, $1 + interval '1 day', $1, 'Retrying',   0, 1, $1 + interval '1 min', NULL),
		('erin',  'expired',  '{}', $1, $1, $1 - interval '1 min', $1, 'Ready',      0, 0, NULL, NULL),
		('erin',  'leaving',  '{}', $1, $1, $1 + interval '5 min', $1, 'Destroying', 0, 0, NULL, $1),
		('frank', 'zero',     '{}', $1, $1, $1 + interval '1 day', $1, 'Blocked',    0, 0, NULL, NULL),
		('gina',  'refused',  '{}', $1, $1, $1 + interval '1 day', $1, 'Failed',     0, 0, NULL, NULL)`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(ctx, `INSERT INTO user_quotas (user_id, max_resources, updated_at) VALUES ('frank', 0, now())`); err != nil {
		t.Fatal(err)
	}
	f, err := st.NotificationFacts(ctx, t0, 10, 15*time.Minute, 3)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(ps []store.ProjectFact) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Key.String())
		}
		return out
	}
	var users []string
	for _, u := range f.UsersAtQuota {
		users = append(users, u.UserID)
	}
	for what, c := range map[string]struct{ got, want []string }{
		"at quota":       {users, []string{"alice"}},
		"expiring":       {keys(f.Expiring), []string{"bob/soon"}},
		"failed":         {keys(f.Failed), []string{"carol/bad", "gina/refused"}},
		"stuck destroys": {keys(f.StuckDestroys), []string{"dan/gone"}},
	} {
		if strings.Join(c.got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %v, want %v", what, c.got, c.want)
		}
	}
	if f.TotalEstimatedMonthlyCostUSD != 901 {
		t.Errorf("total cost %v, want 901", f.TotalEstimatedMonthlyCostUSD)
	}
}
