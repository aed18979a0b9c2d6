//go:build e2e

package aws_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
)

// createCall is one request the provider made, as the crash windows need
// it: which call, and whether it carried the resource's tags.
type createCall struct {
	method, path, query, action string
	tagged                      bool
}

// aws.Creations says, per type, whether the real provider tags a resource
// in its create call or with a second call. This applies one resource of
// each type with the real hashicorp/aws against the emulator, through a
// proxy recording each request and whether it carries the tag, and checks
// the table: S3's CreateBucket carries no tags and PutBucketTagging
// follows; every other type's create call carries them and no tagging call
// follows.
func TestProviderCreateCallsPerType(t *testing.T) {
	mirror := realProviderMirror(t)
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform binary")
	}
	emu := awstest.New(t)
	target, _ := url.Parse(emu.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var calls []createCall
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		c := createCall{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, action: r.Header.Get("X-Amz-Target"),
			tagged: bytes.Contains(body, []byte("crashwindow")) || strings.Contains(r.Header.Get("X-Amz-Tagging"), "crashwindow")}
		if v, err := url.ParseQuery(string(body)); c.action == "" && err == nil {
			c.action = v.Get("Action")
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	dir := t.TempDir()
	zip := filepath.Join(dir, "fn.zip")
	if err := os.WriteFile(zip, lambdaZip(t), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoints := ""
	for _, svc := range []string{"s3", "dynamodb", "iam", "sts", "lambda", "cloudwatchlogs", "apigatewayv2"} {
		endpoints += "    " + svc + " = \"" + front.URL + "\"\n"
	}
	config := `provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {
` + endpoints + `  }
  default_tags {
    tags = { Window = "crashwindow" }
  }
}
resource "aws_s3_bucket" "b" { bucket = "calls-bucket" }
resource "aws_dynamodb_table" "t" {
  name         = "calls-table"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
resource "aws_iam_role" "r" {
  name               = "calls-role"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_cloudwatch_log_group" "lg" { name = "/aws/lambda/calls" }
resource "aws_lambda_function" "f" {
  function_name = "calls-fn"
  role          = aws_iam_role.r.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"
  filename      = "` + zip + `"
}
resource "aws_apigatewayv2_api" "a" {
  name          = "calls-api"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_stage" "s" {
  api_id = aws_apigatewayv2_api.a.id
  name   = "live"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(dir, "cli.tfrc")
	if err := os.WriteFile(cli, []byte(`provider_installation {
  filesystem_mirror {
    path = "`+mirror+`"
  }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-no-color"}, {"apply", "-auto-approve", "-no-color"}} {
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	creates := map[string]func(c createCall) bool{
		"aws_s3_bucket":            func(c createCall) bool { return c.method == "PUT" && c.path == "/calls-bucket" && c.query == "" },
		"aws_dynamodb_table":       func(c createCall) bool { return c.action == "DynamoDB_20120810.CreateTable" },
		"aws_iam_role":             func(c createCall) bool { return c.action == "CreateRole" },
		"aws_cloudwatch_log_group": func(c createCall) bool { return c.action == "Logs_20140328.CreateLogGroup" },
		"aws_lambda_function":      func(c createCall) bool { return c.method == "POST" && c.path == "/2015-03-31/functions" },
		"aws_apigatewayv2_api":     func(c createCall) bool { return c.method == "POST" && c.path == "/v2/apis" },
		"aws_apigatewayv2_stage":   func(c createCall) bool { return c.method == "POST" && strings.HasSuffix(c.path, "/stages") },
	}
	for typ, isCreate := range creates {
		prof, ok := tfaws.Creations[typ]
		if !ok {
			t.Errorf("%s is not in aws.Creations", typ)
			continue
		}
		var create *createCall
		for i := range calls {
			if isCreate(calls[i]) {
				create = &calls[i]
				break
			}
		}
		switch {
		case create == nil:
			t.Errorf("%s: no create call in the request log", typ)
		case create.tagged != (prof.Tagging == tfaws.TaggedAtCreation):
			t.Errorf("%s: the create call carries the tags: %v; aws.Creations says %s", typ, create.tagged, prof.Tagging)
		}
	}
	// The only tagging call is S3's PutBucketTagging.
	var tagging []string
	for _, c := range calls {
		q, _ := url.ParseQuery(c.query)
		separate := q.Has("tagging") && c.method == "PUT" ||
			strings.Contains(c.action, "TagResource") && !strings.Contains(c.action, "Untag") || c.action == "TagRole" ||
			c.method == "POST" && strings.HasPrefix(c.path, "/2017-03-31/tags/") ||
			c.method == "POST" && strings.HasPrefix(c.path, "/v2/tags/")
		if separate {
			tagging = append(tagging, c.method+" "+c.path+"?"+c.query+" "+c.action)
		}
	}
	if len(tagging) != 1 || !strings.HasPrefix(tagging[0], "PUT /calls-bucket?tagging") {
		t.Errorf("separate tagging calls %v, want S3's PutBucketTagging alone", tagging)
	}
}

// lambdaZip is a zip archive holding index.js.
func lambdaZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("index.js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("exports.handler = async () => ({})\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
