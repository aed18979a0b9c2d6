package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestPutOfAnExistingProject pins every decision a PUT of an existing
// project makes, which the one-statement path (putExistingSQL) and the
// transaction behind it must agree on: TTL restarts, If-Match against an
// unchanged spec, a project on its way out, and one whose destroy failed.
func TestPutOfAnExistingProject(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "erin", ProjectID: "ttl"}
	if _, _, err := s.PutSpec(ctx, key, spec(1), nil, t0); err != nil {
		t.Fatal(err)
	}

	// A changed spec with the same TTL keeps the expiry; a changed TTL
	// restarts it from now.
	p, res, err := s.PutSpec(ctx, key, spec(2), nil, t0.Add(time.Minute))
	if err != nil || res != store.Updated || !p.ExpiresAt.Equal(t0.Add(time.Hour)) || !p.DueAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("changed spec: %v %v expires %v due %v", res, err, p.ExpiresAt, p.DueAt)
	}
	longer := spec(2)
	longer.TTLMinutes = 90
	p, res, err = s.PutSpec(ctx, key, longer, nil, t0.Add(2*time.Minute))
	if err != nil || res != store.Updated || p.Generation != 3 || !p.ExpiresAt.Equal(t0.Add(92*time.Minute)) {
		t.Fatalf("changed TTL: %v %v gen %d expires %v", res, err, p.Generation, p.ExpiresAt)
	}

	// The same spec: Unchanged under a matching If-Match, 412 under a
	// stale one, and nothing written either way.
	gen := int64(3)
	if p, res, err = s.PutSpec(ctx, key, longer, &gen, t0.Add(3*time.Minute)); err != nil || res != store.Unchanged || p.Generation != 3 || !p.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("same spec, matching If-Match: %v %v gen %d updated %v", res, err, p.Generation, p.UpdatedAt)
	}
	stale := int64(2)
	if _, _, err := s.PutSpec(ctx, key, longer, &stale, t0); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("same spec, stale If-Match: %v, want ErrPreconditionFailed", err)
	}

	// Being destroyed: neither a changed nor the same spec is taken...
	if _, err := s.RequestDeletion(ctx, key, false, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, sp := range []store.Spec{longer, spec(5)} {
		if _, _, err := s.PutSpec(ctx, key, sp, nil, t0.Add(5*time.Minute)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("PUT while being destroyed: %v, want ErrConflict", err)
		}
	}
	// ...unless the destroy failed: then a corrected spec is, and the
	// project stays on its way out.
	if _, err := s.Pool().Exec(ctx, `UPDATE projects SET conditions = '[{"type": "DestroyFailed", "status": "True"}]'
		WHERE user_id = $1 AND project_id = $2`, key.UserID, key.ProjectID); err != nil {
		t.Fatal(err)
	}
	p, res, err = s.PutSpec(ctx, key, spec(6), nil, t0.Add(6*time.Minute))
	if err != nil || res != store.Updated || p.Generation != 4 || p.DeletionRequestedAt == nil {
		t.Fatalf("corrected spec after a failed destroy: %v %v gen %d deletion %v", res, err, p.Generation, p.DeletionRequestedAt)
	}
	if p, res, err = s.PutSpec(ctx, key, spec(6), nil, t0.Add(7*time.Minute)); err != nil || res != store.Unchanged || p.Generation != 4 {
		t.Fatalf("same spec after a failed destroy: %v %v gen %d", res, err, p.Generation)
	}
}

// PutSpecUnlessCostOverride writes (creations included) for a user
// without a cost cap of their own, and writes nothing and returns the
// override for one with it.
func TestPutSpecUnlessCostOverride(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	key := store.Key{UserID: "fay", ProjectID: "guarded"}
	p, res, o, err := s.PutSpecUnlessCostOverride(ctx, key, spec(1), nil, t0, 10)
	if err != nil || o != nil || res != store.Created || p.Generation != 1 {
		t.Fatalf("create without an override: %v %v %v gen %d", res, o, err, p.Generation)
	}
	resourcesOnly := 3
	if err := s.SetQuotaOverride(ctx, key.UserID, store.QuotaOverride{MaxResources: &resourcesOnly}, t0); err != nil {
		t.Fatal(err)
	}
	if p, res, o, err = s.PutSpecUnlessCostOverride(ctx, key, spec(2), nil, t0, 10); err != nil || o != nil || res != store.Updated || p.Generation != 2 {
		t.Fatalf("update under a resources-only override: %v %v %v gen %d", res, o, err, p.Generation)
	}
	cost := 10.0
	if err := s.SetQuotaOverride(ctx, key.UserID, store.QuotaOverride{MaxMonthlyCostUSD: &cost}, t0); err != nil {
		t.Fatal(err)
	}
	for _, k := range []store.Key{key, {UserID: key.UserID, ProjectID: "new"}} {
		for _, sp := range []store.Spec{spec(2), spec(3)} {
			_, _, o, err = s.PutSpecUnlessCostOverride(ctx, k, sp, nil, t0, 10)
			if err != nil || o == nil || o.MaxMonthlyCostUSD == nil || *o.MaxMonthlyCostUSD != 10 {
				t.Fatalf("PUT of %s under a cost override: override %+v, %v; want it returned", k, o, err)
			}
		}
	}
	if p, err := s.GetProject(ctx, key); err != nil || p.Generation != 2 {
		t.Fatalf("after the refused writes: gen %d %v, want 2", p.Generation, err)
	}
	if _, err := s.GetProject(ctx, store.Key{UserID: key.UserID, ProjectID: "new"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a project was created under a cost override: %v", err)
	}
}
