package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/api/client"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf/policy"
)

// TestSpeculativePlanCalls: PlanSpeculative queues, WaitSpeculativePlan
// follows the plan until the worker (here, the store calls a reconciler
// makes) records it, and gives up with ctx while nobody plans it; the
// API's refusals are *Error values.
func TestSpeculativePlanCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, storetest.NewDatabase(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{JWTSecret: []byte(secret), DefaultRegion: "us-east-1",
		Policy: policy.DefaultRules()}, st))
	defer srv.Close()
	token, err := api.SignToken([]byte(secret), "alice", false, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}

	sp, err := c.PlanSpeculative(ctx, "alice", "preview", client.Spec{Files: map[string]string{"main.tf": `resource "terraform_data" "a" {}`}})
	if err != nil || sp.Outcome != "queued" || sp.Kind != "speculative" || sp.RunID != 0 || sp.Done() {
		t.Fatalf("PlanSpeculative: %+v %v", sp, err)
	}
	// Nobody plans it: the wait ends with its context.
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = c.WaitSpeculativePlan(short, "alice", "preview", sp.ID, 20*time.Millisecond, nil)
	stop()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait nobody answers: %v", err)
	}

	var outcomes []string
	waited := make(chan error, 1)
	var got client.SpeculativePlan
	go func() {
		var err error
		got, err = c.WaitSpeculativePlan(ctx, "alice", "preview", sp.ID, 10*time.Millisecond,
			func(p client.SpeculativePlan) { outcomes = append(outcomes, p.Outcome) })
		waited <- err
	}()
	claimed, ok, err := st.ClaimSpeculativePlan(ctx, store.Claim{Owner: "w", LeaseFor: time.Minute}, "rec")
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := st.FinishSpeculativePlan(ctx, claimed.RowID, claimed.LeaseToken, store.RunResult{Outcome: store.OutcomeSucceeded},
		&store.SpeculativeFindings{Changes: []store.SpeculativeChange{{Address: "terraform_data.a", Type: "terraform_data", Action: "create"}},
			Admission: store.Verdict{Verdict: store.VerdictAdmitted, Message: "would be admitted"},
			Policy:    store.Verdict{Verdict: store.VerdictPassed, Message: "passes"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if !got.Done() || !got.Passes() || len(got.Changes) != 1 || got.Changes[0].Action != "create" {
		t.Errorf("the finished plan: %+v", got)
	}
	if len(outcomes) == 0 || outcomes[len(outcomes)-1] != "succeeded" {
		t.Errorf("progress saw %v", outcomes)
	}

	// A plan of another project is not found; a bad spec is a 422.
	var ae *client.Error
	if _, err := c.GetSpeculativePlan(ctx, "alice", "other", sp.ID); !client.IsNotFound(err) {
		t.Errorf("another project's plan: %v", err)
	}
	if _, err := c.PlanSpeculative(ctx, "alice", "x", client.Spec{}); !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
		t.Errorf("a spec without files: %v", err)
	}
}
