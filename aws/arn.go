package aws

import "strings"

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition, Service, Region, Account string
	// Resource is everything after the account: "table/t", "function:f",
	// "bucket-name", "/restapis/abc".
	Resource string
}

// ParseARN splits an ARN; ok is false when s is not one.
func ParseARN(s string) (ARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] == "" {
		return ARN{}, false
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, true
}

// kind is the resource type within the service: "table" of "table/t",
// "function" of "function:f", "restapis" of "/restapis/abc"; a bucket ARN
// has none and is "bucket".
func (a ARN) kind() string {
	if a.Service == "s3" && !strings.Contains(a.Resource, "/") {
		return "bucket"
	}
	r := strings.TrimPrefix(a.Resource, "/")
	if i := strings.IndexAny(r, "/:"); i >= 0 {
		return r[:i]
	}
	return r
}

// name is the resource's own name or id: the part after the kind. For a
// qualified Lambda function ARN (function:f:live, function:f:3) it is the
// function's name, f, without the qualifier.
func (a ARN) name() string {
	if a.Service == "s3" && !strings.Contains(a.Resource, "/") {
		return a.Resource
	}
	r := strings.TrimPrefix(a.Resource, "/")
	if i := strings.IndexAny(r, "/:"); i >= 0 {
		r = r[i+1:]
	}
	if a.isFunction() {
		r, _, _ = strings.Cut(r, ":")
	}
	return r
}

// Qualifier is the alias or version a Lambda function ARN names
// (function:f:live is alias "live" of function f, function:f:3 its version
// 3, function:f:$LATEST the unpublished code); "" for the function itself
// and for every other type. A qualified ARN is not a resource of its own
// in the tagged inventory: the Tagging API lists (and tags) functions,
// never their aliases or versions.
func (a ARN) Qualifier() string {
	if !a.isFunction() {
		return ""
	}
	_, q, _ := strings.Cut(strings.TrimPrefix(a.Resource, "function:"), ":")
	return q
}

func (a ARN) isFunction() bool {
	return a.Service == "lambda" && strings.HasPrefix(a.Resource, "function:")
}

// ResourceType is "service:kind" of an ARN (s3:bucket, dynamodb:table,
// lambda:function, logs:log-group, iam:role, apigateway:restapis), the
// inventory's type column.
func ResourceType(arn string) string {
	a, ok := ParseARN(arn)
	if !ok {
		return ""
	}
	return a.Service + ":" + a.kind()
}

// importable maps inventory types to the terraform resource type that
// manages them; its import id is the ARN's name part.
var importable = map[string]string{
	"s3:bucket":           "aws_s3_bucket",
	"dynamodb:table":      "aws_dynamodb_table",
	"lambda:function":     "aws_lambda_function",
	"logs:log-group":      "aws_cloudwatch_log_group",
	"iam:role":            "aws_iam_role",
	"apigateway:restapis": "aws_api_gateway_rest_api",
	"apigateway:apis":     "aws_apigatewayv2_api",
}

// ImportTarget returns the terraform resource type that manages the
// resource at arn and the id `terraform import` (an import block's id)
// takes for it; ok is false for types tenantform cannot adopt.
func ImportTarget(arn string) (resourceType, id string, ok bool) {
	a, parsed := ParseARN(arn)
	if !parsed {
		return "", "", false
	}
	resourceType, ok = importable[a.Service+":"+a.kind()]
	if !ok || a.Qualifier() != "" {
		return "", "", false
	}
	return resourceType, a.name(), true
}

// tracked reports whether the Tagging API lists resources of arn's type,
// so that its absence from the inventory means it is gone. Only these
// types take part in drift detection; the rest is left to the slow
// re-plan. A Lambda alias or version (a qualified function ARN, as an
// aws_lambda_alias's arn) is never listed: the function is tracked
// through its own ARN.
func tracked(arn string) bool {
	if a, ok := ParseARN(arn); !ok || a.Qualifier() != "" {
		return false
	}
	switch ResourceType(arn) {
	case "s3:bucket", "dynamodb:table", "lambda:function", "logs:log-group",
		"apigateway:restapis", "apigateway:apis":
		return true
	}
	return false
}

// String is the ARN again.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}
