package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestPutRefusesIsolationEscapes: every class of tenant isolation escape
// that the source decides is a 422 naming the file and line.
func TestPutRefusesIsolationEscapes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for name, tc := range map[string]struct {
		files      map[string]string
		file       string
		line       int
		hasMessage string
	}{
		"platform tag":               {map[string]string{"main.tf": "resource \"aws_s3_bucket\" \"b\" {\n  tags = { UserId = \"bob\" }\n}\n"}, "main.tf", 2, "UserId tag"},
		"duplicate json key":         {map[string]string{"main.tf.json": "{\"resource\": {\"terraform_data\": {\"a\": {}}},\n\"resource\": {\"null_resource\": {\"b\": {}}}}"}, "main.tf.json", 2, "null_resource"},
		"another tenant's bucket":    {map[string]string{"main.tf": "resource \"aws_s3_bucket_policy\" \"p\" {\n  bucket = \"theirs\"\n  policy = \"{}\"\n}\n"}, "main.tf", 2, "must refer to a resource of this project"},
		"prevent_destroy":            {map[string]string{"main.tf": "resource \"terraform_data\" \"x\" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n"}, "main.tf", 3, "prevent_destroy"},
		"removed without destroy":    {map[string]string{"main.tf": "removed {\n  from = terraform_data.x\n  lifecycle {\n    destroy = false\n  }\n}\n"}, "main.tf", 4, "must destroy"},
		"resource region":            {map[string]string{"main.tf": "resource \"aws_s3_bucket\" \"b\" {\n  region = \"eu-west-1\"\n}\n"}, "main.tf", 2, "eu-west-1"},
		"data source reading others": {map[string]string{"main.tf": "data \"aws_s3_object\" \"o\" {\n  bucket = \"x\"\n  key = \"y\"\n}\n"}, "main.tf", 1, "data source"},
		"admin policy on any role":   {map[string]string{"main.tf": "resource \"aws_iam_role_policy_attachment\" \"a\" {\n  role = \"tenantform-platform\"\n  policy_arn = \"arn:aws:iam::aws:policy/AdministratorAccess\"\n}\n"}, "main.tf", 2, "aws_iam_role_policy_attachment.role must refer"},
		"star action":                {map[string]string{"main.tf": "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({ Statement = [{ Effect = \"Allow\", Action = \"*\", Resource = \"*\" }] })\n}\n"}, "main.tf", 2, `action "*" is not allowed`},
		"module escaping":            {map[string]string{"main.tf": "module \"m\" {\n  source = \"../other\"\n}\n"}, "main.tf", 2, "local module"},
	} {
		t.Run(name, func(t *testing.T) {
			got := e.do("PUT", projectPathAliceDemo, e.token("alice", false), map[string]any{"files": tc.files}).
				wantError(t, http.StatusUnprocessableEntity, codePolicyViolation)
			var v struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Message string `json:"message"`
			}
			if len(got.Error.Details) == 0 || json.Unmarshal(got.Error.Details[0], &v) != nil {
				t.Fatalf("details = %s", got.Error.Details)
			}
			if v.File != tc.file || v.Line != tc.line || !strings.Contains(v.Message, tc.hasMessage) {
				t.Errorf("first violation %+v, want %s:%d %q", v, tc.file, tc.line, tc.hasMessage)
			}
		})
	}
}

// TestPutAcceptsOrdinaryTerraform: the tenant's own default aws provider,
// project files in subdirectories and a local module are accepted.
func TestPutAcceptsOrdinaryTerraform(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	files := map[string]string{
		"main.tf": "provider \"aws\" {\n  region = \"us-east-1\"\n  default_tags {\n    tags = { Team = \"web\" }\n  }\n}\n" +
			"module \"site\" {\n  source = \"./modules/site\"\n}\n",
		"modules/site/main.tf":           "resource \"aws_s3_bucket\" \"b\" {}\nresource \"aws_s3_object\" \"i\" {\n  bucket = aws_s3_bucket.b.id\n  key = \"index.html\"\n  source = \"${path.module}/public/index.html\"\n}\n",
		"modules/site/public/index.html": "<h1>hi</h1>",
	}
	e.do("PUT", projectPathAliceDemo, e.token("alice", false), map[string]any{"files": files}).wantStatus(t, http.StatusCreated)
}
