package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// TestNoIMDSWarningsWithoutCredentials: on a machine with no AWS identity
// the SDK's chain ends at the instance metadata service; one that refuses
// tokens (403) made the SDK print "falling back to IMDSv1" at every start.
// The probe for credentials is quiet, so start-up prints nothing of it.
func TestNoIMDSWarningsWithoutCredentials(t *testing.T) {
	var asked atomic.Int32
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Method == http.MethodPut {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer imds.Close()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.URL, "AWS_EC2_METADATA_DISABLED": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := parseConfig(modeReconcile, env{"DATABASE_URL": "postgres://x@localhost/x", "JWT_SECRET": "0123456789abcdef0123456789abcdef"}.get)
	if err != nil {
		t.Fatal(err)
	}

	// The SDK's default logger writes to the os.Stderr of the moment.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	a, err := newAWSServices(context.Background(), cfg, nil, nil, nil, zap.NewNop())
	os.Stderr = saved
	w.Close()
	printed, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if a.creds != nil {
		t.Fatal("credentials were found; the test needs a machine view without any")
	}
	if asked.Load() == 0 {
		t.Fatal("the SDK never asked the metadata service: the test does not exercise the warning")
	}
	if strings.Contains(string(printed), "IMDS") || strings.Contains(string(printed), "WARN") {
		t.Errorf("start-up without AWS credentials printed SDK warnings:\n%s", printed)
	}
}
