package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
)

// BenchmarkGetProject serves GETs of one project through the whole
// handler chain (request log at info to a discarding core, rate limiter,
// token check, one batch to PostgreSQL, JSON), from parallel clients, so
// that a CPU profile shows what a GET costs beyond its query:
//
//	go test ./api -run '^$' -bench GetProject -cpuprofile /tmp/get.cpu
func BenchmarkGetProject(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewMigratedDatabase(b, store.MigrateURL), 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	c := &clock{now: t0}
	cfg := testConfig(c)
	cfg.Logger = zap.New(zap.NewNop().Core()) // the log line is built, then dropped
	cfg.RateLimitPerSecond, cfg.RateLimitBurst = 1e9, 1e9
	h := New(cfg, st)
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
