package controller

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/tf"
)

// cachingCredentials hands out credentials the way package aws does: one
// session, cached until less validity is left than the caller asks for
// (and at least ten minutes). The session token names the expiry.
type cachingCredentials struct {
	clock   *fakeClock
	session time.Duration

	mu      sync.Mutex
	expires time.Time
	issued  int
}

func (c *cachingCredentials) ForOperation(_ context.Context, _, _ string, validFor time.Duration) (*tf.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if now.Add(max(validFor, 10*time.Minute)).After(c.expires) {
		c.issued++
		c.expires = now.Add(c.session)
	}
	return &tf.Credentials{AccessKeyID: fmt.Sprintf("AKIAFAKE%d", c.issued), SecretAccessKey: "secret",
		SessionToken: c.expires.Format(time.RFC3339Nano)}, nil
}

// advanceWithRenewals moves clock by d a second at a time, letting the
// lease renewals due meanwhile happen, as they do during a long operation.
func advanceWithRenewals(t *testing.T, clock *fakeClock, d time.Duration) {
	for end := clock.Now().Add(d); clock.Now().Before(end); {
		for deadline := time.Now().Add(30 * time.Second); clock.pending() == 0; {
			if time.Now().After(deadline) {
				t.Error("the lease renewal stopped waiting on the clock")
				return
			}
			time.Sleep(time.Millisecond)
		}
		clock.Advance(time.Second)
	}
}

// Credentials across a long pass: a plan that takes nine minutes must not
// leave the apply after it with credentials that expire before the
// apply's deadline. Each operation gets credentials valid for at least
// TF_OPERATION_TIMEOUT from its start.
func TestCredentialsAcrossALongPass(t *testing.T) {
	t.Parallel()
	var creds *cachingCredentials
	h := newHarness(t, func(c *Config) {
		// Cached at the start of the pass with 11 minutes left: more
		// than the ten the cache guarantees.
		creds = &cachingCredentials{clock: nil, session: time.Hour, expires: t0.Add(11 * time.Minute)}
		c.Credentials = creds
	})
	creds.clock = h.clock
	h.fake.planHook = func(ctx context.Context, p tf.Project) error {
		advanceWithRenewals(t, h.clock, 9*time.Minute)
		return nil
	}
	var ops []string
	h.fake.credsHook = func(op string, c *tf.Credentials) {
		expires, err := time.Parse(time.RFC3339Nano, c.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		now := h.clock.Now()
		ops = append(ops, op)
		if left := expires.Sub(now); left < h.c.cfg.OperationTimeout {
			t.Errorf("%s starts %s into the pass with credentials valid for %s, less than its deadline of %s",
				op, now.Sub(t0), left, h.c.cfg.OperationTimeout)
		}
	}
	h.put("omar", "long", oneResource())
	h.reconcileDue()
	if got := h.get("omar", "long").Status.Phase; got != "Ready" {
		t.Fatalf("phase %s, want Ready", got)
	}
	if len(ops) < 3 {
		t.Fatalf("operations %v; want plan, apply and output", ops)
	}
}
