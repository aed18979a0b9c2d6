package controller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// BenchmarkBurst measures coordination, not terraform: 500 projects of
// 100 users are written at once, and reconcilers whose terraform applies
// in a fixed 2 s (the fake engine, state in the real PostgreSQL) converge
// them. It reports projects Ready per minute over the first window, for
// TF_CONCURRENCY 1, 2 and 4 and for 1 and 3 reconcilers sharing the
// database (three Controllers in one process: the work is waiting, so
// they do not compete for CPU), and fails if any project ever had two
// operations at once.
//
//	go test ./controller -run '^$' -bench Burst -benchtime 1x -timeout 30m
func BenchmarkBurst(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		for _, concurrency := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("replicas=%d/concurrency=%d", replicas, concurrency), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					perMinute, overlaps := burst(b, replicas, concurrency, 500, 100, 40*time.Second)
					b.ReportMetric(perMinute, "ready/min")
					if overlaps > 0 {
						b.Fatalf("%d times a project had two operations at once", overlaps)
					}
				}
			})
		}
	}
}

// BenchmarkBacklogFairness writes 5,000 due projects of one user, then
// one project of another, with one reconciler of two workers whose
// applies take 2 s, and reports how long the other user's project waited
// for its plan to start, in worker slots (one slot = one 2 s apply): with
// MAX_WORKERS_PER_USER at its default of 1, and at 2, where the backlog
// may hold every worker and the other project waits for one to free.
//
//	go test ./controller -run '^$' -bench BacklogFairness -benchtime 3x -timeout 30m
func BenchmarkBacklogFairness(b *testing.B) {
	for _, perUser := range []int{1, 2} {
		b.Run(fmt.Sprintf("maxWorkersPerUser=%d", perUser), func(b *testing.B) { backlogFairness(b, perUser) })
	}
}

func backlogFairness(b *testing.B, maxWorkersPerUser int) {
	const apply = 2 * time.Second
	var worst time.Duration // over the iterations
	for i := 0; i < b.N; i++ {
		st, fake := burstStore(b)
		ctx := context.Background()
		now := time.Now()
		for n := 0; n < 5000; n++ {
			if _, _, err := st.PutSpec(ctx, store.Key{UserID: "big", ProjectID: fmt.Sprintf("p%d", n)}, counterSpec(n), nil, now); err != nil {
				b.Fatal(err)
			}
		}
		started := make(chan time.Time, 1)
		fake.planHook = func(ctx context.Context, p tf.Project) error {
			if p.UserID == "small" {
				select {
				case started <- time.Now():
				default:
				}
			}
			return nil
		}
		fake.applyHook = func(ctx context.Context, p tf.Project) error { return sleepCtx(ctx, apply) }
		stop := startReconcilers(b, st, fake, 1, 2, func(c *Config) { c.MaxWorkersPerUser = maxWorkersPerUser })
		time.Sleep(5 * time.Second) // the backlog's projects are being applied
		written := time.Now()
		if _, _, err := st.PutSpec(ctx, store.Key{UserID: "small", ProjectID: "one"}, counterSpec(1), nil, written); err != nil {
			b.Fatal(err)
		}
		var waited time.Duration
		select {
		case t := <-started:
			waited = t.Sub(written)
		case <-time.After(5 * time.Minute):
			b.Fatal("the other user's project never started")
		}
		stop()
		worst = max(worst, waited)
	}
	b.ReportMetric(worst.Seconds()*1000, "worst-wait-ms")
	b.ReportMetric(float64(worst)/float64(apply), "worst-slots")
}

// burst writes projects for users at once and runs reconcilers until
// window has passed since the first could start; it returns the projects
// Ready per minute in that window and how often one project had two
// operations at once.
func burst(b *testing.B, replicas, concurrency, projects, users int, window time.Duration) (perMinute float64, overlaps int64) {
	st, fake := burstStore(b)
	ctx := context.Background()
	now := time.Now()
	for n := 0; n < projects; n++ {
		key := store.Key{UserID: fmt.Sprintf("u%d", n%users), ProjectID: fmt.Sprintf("p%d", n/users)}
		if _, _, err := st.PutSpec(ctx, key, counterSpec(n), nil, now); err != nil {
			b.Fatal(err)
		}
	}
	var busy sync.Map // store.Key -> *atomic.Int32
	var overlap atomic.Int64
	hold := func(p tf.Project) func() {
		v, _ := busy.LoadOrStore(store.Key{UserID: p.UserID, ProjectID: p.ProjectID}, new(atomic.Int32))
		n := v.(*atomic.Int32)
		if n.Add(1) > 1 {
			overlap.Add(1)
		}
		return func() { n.Add(-1) }
	}
	fake.planHook = func(ctx context.Context, p tf.Project) error { defer hold(p)(); return nil }
	fake.applyHook = func(ctx context.Context, p tf.Project) error {
		defer hold(p)()
		return sleepCtx(ctx, 2*time.Second)
	}
	b.ResetTimer()
	start := time.Now()
	stop := startReconcilers(b, st, fake, replicas, concurrency)
	time.Sleep(window)
	elapsed := time.Since(start)
	stop()
	b.StopTimer()
	var ready int
	if err := fake.pool.QueryRow(ctx, `SELECT count(*) FROM projects WHERE phase = 'Ready'`).Scan(&ready); err != nil {
		b.Fatal(err)
	}
	return float64(ready) / elapsed.Minutes(), overlap.Load()
}

// burstStore is a migrated database and a fake engine on it.
func burstStore(b *testing.B) (*store.Store, *fakeTerraform) {
	dbURL := storetest.NewMigratedDatabase(b, store.MigrateURL)
	st, err := store.Open(context.Background(), dbURL, 40)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	return st, newFakeTerraform(b, dbURL)
}

// startReconcilers runs replicas controllers of concurrency workers each
// on st, as separate replicas would; stop ends them and waits.
func startReconcilers(b *testing.B, st *store.Store, engine Terraform, replicas, concurrency int, mutate ...func(*Config)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for r := 0; r < replicas; r++ {
		cfg := Config{Owner: fmt.Sprintf("replica-%d", r), Concurrency: concurrency,
			MaxResourcesPerUser: 1 << 20, Logger: zap.NewNop()}
		for _, m := range mutate {
			m(&cfg)
		}
		c := New(cfg, st, engine)
		wg.Go(func() { c.Run(ctx) })
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
