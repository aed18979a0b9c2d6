package policy_test

import (
	"testing"

	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// Upload check: "own" is an own resource's identity, for every class of
// value that could spell another tenant's name.
var hostileIdentity = []hostileCase{
	{
		name: "a role's description as a function's role",
		files: tf(`resource "aws_iam_role" "r" {
  name               = "r"
  description        = "arn:aws:iam::1:role/other"
  assume_role_policy = "{}"
}
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = aws_iam_role.r.description
}`),
		want: []want{{"main.tf", 8, "aws_lambda_function.role refers to aws_iam_role.description, which is not what names a aws_iam_role"}},
	},
	{
		name: "a function's environment variable as a permission's function, through an index",
		files: tf(`resource "aws_lambda_function" "f" {
  function_name = "f"
}
resource "aws_lambda_permission" "p" {
  function_name = aws_lambda_function.f.environment[0].variables.OTHER
  principal     = "*"
}`),
		want: []want{{"main.tf", 5, "aws_lambda_permission.function_name refers to aws_lambda_function.environment"}},
	},
	{
		name: "a random value as a table name",
		files: tf(`resource "random_pet" "p" {}
resource "aws_dynamodb_table_item" "i" {
  table_name = random_pet.p.id
}`),
		want: []want{{"main.tf", 3, "must refer to a resource of type aws_dynamodb_table, not random_pet"}},
	},
	{
		name: "the whole resource instead of its name",
		files: tf(`resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = "{}"
}
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.r
  policy = "{}"
}`),
		want: []want{{"main.tf", 6, "must refer to an attribute of aws_iam_role naming it"}},
	},
	{
		name: "each.value of another attribute",
		files: tf(`resource "aws_s3_bucket" "b" {
  for_each = toset(["a", "b"])
  bucket   = each.key
}
resource "aws_s3_bucket_policy" "p" {
  for_each = aws_s3_bucket.b
  bucket   = each.value.bucket_domain_name
  policy   = "{}"
}`),
		want: []want{{"main.tf", 7, "aws_s3_bucket_policy.bucket refers to aws_s3_bucket.bucket_domain_name"}},
	},
	{
		name: "layers from another tenant, one of them literal",
		files: tf(`resource "aws_lambda_layer_version" "l" {
  layer_name = "l"
}
resource "aws_lambda_function" "f" {
  function_name = "f"
  layers        = [aws_lambda_layer_version.l.arn, "arn:aws:lambda:us-east-1:1:layer:other:1"]
}`),
		want: []want{{"main.tf", 6, "aws_lambda_function.layers must refer to a resource of this project (aws_lambda_layer_version)"}},
	},
	{
		name: "arguments naming types tenants cannot create",
		files: tf(`resource "aws_lambda_function" "f" {
  function_name = "f"
  kms_key_arn   = "arn:aws:kms:us-east-1:1:key/x"
  image_uri     = "1.dkr.ecr.us-east-1.amazonaws.com/other:latest"
}
resource "aws_apigatewayv2_domain_name" "d" {
  domain_name = "api.example.com"
  domain_name_configuration {
    certificate_arn = "arn:aws:acm:us-east-1:1:certificate/x"
  }
}`),
		want: []want{
			{"main.tf", 3, "aws_lambda_function.kms_key_arn may not be set"},
			{"main.tf", 4, "aws_lambda_function.image_uri may not be set"},
			{"main.tf", 9, "aws_apigatewayv2_domain_name.domain_name_configuration.certificate_arn may not be set"},
		},
	},
	{
		name: "restore and import from another tenant's table and bucket",
		files: tf(`resource "aws_dynamodb_table" "t" {
  name                     = "t"
  restore_source_table_arn = "arn:aws:dynamodb:us-east-1:1:table/other"
  import_table {
    input_format = "CSV"
    s3_bucket_source {
      bucket = var.bucket
    }
  }
}
variable "bucket" {
  type = string
}`),
		want: []want{
			{"main.tf", 3, "aws_dynamodb_table.restore_source_table_arn must refer to a resource of this project (aws_dynamodb_table)"},
			{"main.tf", 7, "aws_dynamodb_table.import_table.s3_bucket_source.bucket must refer to a resource of this project (aws_s3_bucket)"},
		},
	},
	{
		name: "integration and authorizer URIs of another tenant's function",
		files: tf(`resource "aws_apigatewayv2_api" "a" {
  name          = "a"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_integration" "i" {
  api_id           = aws_apigatewayv2_api.a.id
  integration_type = "AWS_PROXY"
  integration_uri  = "arn:aws:lambda:us-east-1:1:function:other"
}
resource "aws_apigatewayv2_authorizer" "z" {
  api_id          = aws_apigatewayv2_api.a.id
  authorizer_type = "REQUEST"
  authorizer_uri  = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:other/invocations"
}`),
		want: []want{
			{"main.tf", 8, "aws_apigatewayv2_integration.integration_uri must refer to a resource of this project (aws_lambda_function or aws_lambda_alias)"},
			{"main.tf", 13, "aws_apigatewayv2_authorizer.authorizer_uri must refer to a resource of this project"},
		},
	},
	{
		name: "an API mapping or base path mapping on another tenant's domain",
		files: tf(`resource "aws_apigatewayv2_api" "a" {
  name          = "a"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_api_mapping" "m" {
  api_id      = aws_apigatewayv2_api.a.id
  domain_name = "other.example.com"
  stage       = "$default"
}
resource "aws_api_gateway_base_path_mapping" "b" {
  api_id      = "abc"
  domain_name = "other.example.com"
}`),
		want: []want{
			{"main.tf", 7, "aws_apigatewayv2_api_mapping.domain_name must refer to a resource of this project (aws_apigatewayv2_domain_name)"},
			{"main.tf", 11, "aws_api_gateway_base_path_mapping.api_id must refer to a resource of this project (aws_api_gateway_rest_api)"},
			{"main.tf", 12, "aws_api_gateway_base_path_mapping.domain_name must refer to a resource of this project (aws_api_gateway_domain_name)"},
		},
	},
	{
		name: "a dynamic block generating a checked nested block",
		files: tf(`resource "aws_s3_bucket_notification" "n" {
  bucket = aws_s3_bucket.b.id
  dynamic "lambda_function" {
    for_each = var.arns
    content {
      lambda_function_arn = lambda_function.value
    }
  }
}
resource "aws_s3_bucket" "b" {}
variable "arns" {
  type = list(string)
}`),
		want: []want{{"main.tf", 3, `dynamic "lambda_function" is not allowed`}},
	},
	{
		name: "abspath puts the host's work directory in outputs",
		files: tf(`output "where" {
  value = abspath("main.tf")
}`),
		want: []want{{"main.tf", 2, "abspath is not allowed"}},
	},
	{
		name: "a policy action computed from an identity",
		files: tf(`resource "aws_s3_bucket" "b" {}
resource "aws_iam_role_policy" "p" {
  role = aws_iam_role.r.id
  policy = jsonencode({
    Statement = [{
      Effect   = "Allow"
      Action   = replace(aws_s3_bucket.b.id, "/.*/", "*")
      Resource = aws_s3_bucket.b.id == "x" ? "*" : aws_s3_bucket.b.arn
    }]
  })
}
resource "aws_iam_role" "r" {
  name               = "r"
  assume_role_policy = "{}"
}`),
		want: []want{
			{"main.tf", 7, "policy: replace() of a computed value in a policy document is not allowed"},
			{"main.tf", 8, "policy: a computed value in a policy document may only be a reference"},
		},
	},
	{
		name: "a heredoc policy interpolating a function of an identity, a computed key",
		files: tf(`resource "aws_s3_bucket" "b" {}
resource "aws_iam_policy" "p" {
  policy = <<EOT
{"Statement":[{"Effect":"Allow","Action":"${upper(aws_s3_bucket.b.id)}","Resource":"*"}]}
EOT
}
resource "aws_iam_policy" "q" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", (aws_s3_bucket.b.id) = "*", Resource = "*" }]
  })
}`),
		want: []want{
			{"main.tf", 4, "policy: upper() of a computed value in a policy document is not allowed"},
			{"main.tf", 9, "policy: the keys of a policy document must be literal"},
		},
	},
	{
		name: "a policy document data source computing an action",
		files: tf(`resource "aws_s3_bucket" "b" {}
data "aws_iam_policy_document" "d" {
  statement {
    actions   = [lower(aws_s3_bucket.b.id)]
    resources = ["*"]
  }
}`),
		want: []want{{"main.tf", 4, "actions: lower() of a computed value in a policy document is not allowed"}},
	},
	{
		name: "trust: anyone, another account, another tenant's role by name",
		files: tf(`resource "aws_iam_role" "a" {
  name = "a"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "*" } }]
  })
}
resource "aws_iam_role" "b" {
  name = "b"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = aws_iam_role.a.name } }]
  })
}`),
		want: []want{
			{"main.tf", 4, "assume_role_policy: AWS principals are not allowed: only AWS services and this project's own roles"},
			{"main.tf", 10, "assume_role_policy: AWS principals are not allowed"},
		},
	},
}

// Configurations that must keep passing: identities of own resources,
// through an index, a splat, each.value, a template; own roles in a trust
// policy; HTTP integrations; documents built from identities.
var legitIdentity = map[string]map[string]string{
	"each.value.id under for_each over own buckets": tf(`resource "aws_s3_bucket" "sites" {
  for_each = toset(["a", "b"])
  bucket   = "site-${each.key}"
}
resource "aws_s3_bucket_public_access_block" "sites" {
  for_each          = aws_s3_bucket.sites
  bucket            = each.value.id
  block_public_acls = true
}`),
	"identities through an index, layers, an HTTP integration and a trust policy naming an own role": with(tf(`resource "aws_s3_bucket" "b" {
  count = 2
}
resource "aws_s3_bucket_versioning" "v" {
  count  = 2
  bucket = aws_s3_bucket.b[count.index].id
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_iam_role" "ci" {
  name = "ci"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}
resource "aws_iam_role" "app" {
  name = "app"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = aws_iam_role.ci.arn } }]
  })
}
data "aws_iam_policy_document" "rw" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.b[0].arn}/*", aws_s3_bucket.b[1].arn]
  }
}
resource "aws_iam_role_policy" "rw" {
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.rw.json
}
resource "aws_lambda_layer_version" "deps" {
  layer_name = "deps"
  filename   = "layer.zip"
}
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = aws_iam_role.app.arn
  layers        = [aws_lambda_layer_version.deps.arn]
  s3_bucket     = aws_s3_bucket.b[0].id
  s3_key        = "code.zip"
}
resource "aws_apigatewayv2_api" "a" {
  name          = "a"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_integration" "web" {
  api_id             = aws_apigatewayv2_api.a.id
  integration_type   = "HTTP_PROXY"
  integration_method = "GET"
  integration_uri    = "https://example.com/"
}
resource "aws_apigatewayv2_integration" "fn" {
  api_id           = aws_apigatewayv2_api.a.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.f.invoke_arn
}`), "layer.zip", "PK\x05\x06"),
}

func TestCheckUntrustedIdentities(t *testing.T) {
	for _, tc := range hostileIdentity {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.Check(tc.files, policy.DefaultRules())
			if diff := cmp.Diff(tc.want, probes(got, tc.want)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	for name, files := range legitIdentity {
		t.Run(name, func(t *testing.T) {
			if got := policy.Check(files, policy.DefaultRules()); len(got) != 0 {
				t.Errorf("violations of a legitimate configuration:\n%s", violationLines(got))
			}
		})
	}
}

// untrustedPlan is a plan whose aws_lambda_function instances have a role
// unknown until apply, computed (per the configuration section) from the
// references given: one resource per class of value.
func untrustedPlan(t *testing.T, roles map[string][]string, forEach []string) *tfjson.Plan {
	t.Helper()
	tags := map[string]any{}
	for k, v := range platformTags {
		tags[k] = v
	}
	changes := []any{map[string]any{
		"address": "aws_iam_role.own", "mode": "managed", "type": "aws_iam_role", "name": "own",
		"change": map[string]any{"actions": []string{"create"},
			"after":         map[string]any{"name": "own", "assume_role_policy": lambdaTrust, "tags_all": tags},
			"after_unknown": map[string]any{"arn": true, "id": true}},
	}}
	resources := []any{map[string]any{"address": "aws_iam_role.own", "mode": "managed", "type": "aws_iam_role", "name": "own"}}
	for name, refs := range roles {
		changes = append(changes, map[string]any{
			"address": "aws_lambda_function." + name, "mode": "managed", "type": "aws_lambda_function", "name": name,
			"change": map[string]any{"actions": []string{"create"},
				"after":         map[string]any{"function_name": name, "memory_size": 128, "tags_all": tags},
				"after_unknown": map[string]any{"role": true}},
		})
		cfg := map[string]any{"address": "aws_lambda_function." + name, "mode": "managed", "type": "aws_lambda_function", "name": name,
			"expressions": map[string]any{"role": map[string]any{"references": refs}}}
		if len(refs) > 0 && strings.HasPrefix(refs[0], "each.") {
			cfg["for_each_expression"] = map[string]any{"references": forEach}
		}
		resources = append(resources, cfg)
	}
	b, err := json.Marshal(map[string]any{
		"format_version":   "1.2",
		"resource_changes": changes,
		"configuration":    map[string]any{"root_module": map[string]any{"resources": resources}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestCheckPlanUntrustedUnknowns: a naming argument unknown at plan is
// refused for every class of value that is not an own identity, naming the
// address, the argument and what it is computed from.
func TestCheckPlanUntrustedUnknowns(t *testing.T) {
	refused := map[string][]string{
		"random":      {"random_pet.p.id", "random_pet.p"},
		"terraform":   {"terraform_data.x.output", "terraform_data.x"},
		"variable":    {"var.role"},
		"local":       {"local.role"},
		"module":      {"module.m.role", "module.m"},
		"data":        {"data.aws_caller_identity.c.arn", "data.aws_caller_identity.c"},
		"attribute":   {"aws_iam_role.own.description", "aws_iam_role.own"},
		"undeclared":  {"aws_iam_role.elsewhere.arn", "aws_iam_role.elsewhere"},
		"other_type":  {"aws_s3_bucket.own.arn", "aws_s3_bucket.own"},
		"whole":       {"aws_iam_role.own"},
		"each_key":    {"each.key"},
		"mixed":       {"aws_iam_role.own.arn", "aws_iam_role.own", "random_pet.p.id", "random_pet.p"},
		"constant_fn": {},
	}
	got := policy.CheckPlan(untrustedPlan(t, refused, nil), policy.PlanContext{Rules: policy.DefaultRules(), Tags: platformStrings()})
	seen := map[string]string{}
	for _, v := range got {
		seen[v.Address] = v.Message
	}
	for name, refs := range refused {
		msg := seen["aws_lambda_function."+name]
		if !strings.HasPrefix(msg, "role is unknown until apply and ") {
			t.Errorf("%s (%v): got %q, want a refusal of role", name, refs, msg)
			continue
		}
		if len(refs) > 0 && refs[0] != "aws_iam_role.own.arn" && !strings.Contains(msg, refs[0]) {
			t.Errorf("%s: %q does not name %s", name, msg, refs[0])
		}
	}
	if len(got) != len(refused) {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(refused), violationLines(got))
	}

	allowed := map[string][]string{
		"arn":        {"aws_iam_role.own.arn", "aws_iam_role.own"},
		"indexed":    {"aws_iam_role.own[0].arn", "aws_iam_role.own[0]", "aws_iam_role.own", "count.index"},
		"each_value": {"each.value.arn", "each.value"},
	}
	got = policy.CheckPlan(untrustedPlan(t, allowed, []string{"aws_iam_role.own"}), policy.PlanContext{Rules: policy.DefaultRules(), Tags: platformStrings()})
	if len(got) != 0 {
		t.Errorf("own identities refused:\n%s", violationLines(got))
	}
}

// TestCheckPlanUnknownDocumentThroughPolicyDocument: a role policy unknown
// at plan, rendered by an aws_iam_policy_document, passes when the data
// source's inputs are own identities and is refused otherwise.
func TestCheckPlanUnknownDocumentThroughPolicyDocument(t *testing.T) {
	for _, tc := range []struct {
		name string
		refs []string
		want string
	}{
		{"own bucket ARN", []string{"aws_s3_bucket.b.arn", "aws_s3_bucket.b"}, ""},
		{"terraform_data output", []string{"terraform_data.x.output", "terraform_data.x"}, "policy is unknown until apply and is computed from terraform_data.x.output"},
		{"a bucket's tag", []string{"aws_s3_bucket.b.tags.Action", "aws_s3_bucket.b.tags", "aws_s3_bucket.b"}, "policy is unknown until apply and is computed from aws_s3_bucket.b.tags.Action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"format_version": "1.2",
  "resource_changes": [
    {"address": "aws_iam_role_policy.p", "mode": "managed", "type": "aws_iam_role_policy", "name": "p",
     "change": {"actions": ["create"], "after": {"role": "r"}, "after_unknown": {"policy": true}}}
  ],
  "configuration": {"root_module": {"resources": [
    {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b"},
    {"address": "terraform_data.x", "mode": "managed", "type": "terraform_data", "name": "x"},
    {"address": "aws_iam_role_policy.p", "mode": "managed", "type": "aws_iam_role_policy", "name": "p",
     "expressions": {"role": {"constant_value": "r"}, "policy": {"references": ["data.aws_iam_policy_document.d.json", "data.aws_iam_policy_document.d"]}}},
    {"address": "data.aws_iam_policy_document.d", "mode": "data", "type": "aws_iam_policy_document", "name": "d",
     "expressions": {"statement": [{"actions": {"constant_value": ["s3:GetObject"]}, "resources": {"references": %s}}]}}
  ]}}}`, mustJSON(t, tc.refs))
			var p tfjson.Plan
			if err := json.Unmarshal([]byte(doc), &p); err != nil {
				t.Fatal(err)
			}
			rules := policy.DefaultRules()
			var got []string
			for _, v := range policy.CheckPlan(&p, policy.PlanContext{Rules: rules}) {
				if !strings.Contains(v.Message, "role = ") { // the role is not the point here
					got = append(got, v.Address+": "+v.Message)
				}
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("refused: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], "aws_iam_role_policy.p: "+tc.want)):
				t.Errorf("got %v, want one refusal with %q", got, tc.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
