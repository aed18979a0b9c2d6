package awstest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestZZScratch(t *testing.T) {
	dir := os.Getenv("SCRATCH_DIR")
	if dir == "" {
		t.Skip()
	}
	e := New(t)
	cfg := fmt.Sprintf(`provider_installation {
  filesystem_mirror { path = "/opt/tf-plugins" }
}
plugin_cache_dir = "/tmp/disc/cache"
`)
	os.MkdirAll("/tmp/disc/cache", 0o755)
	os.WriteFile(filepath.Join(dir, "cli.tfrc"), []byte(cfg), 0o644)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("index.js")
	f.Write([]byte("exports.handler = async () => ({statusCode: 200, body: 'hi'});\n"))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "fn.zip"), buf.Bytes(), 0o644)
	prov := fmt.Sprintf(`provider "aws" {
  region = "us-east-1"
  access_key = "AKIDX"
  secret_key = "x"
  s3_use_path_style = true
  default_tags { tags = { ManagedBy = "chart-app-platform", Project = "p" } }
  endpoints {
    apigateway = %[1]q
    apigatewayv2 = %[1]q
    dynamodb = %[1]q
    iam = %[1]q
    lambda = %[1]q
    cloudwatchlogs = %[1]q
    s3 = %[1]q
    sts = %[1]q
  }
}
`, e.URL)
	os.WriteFile(filepath.Join(dir, "provider.tf"), []byte(prov), 0o644)
	env := append(os.Environ(), "TF_LOG=DEBUG", "TF_LOG_PATH="+filepath.Join(dir, "tf.log"), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "cli.tfrc"), "TF_IN_AUTOMATION=1")
	run := func(args ...string) {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("terraform %v: %v\n%s", args, err, tail(string(out)))
	}
	for _, step := range strings.Split(os.Getenv("SCRATCH_STEPS"), ",") {
		before := len(e.Requests())
		run(strings.Fields(step)...)
		for _, r := range e.Requests()[before:] {
			if os.Getenv("SCRATCH_ALL") != "" || r.Status >= 300 {
				t.Logf("%d %s %s %s?%s %s", r.Status, r.Service, r.Method, r.Path, r.Query, r.Target)
			}
		}
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return s[len(s)-6000:]
	}
	return s
}
