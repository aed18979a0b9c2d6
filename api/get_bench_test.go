package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// BenchmarkGetProject serves GETs of one project through the whole
// handler chain (request log as serve writes it, to a discarding writer, rate limiter,
// token check, one batch to PostgreSQL, JSON), from parallel clients, so
// that a CPU profile shows what a GET costs beyond its query:
//
//	go test ./api -run '^$' -bench GetProject -cpuprofile /tmp/get.cpu
func BenchmarkGetProject(b *testing.B) {
	h, c := benchServer(b, nil)
	tok, _ := SignToken([]byte(testSecret), "alice", false, 1<<40, c.Now())
	put, _ := http.NewRequest("PUT", projectPathAliceDemo, jsonBody(b, spec(1)))
	put.Header.Set("Authorization", "Bearer "+tok)
	put.Header.Set("Content-Type", "application/json")
	rec := newDiscardRecorder()
	h.ServeHTTP(rec, put)
	if rec.status != http.StatusCreated {
		b.Fatalf("PUT: %d", rec.status)
	}
	b.ResetTimer()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", projectPathAliceDemo, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			rec := newDiscardRecorder()
			h.ServeHTTP(rec, req)
			if rec.status != http.StatusOK {
				b.Errorf("GET: %d", rec.status)
				return
			}
		}
	})
}

// reportCPU reports the process's CPU time per operation (user and
// system, all goroutines; PostgreSQL runs in another process): what the
// handler chain costs, which wall time per operation hides behind waits.
// Call the function it returns when the timed loop ends.
func reportCPU(b *testing.B) func() {
	start := processCPUTime()
	return func() {
		b.ReportMetric(float64((processCPUTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLogger logs as serve does (JSON lines at info, with the caller),
// to a discarding writer: the log line is built and encoded, not written.
func benchLogger() *zap.Logger {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
	return zap.New(core, zap.AddCaller())
}

func jsonBody(b *testing.B, v any) *bytes.Reader {
	j, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.NewReader(j)
}

// discardRecorder is a ResponseWriter that keeps the status only.
type discardRecorder struct {
	header http.Header
	status int
}

func newDiscardRecorder() *discardRecorder { return &discardRecorder{header: http.Header{}} }

func (d *discardRecorder) Header() http.Header { return d.header }
func (d *discardRecorder) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
func (d *discardRecorder) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

// benchServer is the API of the benchmarks: a migrated database, logging
// as serve does (to a discarding writer), a rate limit that does not
// measure itself, and configure's changes.
func benchServer(b *testing.B, configure func(*Config)) (http.Handler, *clock) {
	st, err := store.Open(context.Background(), storetest.NewMigratedDatabase(b, store.MigrateURL), 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	c := &clock{now: t0}
	cfg := testConfig(c)
	cfg.Logger = benchLogger()
	cfg.RateLimitPerSecond, cfg.RateLimitBurst = 1e9, 1e9
	if configure != nil {
		configure(&cfg)
	}
	return New(cfg, st), c
}
