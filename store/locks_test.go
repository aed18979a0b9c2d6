package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// The project lock row outlives the sessions of its holder (a database
// restart or failover ends them all, and terraform's advisory lock with
// them): a new owner gets it only once it has expired.
func TestStateLockOutlivesItsHoldersSessions(t *testing.T) {
	ctx := context.Background()
	url := storetest.NewDatabase(t)
	first, err := store.Open(ctx, url, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := store.Key{UserID: "nina", ProjectID: "db"}
	if _, _, err := first.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	p1, ok := claim(t, first, "r1", t0)
	if !ok {
		t.Fatal("nothing to claim")
	}
	if err := first.AcquireStateLock(ctx, key, p1.LeaseToken, "r1", store.OpApply, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Every session of the first reconciler ends, as in a restart.
	first.Close()

	s, err := store.Open(ctx, url, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	expireLeases(t, s) // its lease was not renewed: a second reconciler claims
	p2, ok := claim(t, s, "r2", t0.Add(time.Minute))
	if !ok {
		t.Fatal("the expired lease was not claimable")
	}
	err = s.AcquireStateLock(ctx, key, p2.LeaseToken, "r2", store.OpApply, time.Minute)
	var locked *store.StateLockedError
	if !errors.As(err, &locked) || locked.Lock.Owner != "r1" || locked.Lock.Operation != store.OpApply {
		t.Fatalf("the second reconciler's lock: %v; want locked by r1's apply", err)
	}
	if _, held, err := s.StateLockHeld(ctx, key, p2.LeaseToken); err != nil || !held {
		t.Fatalf("StateLockHeld: %v %v; want held by another", held, err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE project_locks SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if err := s.AcquireStateLock(ctx, key, p2.LeaseToken, "r2", store.OpDestroy, time.Minute); err != nil {
		t.Fatalf("an expired lock is free: %v", err)
	}
	if err := s.AcquireStateLock(ctx, key, p1.LeaseToken, "r1", store.OpApply, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a lock for a lost lease: %v; want ErrLeaseLost", err)
	}
}

// The finalizer's state drop refuses while it does not hold the lock row,
// while an apply run is open, and while terraform holds its own lock of
// the workspace; it takes the state and the lock row away together.
func TestDropTerraformStateIsFenced(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "nina", ProjectID: "drop"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `CREATE SCHEMA terraform_remote_state;
		CREATE TABLE terraform_remote_state.states (id bigserial PRIMARY KEY, name text UNIQUE, data text);
		INSERT INTO terraform_remote_state.states (name, data) VALUES ('nina-drop', '{}')`); err != nil {
		t.Fatal(err)
	}
	p, _ := claim(t, s, "r1", t0)
	drop := store.StateDrop{Schema: "terraform_remote_state", Workspace: "nina-drop", Key: key, Token: p.LeaseToken, UID: p.UID}
	refused := func(why string) {
		t.Helper()
		err := s.DropTerraformState(ctx, drop)
		if !errors.Is(err, store.ErrStateLocked) || !strings.Contains(err.Error(), why) {
			t.Fatalf("drop: %v; want refused: %q", err, why)
		}
	}
	refused("not held by the finalizer")

	if err := s.AcquireStateLock(ctx, key, p.LeaseToken, "r1", store.OpDestroy, time.Minute); err != nil {
		t.Fatal(err)
	}
	ref, err := s.StartRun(ctx, p, p.LeaseToken, store.OpApply, "Spec", "r", "r1", t0)
	if err != nil {
		t.Fatal(err)
	}
	refused("run 1 (apply) has not finished")
	if err := s.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeInterrupted}, t0); err != nil {
		t.Fatal(err)
	}

	// Terraform's pg backend locks the workspace with a session advisory
	// lock on the state row's id.
	tfConn, err := pgx.Connect(ctx, s.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer tfConn.Close(ctx)
	if _, err := tfConn.Exec(ctx, `SELECT pg_advisory_lock(id) FROM terraform_remote_state.states WHERE name = 'nina-drop'`); err != nil {
		t.Fatal(err)
	}
	refused("terraform holds the workspace's state lock")
	if _, err := tfConn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}

	if err := s.DropTerraformState(ctx, drop); err != nil {
		t.Fatal(err)
	}
	var states, locks int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM terraform_remote_state.states), (SELECT count(*) FROM project_locks)`).Scan(&states, &locks); err != nil {
		t.Fatal(err)
	}
	if states != 0 || locks != 0 {
		t.Fatalf("after the drop: %d state(s), %d lock row(s); want none", states, locks)
	}
}

// The lock row is renewed with the lease, in the same statement, and goes
// when the lease is handed back or the pass finishes.
func TestStateLockFollowsTheLease(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "nina", ProjectID: "renew"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	p, _ := claim(t, s, "r1", t0)
	if err := s.AcquireStateLock(ctx, key, p.LeaseToken, "r1", store.OpApply, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenewLease(ctx, key, p.LeaseToken, time.Hour); err != nil {
		t.Fatal(err)
	}
	var left time.Duration
	if err := s.Pool().QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now())::float8 * interval '1 second' FROM project_locks`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left < 50*time.Minute {
		t.Fatalf("after renewing the lease for an hour the lock row has %s left", left)
	}
	if err := s.ReleaseLease(ctx, key, p.LeaseToken, t0); err != nil {
		t.Fatal(err)
	}
	if _, held, err := s.StateLockHeld(ctx, key, ""); err != nil || held {
		t.Fatalf("after the lease was handed back: held %v (%v)", held, err)
	}

	p, _ = claim(t, s, "r1", t0.Add(time.Second))
	if err := s.AcquireStateLock(ctx, key, p.LeaseToken, "r1", store.OpApply, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishReconcile(ctx, key, p.LeaseToken, store.Status{Phase: store.PhaseReady}, p.Revision, t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if _, held, err := s.StateLockHeld(ctx, key, ""); err != nil || held {
		t.Fatalf("after the pass finished: held %v (%v)", held, err)
	}
}
