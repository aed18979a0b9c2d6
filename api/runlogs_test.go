package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/tenantform/tenantform/api/client"
	"github.com/tenantform/tenantform/store"
	"go.uber.org/zap/zaptest"
)

// TestRunLogFollowsARunningRun: a running run's log is readable while it
// runs, and a follower (the typed client's FollowRunLog over ?watch=true)
// gets each chunk as it is appended — woken by the database's
// notification, since the poll interval here is an hour — and the run's
// outcome when it finishes, then the stream ends.
func TestRunLogFollowsARunningRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.WatchPollInterval = time.Hour })
	ctx := t.Context()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	demo := e.claimed(keyAliceDemo)
	ref, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpPlan, "Spec", "rec-1", "replica-a", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.AppendRunLog(ctx, ref.RowID, 0, "line one\n"); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(e.srv.URL, alice)
	if err != nil {
		t.Fatal(err)
	}

	texts := make(chan string, 16)
	ended := make(chan client.RunEnd, 1)
	followErr := make(chan error, 1)
	go func() {
		end, err := c.FollowRunLog(ctx, "alice", "demo", ref.Number, 0, func(s string) error { texts <- s; return nil })
		ended <- end
		followErr <- err
	}()
	nextText := func(want string) {
		t.Helper()
		select {
		case got := <-texts:
			if got != want {
				t.Fatalf("followed %q, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%q was not followed within 30 s", want)
		}
	}
	nextText("line one\n")
	if err := e.st.AppendRunLog(ctx, ref.RowID, 9, "line two\n"); err != nil {
		t.Fatal(err)
	}
	nextText("line two\n")

	page, err := c.RunLog(ctx, "alice", "demo", ref.Number, 0)
	if err != nil || page.Text != "line one\nline two\n" || page.NextOffset != 18 || page.Finished || page.Outcome != "running" {
		t.Fatalf("the running run's log: %+v, %v", page, err)
	}
	select {
	case <-ended:
		t.Fatal("the follower ended while the run runs")
	default:
	}

	if err := e.st.FinishRun(ctx, ref.RowID, store.RunResult{Outcome: store.OutcomeFailed, Error: "boom",
		LogTail: "line one\nline two\n"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case end := <-ended:
		if err := <-followErr; err != nil || end.Outcome != store.OutcomeFailed || end.Error != "boom" {
			t.Fatalf("the follower ended with %+v, %v; want the run's failure", end, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not end within 30 s of the run's end")
	}

	// A finished run takes no more chunks; a read resumes from an offset.
	if err := e.st.AppendRunLog(ctx, ref.RowID, 18, "too late\n"); err != nil {
		t.Fatal(err)
	}
	page, err = c.RunLog(ctx, "alice", "demo", ref.Number, 9)
	if err != nil || page.Text != "line two\n" || page.NextOffset != 18 || !page.Finished || page.Outcome != "failed" {
		t.Fatalf("the finished run's log from 9: %+v, %v", page, err)
	}
	// Following a finished run gives its log and its end at once.
	var all string
	end, err := c.FollowRunLog(ctx, "alice", "demo", ref.Number, 0, func(s string) error { all += s; return nil })
	if err != nil || all != "line one\nline two\n" || end.Outcome != "failed" {
		t.Fatalf("following the finished run: %q, %+v, %v", all, end, err)
	}

	// A run finished without a live log serves its tail.
	demo = e.claimed(keyAliceDemo)
	ref2, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpApply, "Spec", "rec-2", "replica-a", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.FinishRun(ctx, ref2.RowID, store.RunResult{Outcome: store.OutcomeSucceeded, LogTail: "Apply complete!\n"}, t0); err != nil {
		t.Fatal(err)
	}
	if page, err := c.RunLog(ctx, "alice", "demo", ref2.Number, 0); err != nil || page.Text != "Apply complete!\n" || !page.Finished {
		t.Fatalf("a run without a live log: %+v, %v", page, err)
	}

	// Mistakes are named; another user's run is not found.
	e.do("GET", projectPathAliceDemo+"/runs/1/log?offset=-1", alice, nil).wantError(t, http.StatusBadRequest, "BadRequest")
	e.do("GET", projectPathAliceDemo+"/runs/1/log?watch=maybe", alice, nil).wantError(t, http.StatusBadRequest, "BadRequest")
	e.do("GET", projectPathAliceDemo+"/runs/99/log", alice, nil).wantError(t, http.StatusNotFound, "NotFound")
	e.do("GET", projectPathAliceDemo+"/runs/1/log", e.token("bob", false), nil).wantError(t, http.StatusNotFound, "NotFound")
}

// TestFollowersAreNotPolledOnceNotificationsArrive: the hub wakes its
// followers at every poll only while no notification has arrived (behind
// a transaction pooler none ever does); once one has, only at every
// runLogSafetyPolls-th poll, against a lost one. The test drives the polls
// itself and the notifications are PostgreSQL's: a hundred polls after a
// notification wake an idle follower ten times, and the count cannot
// depend on the machine's load.
func TestFollowersAreNotPolledOnceNotificationsArrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	demo := e.claimed(keyAliceDemo)
	ref, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpPlan, "Spec", "rec-1", "replica-a", t0)
	if err != nil {
		t.Fatal(err)
	}

	ticks := make(chan time.Time) // unbuffered: a send returns once the hub took the poll
	hub := &logHub{feed: e.st, log: zaptest.NewLogger(t), ticks: ticks}
	f := &logFollower{rowID: ref.RowID, wake: make(chan struct{}, 1)}
	hub.subscribe(f)
	defer hub.unsubscribe(f)
	woken := func(what string) {
		t.Helper()
		select {
		case <-f.wake:
		case <-time.After(30 * time.Second): // a guard, not a wait
			t.Fatalf("the follower was not woken by %s", what)
		}
	}
	// The listener wakes everyone when it connects; only then can a
	// notification arrive. No poll is sent meanwhile, so the next wake
	// is the chunk's notification.
	woken("the listener's connection")
	if err := e.st.AppendRunLog(ctx, ref.RowID, 0, "line\n"); err != nil {
		t.Fatal(err)
	}
	woken("the chunk's notification")

	// The hub handles a poll before it takes the next, so a poll's wake
	// is seen once the next is sent; one more (the 101st, which wakes
	// nobody) makes sure of the 100th.
	wakes := 0
	for range 100 {
		ticks <- t0
		select {
		case <-f.wake:
			wakes++
		default:
		}
	}
	ticks <- t0
	select {
	case <-f.wake:
		wakes++
	default:
	}
	if want := 100 / runLogSafetyPolls; wakes != want {
		t.Fatalf("an idle follower was woken %d times in 100 polls after a notification arrived; want %d", wakes, want)
	}
}
