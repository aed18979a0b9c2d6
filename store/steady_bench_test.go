package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// BenchmarkSteadyState times the queries a reconciler runs while nothing
// changes, at 1,000, 10,000 and 50,000 Ready projects (ten per user), each
// with one tagged resource in the inventory: the claim that finds nothing
// due, NextDueAt after every pass, one project's inventory for its drift
// check, and one region's listing replaced with the same resources (the
// inventory refresh). Each must stay flat, or grow at most linearly for
// the listing, as the table grows.
//
//	go test ./store -run '^$' -bench SteadyState -benchtime 200x
func BenchmarkSteadyState(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 50_000} {
		b.Run(fmt.Sprintf("projects=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s := openStore(b)
			now := t0
			seed := store.Key{UserID: "user", ProjectID: "p"}
			if _, _, err := s.PutSpec(ctx, seed, spec(1), nil, now); err != nil {
				b.Fatal(err)
			}
			// Every project Ready and next due at its resync, an hour on.
			seedDue(b, s, seed, n-1, now.Add(time.Hour))
			if _, err := s.Pool().Exec(ctx, `UPDATE projects SET user_id = 'user' || lpad((abs(hashtext(project_id)) % `+fmt.Sprint(n/10)+`)::text, 5, '0'),
				phase = 'Ready', observed_generation = generation, due_at = $1`, now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Pool().Exec(ctx, `ANALYZE projects`); err != nil {
				b.Fatal(err)
			}
			var keys []store.Key
			rows, err := s.Pool().Query(ctx, `SELECT user_id, project_id FROM projects`)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var k store.Key
				rows.Scan(&k.UserID, &k.ProjectID)
				keys = append(keys, k)
			}
			if rows.Err() != nil || len(keys) != n {
				b.Fatalf("%d projects seeded, want %d: %v", len(keys), n, rows.Err())
			}
			items := make([]store.InventoryItem, n)
			for i, k := range keys {
				items[i] = store.InventoryItem{
					ARN: fmt.Sprintf("arn:aws:dynamodb:us-east-1:000000000000:table/%s-%s", k.UserID, k.ProjectID), Type: "dynamodb:table", Region: "us-east-1",
					Tags: map[string]string{"ManagedBy": tf.ManagedByTag, "UserId": k.UserID, "ProjectId": k.ProjectID,
						"Project": tf.ProjectTag(k.UserID, k.ProjectID), "Environment": "bench", "CreatedAt": "2026-12-01T00:00:00Z"},
				}
			}
			if _, err := s.ReplaceInventory(ctx, "us-east-1", items); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Pool().Exec(ctx, `ANALYZE aws_inventory`); err != nil {
				b.Fatal(err)
			}

			b.Run("claim-nothing-due", func(b *testing.B) {
				c := store.Claim{Owner: "bench", LeaseFor: time.Minute, Now: now, MaxPerUser: 1}
				for range b.N {
					if _, ok, err := s.ClaimDue(ctx, c); err != nil || ok {
						b.Fatalf("claim: %v %v", ok, err)
					}
				}
			})
			b.Run("next-due-at", func(b *testing.B) {
				for range b.N {
					if _, ok, err := s.NextDueAt(ctx, now); err != nil || !ok {
						b.Fatalf("NextDueAt: %v %v", ok, err)
					}
				}
			})
			b.Run("project-inventory", func(b *testing.B) {
				for i := range b.N {
					k := keys[i%len(keys)]
					inv, err := s.ProjectInventory(ctx, tf.ProjectTag(k.UserID, k.ProjectID))
					if err != nil || len(inv.Items) != 1 {
						b.Fatalf("inventory of %s: %d items, %v", k, len(inv.Items), err)
					}
				}
			})
			b.Run("replace-inventory-unchanged", func(b *testing.B) {
				for range b.N {
					if _, err := s.ReplaceInventory(ctx, "us-east-1", items); err != nil {
						b.Fatal(err)
					}
				}
				// Nothing changed: no project may have been made due.
				if _, ok, _ := s.ClaimDue(ctx, store.Claim{Owner: "bench", LeaseFor: time.Minute, Now: now, MaxPerUser: 1}); ok {
					b.Fatal("an unchanged listing made a project due")
				}
			})
		})
	}
}
