package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/api/client"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf/policy"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const secret = "client-test-secret-0123456789abcdef"

// newServer is a real API server on a migrated throwaway database.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewMigratedDatabase(t, store.MigrateURL), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{JWTSecret: []byte(secret), DefaultRegion: "us-east-1",
		Policy: policy.DefaultRules(), Changes: st}, st))
	t.Cleanup(srv.Close)
	return srv
}

// TestClientAgainstTheAPI: every typed call against a real server, and
// the API's errors as *client.Error values.
func TestClientAgainstTheAPI(t *testing.T) {
	srv := newServer(t)
	token, err := api.SignToken([]byte(secret), "alice", false, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := client.Spec{Files: map[string]string{"main.tf": `resource "terraform_data" "a" {}`}}

	p, created, err := c.PutProject(ctx, "alice", "demo", spec, 0)
	if err != nil || !created || p.Generation != 1 || p.Status.Phase != "Pending" {
		t.Fatalf("PutProject: %+v created=%v err=%v", p, created, err)
	}
	// A stale If-Match is a 412 *Error.
	spec.TTLMinutes = 90
	_, _, err = c.PutProject(ctx, "alice", "demo", spec, 7)
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusPreconditionFailed || ae.Code != "PreconditionFailed" {
		t.Fatalf("a stale If-Match: %v", err)
	}
	if p, created, err = c.PutProject(ctx, "alice", "demo", spec, 1); err != nil || created || p.Generation != 2 {
		t.Fatalf("PutProject with If-Match: %+v %v %v", p, created, err)
	}
	// A policy violation carries file:line in its message.
	bad := client.Spec{Files: map[string]string{"main.tf": "resource \"terraform_data\" \"a\" {\n  provisioner \"local-exec\" {\n    command = \"id\"\n  }\n}\n"}}
	_, _, err = c.PutProject(ctx, "alice", "bad", bad, 0)
	if !errors.As(err, &ae) || ae.Code != "PolicyViolation" || !strings.Contains(err.Error(), "main.tf:2: ") {
		t.Fatalf("a policy violation: %v", err)
	}

	if got, err := c.GetProject(ctx, "alice", "demo"); err != nil || got.Spec.TTLMinutes != 90 {
		t.Fatalf("GetProject: %+v %v", got, err)
	}
	if _, err := c.GetProject(ctx, "alice", "ghost"); !client.IsNotFound(err) {
		t.Fatalf("GetProject of a missing project: %v", err)
	}
	if list, err := c.ListProjects(ctx, "alice"); err != nil || len(list) != 1 || list[0].ProjectID != "demo" {
		t.Fatalf("ListProjects: %+v %v", list, err)
	}
	before := time.Now()
	if p, err := c.Extend(ctx, "alice", "demo", 120); err != nil || p.ExpiresAt.Before(before.Add(119*time.Minute)) {
		t.Fatalf("Extend: %v %v", p.ExpiresAt, err)
	}
	if _, err := c.Approve(ctx, "alice", "demo", 1); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("Approve without requireApproval: %v", err)
	}
	if runs, err := c.ListRuns(ctx, "alice", "demo", 10); err != nil || len(runs) != 0 {
		t.Fatalf("ListRuns: %v %v", runs, err)
	}

	// Watch: the current state, then the deletion.
	events := make(chan client.WatchEvent, 8)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.WatchProject(wctx, "alice", "demo", func(ev client.WatchEvent) error {
			events <- ev
			return nil
		})
	}()
	if ev := <-events; ev.Type != "ADDED" || ev.Project.Generation != 2 {
		t.Fatalf("the watch starts with %+v", ev)
	}
	if p, err := c.DeleteProject(ctx, "alice", "demo", false); err != nil || p.Status.Phase != "Destroying" {
		t.Fatalf("DeleteProject: %+v %v", p.Status, err)
	}
	select {
	case ev := <-events:
		if ev.Type != "MODIFIED" || ev.Project.Status.Phase != "Destroying" || ev.Version == "" {
			t.Fatalf("the watch saw the deletion as %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watch did not see the deletion")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("a cancelled watch returned %v", err)
	}
	// A watch the server refuses is its *Error, not an endless retry.
	if err := c.WatchProject(ctx, "alice", "ghost", func(client.WatchEvent) error { return nil }); !client.IsNotFound(err) {
		t.Errorf("watching a missing project: %v", err)
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	if _, err := client.New("ftp://x", "t"); err == nil {
		t.Error("an ftp URL was accepted")
	}
	if _, err := client.New("http://127.0.0.1:1", ""); err == nil {
		t.Error("an empty token was accepted")
	}
}
