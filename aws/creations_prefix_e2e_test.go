//go:build e2e

package aws_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// A bucket_prefix bucket whose apply dies after AWS created it (its
// CreateBucket answer, or its PutBucketTagging answer, never reaches the
// provider) has a name terraform never learnt. The next reconciler finds
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
func TestInterruptedPrefixCreateThenRetryLeavesOneBucket(t *testing.T) {
	for _, tc := range []struct {
		name, provider string
		window         func(awstest.Request) bool
	}{
		{"double, after CreateBucket", "double", isCreateBucket},
		{"double, after PutBucketTagging", "double", isPutBucketTagging},
		{"real, after CreateBucket", "real", isCreateBucket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPrefixRecovery(t, tc.provider)
			held := r.interrupt(t, tc.window)
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
	for _, tc := range []struct {
		name   string
		window func(awstest.Request) bool
	}{
		{"after CreateBucket", isCreateBucket},
		{"after PutBucketTagging", isPutBucketTagging},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPrefixRecovery(t, "double")
			held := r.interrupt(t, tc.window)
			r.reconcile(t, prefixSpec("alice-logs2-"))
			if old := buckets(t, r.emu, "alice-logs-"); len(old) != 0 {
				t.Fatalf("buckets of the old prefix left: %v (the interrupted run made %s)", old, held)
			}
			if now := buckets(t, r.emu, "alice-logs2-"); len(now) != 1 {
				t.Fatalf("buckets of the new prefix: %v, want one", now)
			}
			r.checkAdoptedAndResolved(t, false)
		})
	}
}

func isCreateBucket(r awstest.Request) bool {
	return r.Service == "s3" && r.Method == "PUT" && strings.HasPrefix(r.Path, "/alice-logs-") &&
		strings.Count(r.Path, "/") == 1 && r.Query == ""
}

func isPutBucketTagging(r awstest.Request) bool {
	return r.Service == "s3" && r.Method == "PUT" && strings.HasPrefix(r.Path, "/alice-logs-") &&
		strings.Count(r.Path, "/") == 1 && strings.Contains(r.Query, "tagging")
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
	ctx := t.Context()
	var mirror string
	wait := 5 * time.Minute
	if provider == "real" {
		mirror = realProviderMirror(t)
		wait = 15 * time.Minute // the real provider is slow to start on a loaded machine
	} else {
		mirror = awstest.ProviderMirror(t)
	}
	emu := awstest.New(t)
	dbURL := storetest.NewDatabase(t)
	st, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	bin, _, err := tf.FindBinary(ctx, tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if errors.Is(err, tf.ErrBinaryNotFound) {
		t.Skip("no terraform binary")
	}
	if err != nil {
		t.Fatal(err)
	}
	engine, err := tf.New(tf.Config{BinaryPath: bin, WorkRoot: t.TempDir(), PGConnStr: dbURL, FilesystemMirror: mirror,
		ProviderLock: awstest.MirrorLock(provider == "real"), AWSEndpointURL: emu.URL, Environment: "test", StopGrace: 2 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := tfaws.NewCredentials(tfaws.CredentialsConfig{Base: emu.Config(), RoleARN: testRole, ExternalID: "xid"})
	if err != nil {
		t.Fatal(err)
	}
	finder, err := tfaws.NewOrphans(tfaws.OrphanConfig{Base: emu.Config(), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	cfg := controller.Config{Owner: "first", Credentials: creds, Creations: finder, Environment: "test",
		LeaseDuration: 30 * time.Second, ShutdownGrace: time.Second, OperationTimeout: 20 * time.Minute,
		Logger: zaptest.NewLogger(t)}
	return &prefixRecovery{emu: emu, st: st, engine: engine, cfg: cfg, key: store.Key{UserID: "alice", ProjectID: "logs"}, wait: wait}
}

// interrupt applies the project with prefix "alice-logs-" and stops its
// reconciler (terraform interrupted at once) while the emulator holds the
// answer to the request window matches: the bucket exists, terraform
// never learns its name. It returns that name.
func (r *prefixRecovery) interrupt(t *testing.T, window func(awstest.Request) bool) string {
	t.Helper()
	ctx := t.Context()
	if _, _, err := r.st.PutSpec(ctx, r.key, prefixSpec("alice-logs-"), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	hold := r.emu.HoldAnswers(t, window)
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
