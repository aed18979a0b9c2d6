package metrics_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
)

// countingSource answers every snapshot with one more Ready project than
// the last, and says on read when it was asked.
type countingSource struct {
	mu    sync.Mutex
	calls int
	read  chan int
}

func (c *countingSource) MetricsSnapshot(context.Context, int, int, time.Time) (store.MetricsSnapshot, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	c.read <- n
	return store.MetricsSnapshot{ProjectsByPhase: map[store.Phase]int{store.PhaseReady: n}}, nil
}

// With METRICS_STATE_MAX_AGE a scrape serves the last reading while it is
// young, starts a new one in the background once it is past a third of its age
// (and still serves the old one), and reads itself only when the last is
// too old. Without it, every scrape reads.
func TestStateServesAReadingUpToMaxAge(t *testing.T) {
	src := &countingSource{read: make(chan int, 10)}
	st := metrics.NewState(src, metrics.StateConfig{MaxAge: 30 * time.Second})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	metrics.SetStateClock(st, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	refreshed := make(chan struct{}, 10)
	metrics.SetStateEvents(st, func(e string) {
		if e == "refreshed" {
			refreshed <- struct{}{}
		}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(st)
	ready := func() float64 { return gather(t, reg)[`tenantform_projects{phase="Ready"}`] }
	wantRead := func(n int) {
		t.Helper()
		select {
		case got := <-src.read:
			if got != n {
				t.Fatalf("reading %d, want %d", got, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("reading %d never happened", n)
		}
	}
	noRead := func() {
		t.Helper()
		select {
		case got := <-src.read:
			t.Fatalf("an unexpected reading %d", got)
		case <-time.After(100 * time.Millisecond):
		}
	}

	if got := ready(); got != 1 { // the first scrape reads
		t.Fatalf("first scrape: %v, want 1", got)
	}
	wantRead(1)
	advance(5 * time.Second)
	if got := ready(); got != 1 { // young: served as it is
		t.Fatalf("scrape at 5 s: %v, want the reading of 0 s", got)
	}
	noRead()
	advance(5 * time.Second)
	if got := ready(); got != 1 { // a third of its age: served, and read again behind it
		t.Fatalf("scrape at 10 s: %v, want the reading of 0 s", got)
	}
	wantRead(2)
	// The background reading is stored after it returns; wait for it.
	select {
	case <-refreshed:
	case <-time.After(10 * time.Second):
		t.Fatal("the background reading was never stored")
	}
	if got := ready(); got != 2 {
		t.Fatalf("scrape after the background reading: %v, want it (2)", got)
	}
	noRead()
	advance(time.Minute)
	if got := ready(); got != 3 { // too old: the scrape reads itself
		t.Fatalf("scrape at 80 s: %v, want a new reading", got)
	}
	wantRead(3)

	// Two scrapes of a reading too old, at once: one reads, the other
	// is served what it read.
	advance(time.Minute)
	var wg sync.WaitGroup
	got := make([]float64, 2)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = ready() }()
	}
	wg.Wait()
	wantRead(4)
	noRead()
	if got[0] != 4 || got[1] != 4 {
		t.Fatalf("two scrapes of a stale reading served %v, want the one new reading (4) twice", got)
	}

	fresh := &countingSource{read: make(chan int, 10)}
	reg = prometheus.NewRegistry()
	reg.MustRegister(metrics.NewState(fresh, metrics.StateConfig{}))
	for i := 1; i <= 3; i++ {
		if got := gather(t, reg)[`tenantform_projects{phase="Ready"}`]; got != float64(i) {
			t.Fatalf("without MaxAge, scrape %d: %v, want a reading each time", i, got)
		}
		<-fresh.read
	}
}
