package aws_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

const testRole = "arn:aws:iam::000000000000:role/ChartAppHerokuRole"

// clock is an injected clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCredentials(t *testing.T, emu *awstest.Emulator, now func() time.Time, log *zap.Logger, reg ...prometheus.Registerer) *tfaws.Credentials {
	t.Helper()
	cfg := tfaws.CredentialsConfig{
		Base:       emu.Config(),
		RoleARN:    testRole,
		ExternalID: "the-external-id",
		Now:        now,
		Logger:     log,
	}
	if len(reg) > 0 {
		cfg.Registerer = reg[0]
	}
	c, err := tfaws.NewCredentials(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConcurrentReconcilesOfOneProjectMakeOneSTSCall(t *testing.T) {
	emu := awstest.New(t)
	reg := prometheus.NewRegistry()
	creds := newCredentials(t, emu, nil, nil, reg)

	var wg sync.WaitGroup
	got := make([]*tf.Credentials, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = creds.ForProject(t.Context(), "alice", "demo") })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if *got[i] != *got[0] {
			t.Fatalf("call %d got other credentials than call 0", i)
		}
	}
	if got[0].AccessKeyID == "" || got[0].SecretAccessKey == "" || got[0].SessionToken == "" {
		t.Fatalf("incomplete credentials: key %q, secret set %v, token set %v", got[0].AccessKeyID, got[0].SecretAccessKey != "", got[0].SessionToken != "")
	}
	if n := len(emu.STSCalls()); n != 1 {
		t.Fatalf("20 reconciles made %d STS calls, want 1", n)
	}
	if got := metricValue(t, reg, "tenantform_aws_assume_role_total", nil); got != 1 {
		t.Fatalf("tenantform_aws_assume_role_total = %v, want 1", got)
	}
}

// metricValue reads one series of a registry (labels nil for none).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}

func TestAssumeRoleSendsExternalIDSessionNameAndTags(t *testing.T) {
	emu := awstest.New(t)
	creds := newCredentials(t, emu, nil, nil)
	if _, err := creds.ForProject(t.Context(), "alice", "demo"); err != nil {
		t.Fatal(err)
	}
	want := []awstest.STSCall{{
		RoleARN:         testRole,
		RoleSessionName: "chart-app-alice-demo",
		ExternalID:      "the-external-id",
		DurationSeconds: "3600",
		Tags: map[string]string{
			"UserId": "alice", "ProjectId": "demo", "Project": "chart-app-alice-demo",
			"NamePrefix": policy.NamePrefixTag("alice", "demo"),
		},
		TransitiveTagKeys: []string{"UserId", "ProjectId", "Project", "NamePrefix"},
	}}
	if diff := cmp.Diff(want, emu.STSCalls()); diff != "" {
		t.Fatalf("AssumeRole requests (-want +got):\n%s", diff)
	}
}

func TestCredentialsAreRefreshedTenMinutesBeforeExpiry(t *testing.T) {
	emu := awstest.New(t)
	// kumo dates the expiry from the real clock: one hour from now.
	clk := &clock{now: time.Now()}
	creds := newCredentials(t, emu, clk.Now, nil)

	first, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(49 * time.Minute)
	again, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first || len(emu.STSCalls()) != 1 {
		t.Fatalf("at 49 min: %d STS calls and same credentials %v; want 1 call, cached credentials", len(emu.STSCalls()), *again == *first)
	}
	clk.Add(2 * time.Minute) // 51 min: less than 10 min left
	fresh, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if *fresh == *first || len(emu.STSCalls()) != 2 {
		t.Fatalf("at 51 min: %d STS calls, new credentials %v; want 2 calls and new credentials", len(emu.STSCalls()), *fresh != *first)
	}
}

func TestEachProjectGetsItsOwnSession(t *testing.T) {
	emu := awstest.New(t)
	creds := newCredentials(t, emu, nil, nil)
	a, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	b, err := creds.ForProject(t.Context(), "bob", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID == b.AccessKeyID || a.SecretAccessKey == b.SecretAccessKey {
		t.Fatal("two projects share credentials")
	}
	var sessions []string
	for _, c := range emu.STSCalls() {
		sessions = append(sessions, c.RoleSessionName)
	}
	if diff := cmp.Diff([]string{"chart-app-alice-demo", "chart-app-bob-demo"}, sessions); diff != "" {
		t.Fatalf("sessions (-want +got):\n%s", diff)
	}
}

func TestWrongExternalIDIsATerminalDeniedError(t *testing.T) {
	emu := awstest.New(t)
	emu.RequireExternalID("the-right-one")
	reg := prometheus.NewRegistry()
	creds := newCredentials(t, emu, nil, nil, reg)

	_, err := creds.ForProject(t.Context(), "alice", "demo")
	var denied *tfaws.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("err = %v, want a *DeniedError", err)
	}
	if denied.Code != "AccessDenied" || !strings.Contains(denied.Message, "is not authorized to perform: sts:AssumeRole") || denied.RoleARN != testRole {
		t.Fatalf("denied = %+v, want AWS's AccessDenied with its message", denied)
	}
	if tfaws.IsThrottled(err) {
		t.Fatal("a denial is not throttling")
	}
	// Not cached: the next reconcile asks again (the role may be fixed).
	if _, err := creds.ForProject(t.Context(), "alice", "demo"); !tfaws.IsDenied(err) {
		t.Fatalf("second call: %v", err)
	}
	if n := len(emu.STSCalls()); n != 2 {
		t.Fatalf("%d STS calls, want 2", n)
	}
	if got := metricValue(t, reg, "tenantform_aws_assume_role_failures_total", map[string]string{"reason": "denied"}); got != 2 {
		t.Fatalf("denied failures = %v, want 2", got)
	}
}

func TestThrottlingIsRetryable(t *testing.T) {
	emu := awstest.New(t)
	emu.FailNextAssumeRole("Throttling", "Rate exceeded", http.StatusBadRequest)
	creds := newCredentials(t, emu, nil, nil)

	_, err := creds.ForProject(t.Context(), "alice", "demo")
	if !tfaws.IsThrottled(err) || tfaws.IsDenied(err) {
		t.Fatalf("err = %v, want a *ThrottledError", err)
	}
	var r interface{ Retryable() bool }
	if !errors.As(err, &r) || !r.Retryable() {
		t.Fatal("a throttled error must say it is retryable")
	}
	if _, err := creds.ForProject(t.Context(), "alice", "demo"); err != nil {
		t.Fatalf("after throttling: %v", err)
	}
}

func TestWithoutARoleTheBaseCredentialsAreUsed(t *testing.T) {
	emu := awstest.New(t)
	base := emu.Config()
	base.Credentials = credentials.NewStaticCredentialsProvider("AKIDBASE", "base-secret", "base-token")
	creds, err := tfaws.NewCredentials(tfaws.CredentialsConfig{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	got, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := tf.Credentials{AccessKeyID: "AKIDBASE", SecretAccessKey: "base-secret", SessionToken: "base-token"}
	if *got != want {
		t.Fatalf("got key %q, want the base identity's", got.AccessKeyID)
	}
	if n := len(emu.STSCalls()); n != 0 {
		t.Fatalf("%d STS calls without a role", n)
	}
}

func TestCredentialValuesNeverReachTheLog(t *testing.T) {
	emu := awstest.New(t)
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	creds := newCredentials(t, emu, nil, zap.New(core), reg)
	got, err := creds.ForProject(t.Context(), "alice", "demo")
	if err != nil {
		t.Fatal(err)
	}
	emu.RequireExternalID("other")
	creds.Forget("alice", "demo")
	if _, err := creds.ForProject(t.Context(), "alice", "demo"); err == nil {
		t.Fatal("want a denial")
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
	var exposition strings.Builder
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		exposition.WriteString(f.String())
	}
	for _, secret := range []string{got.AccessKeyID, got.SecretAccessKey, got.SessionToken, "the-external-id"} {
		if strings.Contains(exposition.String(), secret) {
			t.Fatal("a credential reached the metrics")
		}
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		for _, secret := range []string{got.AccessKeyID, got.SecretAccessKey, got.SessionToken, "the-external-id"} {
			if strings.Contains(line, secret) {
				t.Fatalf("log line %q holds a credential", line)
			}
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case error:
		return v.Error()
	}
	return ""
}

func TestSessionName(t *testing.T) {
	long := strings.Repeat("u", 40)
	for _, tc := range []struct{ user, project, want string }{
		{"alice", "demo", "chart-app-alice-demo"},
		{"a.b", "x y", "chart-app-a.b-x-y"},
		{long, "p", "chart-app-" + long + "-p"},
	} {
		if got := tfaws.SessionName(tc.user, tc.project); got != tc.want {
			t.Errorf("SessionName(%q, %q) = %q, want %q", tc.user, tc.project, got, tc.want)
		}
	}
	a := tfaws.SessionName(long, strings.Repeat("p", 40))
	b := tfaws.SessionName(long, strings.Repeat("p", 39)+"q")
	if len(a) != 64 || len(b) != 64 || a == b || !strings.HasPrefix(a, "chart-app-uuu") {
		t.Fatalf("long names %q and %q: want 64 characters each, distinct", a, b)
	}
}

func TestServiceConfigAssumesTheRoleAsThePlatform(t *testing.T) {
	emu := awstest.New(t)
	cfg := tfaws.ServiceConfig(emu.Config(), testRole, "the-external-id", "tenantform-reconciler")
	st := openStore(t)
	r, err := tfaws.NewRefresher(tfaws.InventoryConfig{Base: cfg, Regions: []string{"us-east-1"}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	want := []awstest.STSCall{{
		RoleARN: testRole, RoleSessionName: "tenantform-reconciler", ExternalID: "the-external-id",
		DurationSeconds: "900", Tags: map[string]string{"Project": "chart-app-platform"}, TransitiveTagKeys: []string{"Project"},
	}}
	if diff := cmp.Diff(want, emu.STSCalls()); diff != "" {
		t.Fatalf("AssumeRole requests (-want +got):\n%s", diff)
	}
	listings := 0
	for _, r := range emu.Requests() {
		if r.Service != "tagging" {
			continue
		}
		listings++
		if r.AccessKeyID == "AKIDEMULATOR" {
			t.Fatal("the inventory listed with the base identity instead of the role session")
		}
	}
	if listings != 2 {
		t.Fatalf("%d tagging requests recorded, want 2", listings)
	}
}

// TestCredentialsAreRefreshedForALongOperation: cached credentials with
// less validity left than an operation's deadline are renewed before the
// operation, even when the usual ten-minute refresh would keep them.
func TestCredentialsAreRefreshedForALongOperation(t *testing.T) {
	emu := awstest.New(t)
	// kumo dates the expiry from the real clock: one hour from now.
	clk := &clock{now: time.Now()}
	creds := newCredentials(t, emu, clk.Now, nil)

	first, err := creds.ForOperation(t.Context(), "alice", "demo", 12*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(47 * time.Minute) // 13 minutes left
	again, err := creds.ForOperation(t.Context(), "alice", "demo", 12*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if *again != *first || len(emu.STSCalls()) != 1 {
		t.Fatalf("13 min left for a 12 min operation: %d STS calls; want the cached credentials", len(emu.STSCalls()))
	}
	fresh, err := creds.ForOperation(t.Context(), "alice", "demo", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if *fresh == *first || len(emu.STSCalls()) != 2 {
		t.Fatalf("13 min left for a 15 min operation: %d STS calls, new credentials %v; want new credentials", len(emu.STSCalls()), *fresh != *first)
	}
	if _, err := creds.ForOperation(t.Context(), "alice", "demo", 2*time.Hour); err == nil || !strings.Contains(err.Error(), "TF_OPERATION_TIMEOUT") {
		t.Fatalf("an operation longer than a session: %v; want an error naming TF_OPERATION_TIMEOUT", err)
	}
}
