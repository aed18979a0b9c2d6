package aws

import "testing"

// ARNs as the real hashicorp/aws 5.100.0 writes them into state (and the
// Tagging API lists them): each parses, prints back unchanged, has its
// inventory type, its import target, and is tracked exactly when
// GetResources lists its kind.
func TestARNsOfTheRealProviderRoundTrip(t *testing.T) {
	for _, c := range []struct {
		arn, typ       string
		importType, id string
		tracked        bool
	}{
		{"arn:aws:s3:::corpus-static-site", "s3:bucket", "aws_s3_bucket", "corpus-static-site", true},
		{"arn:aws:s3:::corpus-static-site/site/index.html", "s3:object", "", "", false},
		{"arn:aws:dynamodb:us-east-1:000000000000:table/corpus-http-api-items", "dynamodb:table", "aws_dynamodb_table", "corpus-http-api-items", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:corpus-http-api", "lambda:function", "aws_lambda_function", "corpus-http-api", true},
		// qualified_arn of a published function, and an alias: not the
		// function, not listed by GetResources.
		{"arn:aws:lambda:us-east-1:000000000000:function:corpus-http-api:1", "lambda:function", "", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:function:corpus-http-api:live", "lambda:function", "", "", false},
		{"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/corpus-http-api", "logs:log-group", "aws_cloudwatch_log_group", "/aws/lambda/corpus-http-api", true},
		// IAM paths: the import id is the role's name alone. GetResources
		// does not list roles.
		{"arn:aws:iam::123456789012:role/corpus/corpus-http-api-fn", "iam:role", "aws_iam_role", "corpus-http-api-fn", false},
		{"arn:aws:iam::123456789012:role/plain", "iam:role", "aws_iam_role", "plain", false},
		{"arn:aws:apigateway:us-east-1::/apis/a1b2c3", "apigateway:apis", "aws_apigatewayv2_api", "a1b2c3", true},
		{"arn:aws:apigateway:us-east-1::/apis/a1b2c3/stages/$default", "apigateway:stages", "aws_apigatewayv2_stage", "a1b2c3/$default", true},
		{"arn:aws:apigateway:us-east-1::/restapis/r9/stages/prod", "apigateway:stages", "aws_api_gateway_stage", "r9/prod", true},
		{"arn:aws:apigateway:us-east-1::/restapis/r9", "apigateway:restapis", "aws_api_gateway_rest_api", "r9", true},
	} {
		a, ok := ParseARN(c.arn)
		if !ok || a.String() != c.arn {
			t.Errorf("%s: parsed %v %+v, prints %q", c.arn, ok, a, a.String())
			continue
		}
		if got := ResourceType(c.arn); got != c.typ {
			t.Errorf("%s: type %q, want %q", c.arn, got, c.typ)
		}
		typ, id, ok := ImportTarget(c.arn)
		if typ != c.importType || id != c.id || ok != (c.importType != "") {
			t.Errorf("%s: import target %q %q %v, want %q %q", c.arn, typ, id, ok, c.importType, c.id)
		}
		if got := tracked(c.arn); got != c.tracked {
			t.Errorf("%s: tracked %v, want %v", c.arn, got, c.tracked)
		}
	}
}
