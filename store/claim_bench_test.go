package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// BenchmarkClaimDue times one claim (pick the user, lease a project) with
// one user holding a backlog of due projects and 99 other users holding
// one each, at several backlog sizes. Each iteration's lease is handed back
// so every claim meets the same table. It also reports the rows the
// claim's first step touches (EXPLAIN ANALYZE), which, unlike time, does
// not depend on what else the machine is doing.
//
//	go test ./store -run '^$' -bench BenchmarkClaimDue -benchtime 200x
func BenchmarkClaimDue(b *testing.B) {
	for _, backlog := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			ctx := context.Background()
			s := openStore(b)
			for u := range 100 {
				k := store.Key{UserID: fmt.Sprintf("user%02d", u), ProjectID: "p"}
				if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
					b.Fatal(err)
				}
			}
			seedDue(b, s, store.Key{UserID: "user00", ProjectID: "p"}, backlog-1, t0)
			if _, err := s.Pool().Exec(ctx, `ANALYZE projects`); err != nil {
				b.Fatal(err)
			}
			c := store.Claim{Owner: "bench", LeaseFor: time.Minute, Now: t0.Add(time.Hour), MaxPerUser: 2}
			rows, err := s.PickUsersRowsTouched(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				p, ok, err := s.ClaimDue(ctx, c)
				if err != nil || !ok {
					b.Fatalf("claim: %v %v", ok, err)
				}
				b.StopTimer()
				if err := s.ReleaseLease(ctx, p.Key, p.LeaseToken, t0); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(rows), "rows/claim")
		})
	}
	// The steady-state size: 10,000 projects of 1,000 users.
	b.Run("users=1000,projects=10000", func(b *testing.B) {
		ctx := context.Background()
		s := openStore(b)
		k := store.Key{UserID: "user", ProjectID: "p"}
		if _, _, err := s.PutSpec(ctx, k, spec(1), nil, t0); err != nil {
			b.Fatal(err)
		}
		seedDue(b, s, k, 9_999, t0)
		// Spread the copies over 1,000 users, 10 projects each.
		if _, err := s.Pool().Exec(ctx, `UPDATE projects SET user_id = 'user' || lpad((abs(hashtext(project_id)) % 1000)::text, 4, '0')`); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pool().Exec(ctx, `ANALYZE projects`); err != nil {
			b.Fatal(err)
		}
		c := store.Claim{Owner: "bench", LeaseFor: time.Minute, Now: t0.Add(time.Hour), MaxPerUser: 2}
		rows, err := s.PickUsersRowsTouched(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			p, ok, err := s.ClaimDue(ctx, c)
			if err != nil || !ok {
				b.Fatalf("claim: %v %v", ok, err)
			}
			b.StopTimer()
			if err := s.ReleaseLease(ctx, p.Key, p.LeaseToken, t0); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(rows), "rows/claim")
	})
}
