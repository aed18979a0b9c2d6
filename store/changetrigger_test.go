package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestProjectWritesWakeWhoMustWake pins what each write of a project row
// announces, whatever path it comes from (the projects table's triggers,
// migration 000014): the reconcilers hear the key on a creation and on
// every write that bumps the revision; the watch streams hear, with a new
// watch version, every change a watcher can see, and neither a lease nor
// a schedule change.
//
// "Nothing heard" is checked without waiting for time: after the write, a
// NOTIFY of a sentinel on the same channel commits, and notifications
// arrive in commit order, so the next one heard must be the sentinel.
func TestProjectWritesWakeWhoMustWake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := openStore(t)
	pool := s.Pool()
	listener, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Release()
	for _, ch := range []string{store.NotifyChannel, store.WatchChannel} {
		if _, err := listener.Exec(ctx, "LISTEN "+ch); err != nil {
			t.Fatal(err)
		}
	}
	key := store.Key{UserID: "erin", ProjectID: "demo"}
	version := func() int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRow(ctx, `SELECT watch_version FROM projects WHERE user_id = $1 AND project_id = $2`,
			key.UserID, key.ProjectID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// heard returns what each channel carried up to its sentinel.
	heard := func() map[string][]string {
		t.Helper()
		for _, ch := range []string{store.NotifyChannel, store.WatchChannel} {
			if _, err := pool.Exec(ctx, `SELECT pg_notify($1, 'sentinel')`, ch); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string][]string{}
		for sentinels := 0; sentinels < 2; {
			n, err := listener.Conn().WaitForNotification(ctx)
			if err != nil {
				t.Fatalf("waiting for notifications: %v (heard so far %v)", err, got)
			}
			if n.Payload == "sentinel" {
				sentinels++
				continue
			}
			got[n.Channel] = append(got[n.Channel], n.Payload)
		}
		return got
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql+` WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got map[string][]string, wake, watch bool) {
		t.Helper()
		if ok := len(got[store.NotifyChannel]) == 1 && got[store.NotifyChannel][0] == key.String(); ok != wake || (!wake && len(got[store.NotifyChannel]) > 0) {
			t.Errorf("%s: the reconcilers heard %q, want the key: %v", what, got[store.NotifyChannel], wake)
		}
		if ok := len(got[store.WatchChannel]) == 1; ok != watch || (!watch && len(got[store.WatchChannel]) > 0) {
			t.Errorf("%s: the watch streams heard %q, want one notification: %v", what, got[store.WatchChannel], watch)
		}
	}

	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}
	check("creation", heard(), true, true)

	v := version()
	if _, _, err := s.PutSpec(ctx, key, spec(2), nil, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("PUT of a changed spec", heard(), true, true)
	if w := version(); w <= v {
		t.Errorf("PUT of a changed spec: watch version %d, want above %d", w, v)
	}

	v = version()
	exec(`UPDATE projects SET revision = revision + 1, due_at = now()`)
	check("a wake-up (revision bump)", heard(), true, true)
	if w := version(); w <= v {
		t.Errorf("revision bump: watch version %d, want above %d", w, v)
	}

	v = version()
	exec(`UPDATE projects SET status_message = 'planning', phase = 'Planning'`)
	check("a status change", heard(), false, true)
	if w := version(); w <= v {
		t.Errorf("status change: watch version %d, want above %d", w, v)
	}

	v = version()
	exec(`UPDATE projects SET lease_owner = 'r1', lease_expires_at = now() + interval '1 minute',
		lease_token = gen_random_uuid(), due_at = now() + interval '1 hour'`)
	check("a lease and schedule change", heard(), false, false)
	if w := version(); w != v {
		t.Errorf("lease change: watch version %d, want %d unchanged", w, v)
	}

	v = version()
	exec(`UPDATE projects SET status_message = status_message`)
	check("a write that changes nothing", heard(), false, false)
	if w := version(); w != v {
		t.Errorf("no-op write: watch version %d, want %d unchanged", w, v)
	}
}
