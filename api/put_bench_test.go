package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkPutProject writes a changed spec (a new comment each time, as
// bench/apifloor's wrk script does) to many keys in turn, through the
// whole handler chain (request log as serve writes it, discarded, rate
// limiter, token check, decoding, validation, the upload policy, the
// store), from parallel clients, so that a CPU profile shows what a PUT
// costs beyond its write:
//
//	go test ./api -run '^$' -bench PutProject -cpuprofile /tmp/put.cpu
//
// The keys are created before the timer starts: what is measured is the
// common PUT, an update of an existing project.
func BenchmarkPutProject(b *testing.B) {
	const users, perUser = 50, 20
	h, c := benchServer(b, func(cfg *Config) { cfg.MaxProjectsPerUser = 1000 })
	tok, _ := SignToken([]byte(testSecret), "bench", true, 1<<40, c.Now())

	var n atomic.Int64
	put := func(i int64, wantCreated bool) error {
		path := fmt.Sprintf("/api/v1/users/u%d/projects/p%d", i%users, (i/users)%perUser)
		body := fmt.Sprintf(`{"files":{"main.tf":"resource \"terraform_data\" \"x\" {}\n# revision %d\n"}}`, n.Add(1))
		req, _ := http.NewRequest("PUT", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := newDiscardRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusOK
		if wantCreated {
			want = http.StatusCreated
		}
		if rec.status != want {
			return fmt.Errorf("PUT %s: %d, want %d", path, rec.status, want)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range int64(8) {
		wg.Go(func() {
			for i := w; i < users*perUser; i += 8 {
				if err := put(i, true); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	var next atomic.Int64
	b.SetParallelism(8) // 16 clients on 2 cores, as wrk -c16
	b.ResetTimer()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := put(next.Add(1), false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
