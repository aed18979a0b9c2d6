//go:build probe

package aws_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/tenantform/tenantform/aws/awstest"
)

func TestProbeCreationCalls(t *testing.T) {
	emu := awstest.New(t)
	target, _ := url.Parse(emu.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var log []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		tagged := bytes.Contains(body, []byte("probetag")) || strings.Contains(r.Header.Get("X-Amz-Tagging"), "probetag")
		auth := r.Header.Get("Authorization")
		svc := ""
		if i := strings.Index(auth, "Credential="); i >= 0 {
			parts := strings.Split(auth[i:], "/")
			if len(parts) > 3 {
				svc = parts[3]
			}
		}
		action := r.Header.Get("X-Amz-Target")
		if action == "" {
			if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
				action = v.Get("Action")
			}
		}
		mu.Lock()
		log = append(log, fmt.Sprintf("%-8s %-6s %s?%s %s tags=%v", svc, r.Method, r.URL.Path, r.URL.RawQuery, action, tagged))
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	dir := t.TempDir()
	ep := front.URL
	cfg := `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" {
  region = "us-east-1"
  access_key = "test"
  secret_key = "test"
  skip_credentials_validation = true
  skip_requesting_account_id = true
  skip_metadata_api_check = true
  s3_use_path_style = true
  endpoints {
    s3 = "` + ep + `"
    dynamodb = "` + ep + `"
    iam = "` + ep + `"
    sts = "` + ep + `"
    lambda = "` + ep + `"
    cloudwatchlogs = "` + ep + `"
    apigatewayv2 = "` + ep + `"
  }
  default_tags { tags = { Probe = "probetag" } }
}
resource "aws_s3_bucket" "b" { bucket = "probe-bucket" }
resource "aws_dynamodb_table" "t" {
  name = "probe-table"
  billing_mode = "PAY_PER_REQUEST"
  hash_key = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
resource "aws_iam_role" "r" {
  name = "probe-role"
  assume_role_policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }] })
}
resource "aws_cloudwatch_log_group" "lg" { name = "/aws/lambda/probe" }
resource "aws_lambda_function" "f" {
  function_name = "probe-fn"
  role = aws_iam_role.r.arn
  handler = "index.handler"
  runtime = "nodejs20.x"
  filename = "/tmp/probe/fn.zip"
}
resource "aws_apigatewayv2_api" "a" {
  name = "probe-api"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_stage" "s" {
  api_id = aws_apigatewayv2_api.a.id
  name = "live"
}
`
	os.WriteFile(dir+"/main.tf", []byte(cfg), 0o644)
	os.WriteFile(dir+"/cli.tfrc", []byte(`provider_installation {
  filesystem_mirror { path = "/opt/tf-plugins" }
}`), 0o644)
	run := func(args ...string) {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+dir+"/cli.tfrc")
		out, err := cmd.CombinedOutput()
		t.Logf("terraform %v: %v\n%s", args, err, tail(string(out)))
	}
	run("init", "-no-color")
	run("apply", "-auto-approve", "-no-color", "-parallelism=1")
	mu.Lock()
	for _, l := range log {
		if !strings.Contains(l, " GET ") {
			t.Log(l)
		}
	}
	mu.Unlock()
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
