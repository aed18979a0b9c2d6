package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// seedDue copies the project key n times under new project ids (key's
// project id with a number appended), all due at due: a backlog made in a
// few statements instead of n PUTs. It commits every seedBatch copies: the
// insert trigger takes each new project's lock (the orphan sweep's), and
// one transaction holds only so many locks.
func seedDue(t testing.TB, s *store.Store, key store.Key, n int, due time.Time) {
	t.Helper()
	for done := 0; done < n; done += seedBatch {
		seedDueBatch(t, s, key, done, min(seedBatch, n-done), due)
	}
}

const seedBatch = 5000

// seedDueBatch adds copies number from+1 to from+n.
func seedDueBatch(t testing.TB, s *store.Store, key store.Key, from, n int, due time.Time) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	steps := []struct {
		sql  string
		args []any
	}{
		{`CREATE TEMP TABLE seed ON COMMIT DROP AS SELECT p.* FROM projects p, generate_series(1, $3::int) WHERE p.user_id = $1 AND p.project_id = $2`, []any{key.UserID, key.ProjectID, n}},
		{`CREATE TEMP SEQUENCE seed_n`, nil},
		{`UPDATE seed SET project_id = project_id || '-' || ($2::int + nextval('seed_n')), uid = gen_random_uuid(), due_at = $1`, []any{due, from}},
		{"", nil}, // INSERT of the copies, below
		{`DROP SEQUENCE seed_n`, nil},
	}
	for _, st := range steps {
		if st.sql == "" {
			// Generated columns cannot be copied: name the others.
			var cols string
			if err := tx.QueryRow(ctx, `SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position)
				FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = 'projects' AND is_generated = 'NEVER'`).Scan(&cols); err != nil {
				t.Fatal(err)
			}
			st.sql = "INSERT INTO projects (" + cols + ") SELECT " + cols + " FROM seed"
		}
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClaimIgnoresOneUsersBacklog: 15,000 due projects of one user do not
// delay another user's single project by more than one worker slot, and the
// claim's work (rows its plan touches, measured by EXPLAIN ANALYZE, so
// independent of the machine's speed) does not grow with that backlog.
func TestClaimIgnoresOneUsersBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 15,000 projects")
	}
	ctx := context.Background()
	s := openStore(t)
	alice := store.Key{UserID: "alice", ProjectID: "p"}
	bob := store.Key{UserID: "bob", ProjectID: "one"}
	for _, k := range []store.Key{alice, bob} {
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
			t.Fatal(err)
		}
	}
	// Bob's project falls due after all of alice's, so due order alone
	// would serve alice's whole backlog first.
	if _, err := s.Pool().Exec(ctx, `UPDATE projects SET due_at = $1 WHERE user_id = 'bob'`, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Minute)
	c := store.Claim{Owner: "r1", LeaseFor: time.Minute, Now: now, MaxPerUser: 2}

	seedDue(t, s, alice, 999, t0)
	small, err := s.PickUsersRowsTouched(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	seedDue(t, s, store.Key{UserID: "alice", ProjectID: "p-1"}, 14000, t0)
	if _, err := s.Pool().Exec(ctx, `ANALYZE projects`); err != nil {
		t.Fatal(err)
	}
	large, err := s.PickUsersRowsTouched(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claim work: %d rows at 1,000 due projects of one user, %d at 15,000", small, large)
	if large > small+8 {
		t.Errorf("the claim's work grows with one user's backlog: %d rows at 1,000, %d at 15,000", small, large)
	}

	// Alice was served first (her work is older); bob's one project is the
	// very next claim, not the 15,001st. Each claim runs under the
	// reconciler's database deadline: the old claim needed 18 s here.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	first, ok, err := s.ClaimDue(ctx, c)
	if err != nil || !ok || first.Key.UserID != "alice" {
		t.Fatalf("first claim: %v %v %v", first.Key, ok, err)
	}
	second, ok, err := s.ClaimDue(ctx, store.Claim{Owner: "r1", LeaseFor: time.Minute, Now: now, MaxPerUser: 2, InFlight: []store.Key{first.Key}})
	if err != nil || !ok || second.Key != bob {
		t.Fatalf("second claim = %v (ok %v, err %v), want bob's project", second.Key, ok, err)
	}
}

// TestClaimAtRestCostsWhatIsDue: with 2,000 users whose projects are not
// due and one due project, a claim reads the due project's user, not every
// user. (Walking every user made a resync round of N projects of U users
// cost N × U index probes: at 10,000 projects of 1,000 users a reconciler
// could not check every project within its resync interval.)
func TestClaimAtRestCostsWhatIsDue(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at)
		SELECT 'user-' || i, 'p', '{}'::jsonb, $1, $1, $1::timestamptz + interval '1 day', $1::timestamptz + interval '1 hour'
		FROM generate_series(1, 2000) AS i`, t0); err != nil {
		t.Fatal(err)
	}
	due := store.Key{UserID: "user-1234", ProjectID: "due"}
	if _, _, err := s.PutSpec(ctx, due, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE projects`); err != nil {
		t.Fatal(err)
	}
	c := store.Claim{Owner: "r1", LeaseFor: time.Minute, Now: t0.Add(time.Minute), MaxPerUser: 1}
	rows, err := s.PickUsersRowsTouched(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claim work at rest over 2,000 users: %d rows", rows)
	if rows > 100 {
		t.Errorf("a claim at rest touched %d rows for one due project among 2,000 users: it walks the users", rows)
	}
	p, ok, err := s.ClaimDue(ctx, c)
	if err != nil || !ok || p.Key != due {
		t.Fatalf("claim = %v (ok %v, err %v), want %v", p.Key, ok, err, due)
	}
	c.InFlight = []store.Key{due}
	if p, ok, err := s.ClaimDue(ctx, c); err != nil || ok {
		t.Fatalf("second claim: %v (ok %v, err %v); nothing else is due", p.Key, ok, err)
	}
}
