//go:build e2e

package aws_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/zap/zaptest"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/controller"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/providers"
)

// realProviderMirror is the filesystem mirror holding the real
// hashicorp/aws (TF_PROVIDER_MIRROR, default /opt/tf-plugins); the test is
// skipped without it.
func realProviderMirror(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = "/opt/tf-plugins"
	}
	if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Skipf("no real hashicorp/aws provider in the mirror %s", dir)
	}
	return dir
}

// recoveryWorld is what the recovery tests reconcile in: the emulator, a
// migrated database, real terraform with the given provider mirror and
// lock (nil: the platform's), and a reconciler configuration that finds
// what interrupted applies created.
type recoveryWorld struct {
	emu    *awstest.Emulator
	st     *store.Store
	engine *tf.Engine
	cfg    controller.Config
}

func newRecoveryWorld(t *testing.T, mirror string, lock *providers.Lock) recoveryWorld {
	t.Helper()
	ctx := t.Context()
	emu := awstest.New(t)
	st, dbURL := openStoreURL(t)
	bin, _, err := tf.FindBinary(ctx, tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if errors.Is(err, tf.ErrBinaryNotFound) {
		t.Skip("no terraform binary")
	}
	if err != nil {
		t.Fatal(err)
	}
	engine, err := tf.New(tf.Config{BinaryPath: bin, WorkRoot: t.TempDir(), PGConnStr: dbURL, FilesystemMirror: mirror,
		ProviderLock: lock, AWSEndpointURL: emu.URL, Environment: "test", StopGrace: 2 * time.Second, Logger: zaptest.NewLogger(t)})
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
	return recoveryWorld{emu: emu, st: st, engine: engine, cfg: cfg}
}

// The real provider creates an S3 bucket with two calls, CreateBucket then
// PutBucketTagging. A reconciler killed between them leaves an untagged
// bucket the tagged inventory never lists; before, the fixed name failed
// every retry with BucketAlreadyOwnedByYou and the prefix made a twin.
// Here the apply is interrupted while both CreateBucket answers are held
// (both buckets exist, untagged), and the spec then drops the prefixed
// bucket. The next reconciler finds both by the creation record: it adopts
// the fixed name (imported, then tagged) and deletes the prefixed one, and
// the project is Ready with exactly one bucket.
func TestRecoveryFindsUntaggedBucketsOfAnInterruptedApply(t *testing.T) {
	ctx := t.Context()
	w := newRecoveryWorld(t, realProviderMirror(t), nil)
	emu, st, engine, cfg := w.emu, w.st, w.engine, w.cfg

	key := store.Key{UserID: "alice", ProjectID: "site"}
	spec := store.Spec{Region: "us-east-1", TTLMinutes: 60, MaxMonthlyCostUSD: 50, Files: map[string]string{"main.tf": `
resource "aws_s3_bucket" "site" {
  bucket = "alice-site"
}
resource "aws_s3_bucket" "logs" {
  bucket_prefix = "alice-logs-"
}
`}}
	if _, _, err := st.PutSpec(ctx, key, spec, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	creates := emu.HoldAnswers(t, func(r awstest.Request) bool {
		return r.Service == "s3" && r.Method == "PUT" && strings.Count(r.Path, "/") == 1 && strings.HasPrefix(r.Path, "/alice-")
	})
	first := controller.New(cfg, st, engine)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { first.Run(runCtx); close(stopped) }()
	for held := 0; held < 2; held++ {
		select {
		case <-creates.Held:
		case <-time.After(15 * time.Minute): // the real provider is slow to start on a loaded machine
			t.Fatalf("terraform created %d of the 2 buckets", held)
		}
	}
	stop() // the reconciler dies with both CreateBucket answers unanswered
	first.InterruptNow()
	<-stopped
	creates.Release()
	if got := buckets(t, emu, "alice-"); len(got) != 2 {
		t.Fatalf("after the crash: buckets %v, want the two", got)
	}
	for _, b := range buckets(t, emu, "alice-") {
		if tags := liveBucketTags(t, emu, b); len(tags) != 0 {
			t.Fatalf("bucket %s was tagged before the crash (%v): the window under test is missed", b, tags)
		}
	}

	spec.Files = map[string]string{"main.tf": `
resource "aws_s3_bucket" "site" {
  bucket = "alice-site"
}
`}
	if _, _, err := st.PutSpec(ctx, key, spec, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.Owner = "second"
	second := controller.New(cfg, st, engine)
	runCtx, stop = context.WithCancel(ctx)
	stopped = make(chan struct{})
	go func() { second.Run(runCtx); close(stopped) }()
	defer func() { stop(); <-stopped }()
	p := waitFor(t, st, key, 30*time.Minute, func(p store.Project) bool {
		return p.Status.Phase == store.PhaseReady && p.Status.ObservedGeneration == p.Generation
	})
	if got := buckets(t, emu, "alice-"); len(got) != 1 || got[0] != "alice-site" {
		t.Fatalf("buckets %v, want alice-site alone (adopted; the prefixed one deleted)", got)
	}
	if tags := liveBucketTags(t, emu, "alice-site"); tags["UserId"] != "alice" || tags["ProjectId"] != "site" || tags["ManagedBy"] != tf.ManagedByTag {
		t.Errorf("the adopted bucket's tags: %v", tags)
	}
	runs, err := st.ListRuns(ctx, key, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	adopted := false
	for _, r := range runs {
		adopted = adopted || r.Reason == "Adopt"
		if r.Outcome == store.OutcomeSucceeded && r.Operation == store.OpApply && strings.Contains(r.Error, "BucketAlreadyOwnedByYou") {
			t.Errorf("run %d: %s", r.ID, r.Error)
		}
	}
	if !adopted {
		t.Errorf("no Adopt run: %+v", runs)
	}
	if pending, _ := st.PendingCreations(ctx, p.UID); len(pending) != 0 {
		t.Errorf("creation records left: %+v", pending)
	}
}

// waitFor polls the project until ok or the deadline.
func waitFor(t *testing.T, st *store.Store, key store.Key, within time.Duration, ok func(store.Project) bool) store.Project {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := st.GetProject(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("project %s: phase %s, message %q, error %q", key, p.Status.Phase, p.Status.Message, p.Status.LastError)
		}
		<-tick.C
	}
}

// buckets lists the emulator's buckets whose name starts with prefix.
func buckets(t *testing.T, emu *awstest.Emulator, prefix string) []string {
	t.Helper()
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	out, err := s3c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		if n := awssdk.ToString(b.Name); strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// liveBucketTags is the bucket's tags; none when it has no tag set.
func liveBucketTags(t *testing.T, emu *awstest.Emulator, name string) map[string]string {
	t.Helper()
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	out, err := s3c.GetBucketTagging(context.Background(), &s3.GetBucketTaggingInput{Bucket: awssdk.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchTagSet") {
			return nil
		}
		t.Fatalf("tags of bucket %s: %v", name, err)
	}
	tags := map[string]string{}
	for _, tag := range out.TagSet {
		tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
	}
	return tags
}
