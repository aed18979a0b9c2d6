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
// "function" of "function:f" (and of a qualified "function:f:alias"),
// "restapis" of "/restapis/abc", "stages" of an API Gateway stage
// ("/apis/abc/stages/$default", "/restapis/abc/stages/prod"); a bucket ARN
// is "bucket" and an object's ("bucket/key") is "object".
func (a ARN) kind() string {
	if a.Service == "s3" {
		if strings.Contains(a.Resource, "/") {
			return "object"
		}
		return "bucket"
	}
	if _, _, ok := a.apiStage(); ok {
		return "stages"
	}
	r := strings.TrimPrefix(a.Resource, "/")
	if i := strings.IndexAny(r, "/:"); i >= 0 {
		return r[:i]
	}
	return r
}

// apiStage splits an API Gateway stage ARN's resource
// (/apis/{id}/stages/{name} or /restapis/{id}/stages/{name}).
func (a ARN) apiStage() (api, stage string, ok bool) {
	if a.Service != "apigateway" {
		return "", "", false
	}
	parts := strings.SplitN(strings.TrimPrefix(a.Resource, "/"), "/", 4)
	if len(parts) != 4 || (parts[0] != "apis" && parts[0] != "restapis") || parts[2] != "stages" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// name is the resource's own name or id: the part after the kind; an IAM
// role's name without its path (role/tenants/fn is fn); an API Gateway
// stage's "{api id}/{stage name}", its import id; a bucket's name and an
// object's "bucket/key"; for a qualified Lambda function ARN
// (function:f:live, function:f:3) the function's name, f.
func (a ARN) name() string {
	if a.Service == "s3" {
		return a.Resource
	}
	if api, stage, ok := a.apiStage(); ok {
		return api + "/" + stage
	}
	r := strings.TrimPrefix(a.Resource, "/")
	if i := strings.IndexAny(r, "/:"); i >= 0 {
		r = r[i+1:]
	}
	if a.isFunction() {
		r, _, _ = strings.Cut(r, ":")
	}
	if a.Service == "iam" {
		r = r[strings.LastIndex(r, "/")+1:]
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

// ResourceType is "service:kind" of an ARN (s3:bucket, s3:object,
// dynamodb:table, lambda:function, logs:log-group, iam:role,
// apigateway:restapis, apigateway:apis, apigateway:stages), the
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
	if a.Qualifier() != "" {
		// A version or alias is not the function.
		return "", "", false
	}
	if _, _, stage := a.apiStage(); stage {
		if strings.HasPrefix(a.Resource, "/apis/") {
			return "aws_apigatewayv2_stage", a.name(), true
		}
		return "aws_api_gateway_stage", a.name(), true
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
		"apigateway:restapis", "apigateway:apis", "apigateway:stages":
		return true
	}
	return false
}

// String is the ARN again.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}
