package controller

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// BenchmarkWriteToReconcileStart measures how long after a spec write
// commits a reconciler with a free worker starts reconciling it (the
// start of its plan run), through LISTEN/NOTIFY. Each write waits for the
// previous project to be Ready, so a worker is always free.
//
//	go test ./controller -run '^$' -bench WriteToReconcileStart -benchtime 30x
func BenchmarkWriteToReconcileStart(b *testing.B) {
	dbURL := storetest.NewDatabase(b)
	st, err := store.Open(context.Background(), dbURL, 10)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	startBenchReconciler(b, st, dbURL)
	ctx := context.Background()
	var latencies []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := store.Key{UserID: "bench", ProjectID: fmt.Sprintf("p%d", i)}
		spec := counterSpec(i)
		written := time.Now()
		if _, _, err := st.PutSpec(ctx, key, spec, nil, written); err != nil {
			b.Fatal(err)
		}
		var started time.Time
		for deadline := time.Now().Add(time.Minute); ; {
			runs, err := st.ListRuns(ctx, key, 10, 0)
			if err != nil {
				b.Fatal(err)
			}
			if p, _ := st.GetProject(ctx, key); p.Status.Phase == store.PhaseReady && len(runs) > 0 {
				started = runs[len(runs)-1].StartedAt
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("project %s not Ready within a minute", key)
			}
			time.Sleep(20 * time.Millisecond)
		}
		latencies = append(latencies, started.Sub(written))
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*95/100].Microseconds())/1000, "p95-ms")
}

func startBenchReconciler(b *testing.B, st *store.Store, dbURL string) {
	engine, err := tf.New(tf.Config{BinaryPath: terraformBinary(b), WorkRoot: b.TempDir(), PGConnStr: dbURL,
		Environment: "bench", Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	// Projects accumulate: the per-user quota must not block them.
	c := New(Config{Concurrency: 2, MaxResourcesPerUser: 1 << 20}, st, engine)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
}
