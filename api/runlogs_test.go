package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantform/tenantform/api/client"
	"github.com/tenantform/tenantform/store"
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

// countingRunLogs counts the live-log reads the API makes.
type countingRunLogs struct {
	*store.Store
	reads atomic.Int64
}

func (c *countingRunLogs) RunLogSince(ctx context.Context, rowID, offset int64, limit int) (store.RunLog, error) {
	c.reads.Add(1)
	return c.Store.RunLogSince(ctx, rowID, offset, limit)
}

// TestFollowersAreNotPolledOnceNotificationsArrive: a follower is polled
// at every poll interval only while no notification has arrived (behind a
// transaction pooler none ever does); once one has, an idle follower is
// read only at every tenth interval, against a lost one.
func TestFollowersAreNotPolledOnceNotificationsArrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	counting := &countingRunLogs{Store: e.st}
	cfg := testConfig(e.clock)
	const poll = 10 * time.Millisecond
	cfg.WatchPollInterval = poll
	srv := httptest.NewServer(New(cfg, counting))
	t.Cleanup(srv.Close)

	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	demo := e.claimed(keyAliceDemo)
	ref, err := e.st.StartRun(ctx, demo, demo.LeaseToken, store.OpPlan, "Spec", "rec-1", "replica-a", t0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.URL, alice)
	if err != nil {
		t.Fatal(err)
	}
	texts := make(chan string, 16)
	go c.FollowRunLog(ctx, "alice", "demo", ref.Number, 0, func(s string) error { texts <- s; return nil })
	// A chunk is appended, followed, then the reads of the idle follower
	// are counted over a hundred intervals (a loaded machine only drops
	// ticks: fewer reads, never more). The first chunks may be appended
	// before the hub's LISTEN is connected, so their notifications never
	// come: up to five rounds, each with a new chunk.
	offset := int64(0)
	var n int64
	for round := range 5 {
		line := fmt.Sprintf("line %d\n", round)
		if err := e.st.AppendRunLog(ctx, ref.RowID, offset, line); err != nil {
			t.Fatal(err)
		}
		offset += int64(len(line))
		select {
		case got := <-texts:
			if got != line {
				t.Fatalf("followed %q, want %q", got, line)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%q was not followed within 30 s", line)
		}
		time.Sleep(10 * poll)
		before := counting.reads.Load()
		time.Sleep(100 * poll)
		if n = counting.reads.Load() - before; n <= 100/runLogSafetyPolls+10 {
			return
		}
	}
	t.Fatalf("an idle follower was read %d times in 100 poll intervals after notifications arrived; want about %d", n, 100/runLogSafetyPolls)
}
