//go:build e2e

package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// A bucket_prefix bucket whose apply dies after AWS created it (its
// CreateBucket answer never reaches the provider) has a name terraform
// never learnt. The next reconciler finds
// it by the recorded prefix, the provider's generated suffix and
// ListBuckets' CreationDate inside the run's window:
//
//   - the configuration still declares that prefix: the bucket is adopted
//     (an import), so the retry makes no second bucket;
//   - the spec moved on to another prefix: the bucket is deleted.
//
// Both with the test double of hashicorp/aws (which names buckets as the
// real provider does: a double naming otherwise made the crash suite count
// every such kill as a leak or a twin) and, for the retry, with the real
// provider when its mirror is installed (the spec change with the real
// provider is TestRecoveryFindsUntaggedBucketsOfAnInterruptedApply).
//
// The window is CreateBucket's: the reconciler is stopped with SIGINT,
// so a provider interrupted after a PutBucketTagging would still have
// terraform record the bucket (tainted, then replaced), which is not what
// a kill leaves; the crash suite SIGKILLs reconcilers in that window.
func TestInterruptedPrefixCreateThenRetryLeavesOneBucket(t *testing.T) {
	for _, provider := range []string{"double", "real"} {
		t.Run(provider, func(t *testing.T) {
			r := newPrefixRecovery(t, provider)
			held := r.interrupt(t)
			r.reconcile(t, prefixSpec("alice-logs-"))
			got := buckets(t, r.emu, "alice-")
			if len(got) != 1 || got[0] != held {
				t.Fatalf("buckets %v, want only %s (the interrupted run's, adopted): a retry made a twin or lost it", got, held)
			}
			if tags := liveBucketTags(t, r.emu, held); tags["UserId"] != "alice" || tags["ProjectId"] != "logs" {
				t.Errorf("the adopted bucket's tags: %v", tags)
			}
			r.checkAdoptedAndResolved(t, true)
		})
	}
}

func TestInterruptedPrefixCreateThenSpecChangeLeavesNoneOfTheOld(t *testing.T) {
	r := newPrefixRecovery(t, "double")
	held := r.interrupt(t)
	r.reconcile(t, prefixSpec("alice-logs2-"))
	if old := buckets(t, r.emu, "alice-logs-"); len(old) != 0 {
		t.Fatalf("buckets of the old prefix left: %v (the interrupted run made %s)", old, held)
	}
	if now := buckets(t, r.emu, "alice-logs2-"); len(now) != 1 {
		t.Fatalf("buckets of the new prefix: %v, want one", now)
	}
	r.checkAdoptedAndResolved(t, false)
}

func isCreateBucket(r awstest.Request) bool {
	return r.Service == "s3" && r.Method == "PUT" && strings.HasPrefix(r.Path, "/alice-logs-") &&
		strings.Count(r.Path, "/") == 1 && r.Query == ""
}

func prefixSpec(prefix string) store.Spec {
	return store.Spec{Region: "us-east-1", TTLMinutes: 60, MaxMonthlyCostUSD: 50, Files: map[string]string{"main.tf": `
resource "aws_s3_bucket" "logs" {
  bucket_prefix = "` + prefix + `"
  force_destroy = true
}
`}}
}

// prefixRecovery is one project (alice/logs), a store, terraform with the
// chosen provider and the emulator.
type prefixRecovery struct {
	emu    *awstest.Emulator
	st     *store.Store
	engine *tf.Engine
	cfg    controller.Config
	key    store.Key
	wait   time.Duration
}

func newPrefixRecovery(t *testing.T, provider string) *prefixRecovery {
	t.Helper()
	var mirror string
	wait := 5 * time.Minute
	if provider == "real" {
		mirror = realProviderMirror(t)
		wait = 15 * time.Minute // the real provider is slow to start on a loaded machine
	} else {
		mirror = awstest.PrivateProviderMirror(t)
	}
	w := newRecoveryWorld(t, mirror, awstest.MirrorLock(provider == "real"))
	return &prefixRecovery{emu: w.emu, st: w.st, engine: w.engine, cfg: w.cfg, key: store.Key{UserID: "alice", ProjectID: "logs"}, wait: wait}
}

// interrupt applies the project with prefix "alice-logs-" and stops its
// reconciler (terraform interrupted at once) while the emulator holds the
// answer to the request window matches: the bucket exists, terraform
// never learns its name. It returns that name.
func (r *prefixRecovery) interrupt(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	if _, _, err := r.st.PutSpec(ctx, r.key, prefixSpec("alice-logs-"), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	hold := r.emu.HoldAnswers(t, isCreateBucket)
	first := controller.New(r.cfg, r.st, r.engine)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { first.Run(runCtx); close(stopped) }()
	select {
	case <-hold.Held:
	case <-time.After(r.wait):
		stop()
		<-stopped
		t.Fatalf("the apply never reached the window in %s", r.wait)
	}
	stop() // the reconciler dies with the answer unanswered
	first.InterruptNow()
	<-stopped
	hold.Release()
	got := buckets(t, r.emu, "alice-")
	if len(got) != 1 {
		t.Fatalf("after the crash: buckets %v, want the one the run created", got)
	}
	if _, ok := tfaws.GeneratedAt("alice-logs-", got[0]); !ok {
		t.Fatalf("bucket %s is not named as hashicorp/aws names a bucket_prefix bucket (prefix, UTC time, counter)", got[0])
	}
	if p, err := r.st.GetProject(ctx, r.key); err != nil || p.Status.Phase == store.PhaseReady {
		t.Fatalf("the interrupted apply finished anyway (%v): the window under test is missed", err)
	}
	return got[0]
}

// reconcile writes spec and runs a second reconciler until the project is
// Ready at its newest generation.
func (r *prefixRecovery) reconcile(t *testing.T, spec store.Spec) {
	t.Helper()
	ctx := t.Context()
	if _, _, err := r.st.PutSpec(ctx, r.key, spec, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := r.cfg
	cfg.Owner = "second"
	second := controller.New(cfg, r.st, r.engine)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { second.Run(runCtx); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })
	waitFor(t, r.st, r.key, 2*r.wait, func(p store.Project) bool {
		return p.Status.Phase == store.PhaseReady && p.Status.ObservedGeneration == p.Generation
	})
}

// checkAdoptedAndResolved: an Adopt run exactly when adopting, and no
// creation record left once the project is Ready.
func (r *prefixRecovery) checkAdoptedAndResolved(t *testing.T, adopt bool) {
	t.Helper()
	ctx := t.Context()
	runs, err := r.st.ListRuns(ctx, r.key, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	adopted := false
	for _, run := range runs {
		adopted = adopted || run.Reason == "Adopt"
	}
	if adopted != adopt {
		t.Errorf("an Adopt run: %v, want %v (runs %+v)", adopted, adopt, runs)
	}
	p, err := r.st.GetProject(ctx, r.key)
	if err != nil {
		t.Fatal(err)
	}
	if pending, _ := r.st.PendingCreations(ctx, p.UID); len(pending) != 0 {
		t.Errorf("creation records left: %+v", pending)
	}
}
