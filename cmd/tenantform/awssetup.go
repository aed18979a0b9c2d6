package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// `tenantform aws-setup` prints the AWS side of tenant isolation, the third
// line behind the source and plan policies: the platform role the
// reconciler assumes (with the external id and session tags), the
// attribute-based permissions its tenant sessions get, and the permissions
// boundary every tenant-created role must carry. The same documents, for
// an example account, are committed in deploy/aws/.

// awsSetup are the parameters of the documents.
type awsSetup struct {
	AccountID  string
	ExternalID string
	// PrincipalARN is who may assume the platform role: the identity the
	// tenantform processes run as. Default: the account's root, i.e. any
	// principal of the account that IAM allows to.
	PrincipalARN string
	RoleName     string
	BoundaryName string
	Regions      []string
}

func (s awsSetup) roleARN() string {
	return "arn:aws:iam::" + s.AccountID + ":role/" + s.RoleName
}

func (s awsSetup) boundaryARN() string {
	return "arn:aws:iam::" + s.AccountID + ":policy/" + s.BoundaryName
}

// Names of the documents, as files in deploy/aws and sections of the
// command's output.
const (
	trustFile      = "platform-role-trust.json"
	permissionFile = "tenant-abac-policy.json"
	boundaryFile   = "tenant-permissions-boundary.json"
	commandsFile   = "setup.sh"
	terraformFile  = "platform-role.tf"
)

// Tag keys of the session and of every tenant resource.
const (
	userTag      = "UserId"
	projectTag   = "ProjectId"
	managedByTag = "ManagedBy"
)

// nameScopedServices are the services whose resources are named by the
// tenant and scoped by name (policy.NamePrefix): S3 buckets ignore tag
// conditions, so names are the one line that holds for every type, and
// DynamoDB, Lambda and CloudWatch Logs follow the same rule. API Gateway
// names its resources with generated ids and evaluates tags, so it keeps
// the tag conditions.
var nameScopedServices = []string{"s3", "dynamodb", "lambda", "logs"}

// tagScopedServices keep attribute-based (tag) conditions.
var tagScopedServices = []string{"apigateway"}

type statement = map[string]any

func doc(statements ...statement) map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": statements}
}

// principalTag is the policy variable of a session (or role) tag.
func principalTag(key string) string { return "${aws:PrincipalTag/" + key + "}" }

// ownerMatch is the ABAC condition on a tag namespace (aws:ResourceTag or
// aws:RequestTag): the UserId and ProjectId tags equal the session's.
func ownerMatch(namespace string) map[string]string {
	return map[string]string{
		namespace + "/" + userTag:    principalTag(userTag),
		namespace + "/" + projectTag: principalTag(projectTag),
	}
}

func actions(services []string, suffix string) []string {
	out := make([]string, len(services))
	for i, s := range services {
		out[i] = s + ":" + suffix
	}
	return out
}

// namedResources are the ARNs of the project's named resources in the
// account, for the session (or role) whose NamePrefix tag is the
// project's: buckets and their objects, tables (and their indexes and
// streams), functions (versions, aliases) and layers, log groups
// including Lambda's /aws/lambda/<function>.
func (s awsSetup) namedResources() map[string][]string {
	prefix := principalTag(policy.NamePrefixTagKey) + "-*"
	return map[string][]string{
		"s3":       {"arn:aws:s3:::" + prefix},
		"dynamodb": {"arn:aws:dynamodb:*:" + s.AccountID + ":table/" + prefix},
		"lambda":   {"arn:aws:lambda:*:" + s.AccountID + ":function:" + prefix, "arn:aws:lambda:*:" + s.AccountID + ":layer:" + prefix},
		"logs":     {"arn:aws:logs:*:" + s.AccountID + ":log-group:" + prefix, "arn:aws:logs:*:" + s.AccountID + ":log-group:/aws/lambda/" + prefix},
	}
}

// namedStatements allow each name-scoped service on the project's names.
func (s awsSetup) namedStatements() []statement {
	named := s.namedResources()
	sids := map[string]string{"s3": "TheProjectsBuckets", "dynamodb": "TheProjectsTables", "lambda": "TheProjectsFunctionsAndLayers", "logs": "TheProjectsLogGroups"}
	var out []statement
	for _, svc := range nameScopedServices {
		out = append(out, statement{
			"Sid":      sids[svc],
			"Effect":   "Allow",
			"Action":   svc + ":*",
			"Resource": named[svc],
		})
	}
	return out
}

// tagActions set tags, on creation or later (API Gateway's are its HTTP
// verbs: POST creates with tags, PUT /tags/ tags); untagActions remove
// them.
var (
	tagActions = []string{"s3:PutBucketTagging", "dynamodb:CreateTable", "dynamodb:TagResource", "lambda:CreateFunction", "lambda:TagResource",
		"logs:CreateLogGroup", "logs:TagResource", "logs:TagLogGroup", "apigateway:POST", "apigateway:PUT",
		"iam:CreateRole", "iam:TagRole", "iam:CreatePolicy", "iam:TagPolicy"}
	untagActions = []string{"s3:DeleteBucketTagging", "dynamodb:UntagResource", "lambda:UntagResource", "logs:UntagResource", "logs:UntagLogGroup",
		"apigateway:DELETE", "iam:UntagRole", "iam:UntagPolicy"}
)

// iamPathARN is the ARN pattern of the project's IAM roles or policies:
// under policy.IAMPath of the session's UserId and ProjectId.
func (s awsSetup) iamPathARN(kind string) string {
	return "arn:aws:iam::" + s.AccountID + ":" + kind + "/tenantform/" + principalTag(userTag) + "/" + principalTag(projectTag) + "/*"
}

// trustPolicy lets PrincipalARN assume the platform role with the external
// id, tagging the session with the project's UserId and ProjectId (and
// ManagedBy) only.
func (s awsSetup) trustPolicy() map[string]any {
	principal := s.PrincipalARN
	if principal == "" {
		principal = "arn:aws:iam::" + s.AccountID + ":root"
	}
	return doc(
		statement{
			"Sid":       "AssumeWithExternalId",
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": principal},
			"Action":    "sts:AssumeRole",
			"Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": s.ExternalID}},
		},
		statement{
			"Sid":       "TagSessionWithTheProject",
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": principal},
			"Action":    "sts:TagSession",
			"Condition": map[string]any{
				"Null":                      map[string]any{"aws:RequestTag/" + userTag: "false", "aws:RequestTag/" + projectTag: "false", "aws:RequestTag/" + policy.NamePrefixTagKey: "false"},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": tfaws.SessionTagKeys},
				"StringLike": map[string]any{
					"aws:RequestTag/" + userTag:                 "?*",
					"aws:RequestTag/" + projectTag:              "?*",
					"aws:RequestTag/" + policy.NamePrefixTagKey: "tf-*",
				},
			},
		},
	)
}

// platformTagKeys lists the tags tenants may neither remove nor change.
func platformTagKeys() []string { return append([]string(nil), policy.PlatformTagKeys...) }

// permissionPolicy is what a tenant session (the platform role with a
// project's session tags) may do: its own names (S3, DynamoDB, Lambda,
// Logs), its own IAM path, its own tags (API Gateway), in the allowed
// regions, never the platform's role, boundary or tags.
func (s awsSetup) permissionPolicy() map[string]any {
	regionCondition := map[string]any{"aws:RequestedRegion": s.Regions}
	statements := []statement{
		{
			"Sid":    "IdentityAndInventory",
			"Effect": "Allow",
			// Reads that IAM grants only on "*"; they list names, never
			// contents.
			"Action":   []string{"sts:GetCallerIdentity", "tag:GetResources", "logs:DescribeLogGroups", "s3:ListAllMyBuckets"},
			"Resource": "*",
		},
	}
	statements = append(statements, s.namedStatements()...)
	statements = append(statements,
		statement{
			"Sid":      "EventSourceMappingsOfTheProjectsFunctions",
			"Effect":   "Allow",
			"Action":   []string{"lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"},
			"Resource": "*",
			"Condition": map[string]any{
				"StringLike": map[string]any{"lambda:FunctionArn": "arn:aws:lambda:*:" + s.AccountID + ":function:" + principalTag(policy.NamePrefixTagKey) + "-*"},
			},
		},
		statement{
			"Sid":      "CreateAPIsOnlyWithTheProjectsTags",
			"Effect":   "Allow",
			"Action":   []string{"apigateway:POST"},
			"Resource": "*",
			"Condition": map[string]any{
				"StringEquals":         merge(ownerMatch("aws:RequestTag"), map[string]string{"aws:RequestTag/" + managedByTag: tf.ManagedByTag}),
				"StringEqualsIfExists": regionCondition,
			},
		},
		statement{
			"Sid":      "ActOnlyOnTheProjectsAPIs",
			"Effect":   "Allow",
			"Action":   actions(tagScopedServices, "*"),
			"Resource": "*",
			"Condition": map[string]any{
				"StringEquals":         merge(ownerMatch("aws:ResourceTag"), map[string]string{"aws:ResourceTag/" + managedByTag: tf.ManagedByTag}),
				"StringEqualsIfExists": regionCondition,
			},
		},
		statement{
			"Sid":      "CreateRolesOnlyUnderThePathWithTheBoundary",
			"Effect":   "Allow",
			"Action":   []string{"iam:CreateRole", "iam:PutRolePermissionsBoundary"},
			"Resource": s.iamPathARN("role"),
			"Condition": map[string]any{
				"StringEquals": map[string]string{
					"iam:PermissionsBoundary":                   s.boundaryARN(),
					"aws:RequestTag/" + policy.NamePrefixTagKey: principalTag(policy.NamePrefixTagKey),
				},
			},
		},
		statement{
			"Sid":    "ManageOnlyTheProjectsRoles",
			"Effect": "Allow",
			"Action": []string{"iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoleTags",
				"iam:TagRole", "iam:UntagRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
				"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy"},
			"Resource": s.iamPathARN("role"),
		},
		statement{
			"Sid":      "PassOnlyTheProjectsRolesToItsServices",
			"Effect":   "Allow",
			"Action":   "iam:PassRole",
			"Resource": s.iamPathARN("role"),
			"Condition": map[string]any{
				"StringLike": map[string]any{"iam:PassedToService": []string{"lambda.amazonaws.com", "apigateway.amazonaws.com"}},
			},
		},
		statement{
			"Sid":    "ManageOnlyTheProjectsPolicies",
			"Effect": "Allow",
			"Action": []string{"iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags",
				"iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:TagPolicy", "iam:UntagPolicy"},
			"Resource": s.iamPathARN("policy"),
		},
		statement{
			"Sid":       "NeverRoleWithoutTheBoundary",
			"Effect":    "Deny",
			"Action":    []string{"iam:CreateRole", "iam:PutRolePermissionsBoundary"},
			"Resource":  "*",
			"Condition": map[string]any{"StringNotEquals": map[string]any{"iam:PermissionsBoundary": s.boundaryARN()}},
		},
		statement{
			"Sid":      "NeverTheBoundaryOff",
			"Effect":   "Deny",
			"Action":   "iam:DeleteRolePermissionsBoundary",
			"Resource": "*",
		},
		statement{
			"Sid":       "NeverThePlatformRoleOrBoundary",
			"Effect":    "Deny",
			"NotAction": []string{"iam:Get*", "iam:List*"},
			"Resource":  []string{s.roleARN(), s.boundaryARN()},
		},
		statement{
			"Sid":       "NeverRemoveOrChangePlatformTags",
			"Effect":    "Deny",
			"Action":    untagActions,
			"Resource":  "*",
			"Condition": map[string]any{"ForAnyValue:StringEquals": map[string]any{"aws:TagKeys": platformTagKeys()}},
		},
	)
	// A tag naming another owner is refused key by key: the deny applies
	// when the request sets the key (Null false) to another value than
	// the session's. Requests that do not set it (a tenant's own tag
	// added later) are not concerned.
	for _, key := range []string{userTag, projectTag, policy.NamePrefixTagKey} {
		statements = append(statements, statement{
			"Sid":      "NeverTag" + key + "ForAnotherProject",
			"Effect":   "Deny",
			"Action":   tagActions,
			"Resource": "*",
			"Condition": map[string]any{
				"Null":            map[string]any{"aws:RequestTag/" + key: "false"},
				"StringNotEquals": map[string]any{"aws:RequestTag/" + key: principalTag(key)},
			},
		})
	}
	statements = append(statements, statement{
		"Sid":       "OnlyTheAllowedRegions",
		"Effect":    "Deny",
		"NotAction": []string{"iam:*", "sts:*", "s3:ListAllMyBuckets"},
		"Resource":  "*",
		"Condition": map[string]any{"StringNotEquals": regionCondition},
	})
	return doc(statements...)
}

// boundaryPolicy bounds every role a tenant creates (a Lambda's execution
// role). Its principal tags are the role's own tags, which the engine sets
// (default_tags) and the platform role's policy requires: the project's
// names, its tagged APIs, no identity or account control, the allowed
// regions.
func (s awsSetup) boundaryPolicy() map[string]any {
	statements := s.namedStatements()
	statements = append(statements,
		statement{
			"Sid":       "TheProjectsAPIs",
			"Effect":    "Allow",
			"Action":    actions(tagScopedServices, "*"),
			"Resource":  "*",
			"Condition": map[string]any{"StringEquals": ownerMatch("aws:ResourceTag")},
		},
		statement{
			"Sid":      "Identity",
			"Effect":   "Allow",
			"Action":   "sts:GetCallerIdentity",
			"Resource": "*",
		},
		statement{
			"Sid":      "NoIdentityOrAccountControl",
			"Effect":   "Deny",
			"Action":   []string{"iam:*", "sts:AssumeRole*", "organizations:*"},
			"Resource": "*",
		},
		statement{
			"Sid":       "OnlyTheAllowedRegions",
			"Effect":    "Deny",
			"NotAction": []string{"iam:*", "sts:*"},
			"Resource":  "*",
			"Condition": map[string]any{"StringNotEquals": map[string]any{"aws:RequestedRegion": s.Regions}},
		},
	)
	return doc(statements...)
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func marshalDoc(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return string(b) + "\n"
}

// commands are the aws CLI calls that create the role, the boundary and
// the permission policy from the JSON files next to them.
func (s awsSetup) commands() string {
	return fmt.Sprintf(`#!/bin/sh
# Creates tenantform's platform role, the tenant permissions boundary and the
# tenant ABAC policy in account %[1]s. Run from the directory holding the
# JSON documents (deploy/aws or the output of tenantform aws-setup --write-dir).
set -eu
aws iam create-policy --policy-name %[3]s \
  --description "Bounds every role a tenantform tenant creates" \
  --policy-document file://%[4]s
aws iam create-role --role-name %[2]s \
  --description "Assumed by tenantform with the external id and session tags UserId/ProjectId" \
  --max-session-duration 3600 \
  --assume-role-policy-document file://%[5]s \
  --tags Key=ManagedBy,Value=%[7]s
aws iam put-role-policy --role-name %[2]s --policy-name tenant-abac \
  --policy-document file://%[6]s
echo "AWS_ROLE_ARN=%[8]s"
echo "AWS_PERMISSIONS_BOUNDARY_ARN=%[9]s"
`, s.AccountID, s.RoleName, s.BoundaryName, boundaryFile, trustFile, permissionFile, tf.ManagedByTag, s.roleARN(), s.boundaryARN())
}

// terraformSnippet creates the same objects with Terraform, reading the
// same JSON documents.
func (s awsSetup) terraformSnippet() string {
	return fmt.Sprintf(`# tenantform's platform role, tenant ABAC policy and permissions boundary
# (account %[1]s). The JSON documents sit next to this file.
resource "aws_iam_policy" "tenant_boundary" {
  name        = %[3]q
  description = "Bounds every role a tenantform tenant creates"
  policy      = file("${path.module}/%[4]s")
}

resource "aws_iam_role" "platform" {
  name                 = %[2]q
  description          = "Assumed by tenantform with the external id and session tags UserId/ProjectId"
  max_session_duration = 3600
  assume_role_policy   = file("${path.module}/%[5]s")
  tags                 = { ManagedBy = %[7]q }
}

resource "aws_iam_role_policy" "tenant_abac" {
  name   = "tenant-abac"
  role   = aws_iam_role.platform.id
  policy = file("${path.module}/%[6]s")
}

output "AWS_ROLE_ARN" {
  value = aws_iam_role.platform.arn
}

output "AWS_PERMISSIONS_BOUNDARY_ARN" {
  value = aws_iam_policy.tenant_boundary.arn
}
`, s.AccountID, s.RoleName, s.BoundaryName, boundaryFile, trustFile, permissionFile, tf.ManagedByTag)
}

// files returns every document by file name.
func (s awsSetup) files() map[string]string {
	return map[string]string{
		trustFile:      marshalDoc(s.trustPolicy()),
		permissionFile: marshalDoc(s.permissionPolicy()),
		boundaryFile:   marshalDoc(s.boundaryPolicy()),
		commandsFile:   s.commands(),
		terraformFile:  s.terraformSnippet(),
	}
}

// Patterns of the flags; the external id and regions follow the rules of
// AWS_EXTERNAL_ID and AWS_ALLOWED_REGIONS (config.go).
var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	iamNamePattern   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// runAWSSetup is `tenantform aws-setup`.
func runAWSSetup(args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("aws-setup", "aws-setup --account-id ID --external-id X [--regions r1,r2] [--principal-arn ARN] [--write-dir DIR]", stderr)
	s := awsSetup{}
	flags.StringVar(&s.AccountID, "account-id", "", "the AWS account id (12 digits)")
	flags.StringVar(&s.ExternalID, "external-id", "", "the external id tenantform presents (AWS_EXTERNAL_ID)")
	flags.StringVar(&s.PrincipalARN, "principal-arn", "", "who may assume the platform role (default: the account's root)")
	flags.StringVar(&s.RoleName, "role-name", "tenantform-platform", "name of the platform role (AWS_ROLE_ARN)")
	flags.StringVar(&s.BoundaryName, "boundary-name", "tenantform-tenant-boundary", "name of the permissions boundary policy of tenant roles")
	regions := flags.String("regions", "us-east-1,us-west-2", "allowed regions (AWS_ALLOWED_REGIONS)")
	writeDir := flags.String("write-dir", "", "also write the documents into this directory")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	for _, check := range []struct {
		ok   bool
		what string
	}{
		{accountIDPattern.MatchString(s.AccountID), "--account-id must be 12 digits"},
		{externalIDPattern.MatchString(s.ExternalID) && len(s.ExternalID) >= 2 && len(s.ExternalID) <= 1224, "--external-id must be 2 to 1224 characters of letters, digits and +=,.@:/-"},
		{iamNamePattern.MatchString(s.RoleName), "--role-name is not a valid IAM name"},
		{iamNamePattern.MatchString(s.BoundaryName), "--boundary-name is not a valid IAM name"},
	} {
		if !check.ok {
			fmt.Fprintf(stderr, "tenantform aws-setup: %s\n", check.what)
			flags.Usage()
			return errUsage
		}
	}
	for _, r := range strings.Split(*regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			if !regionPattern.MatchString(r) {
				fmt.Fprintf(stderr, "tenantform aws-setup: --regions: %q is not a region name\n", r)
				return errUsage
			}
			s.Regions = append(s.Regions, r)
		}
	}
	if len(s.Regions) == 0 {
		fmt.Fprintln(stderr, "tenantform aws-setup: --regions names no region")
		return errUsage
	}
	files := s.files()
	if *writeDir != "" {
		if err := os.MkdirAll(*writeDir, 0o755); err != nil {
			return err
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(*writeDir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{trustFile, permissionFile, boundaryFile, commandsFile, terraformFile} {
		fmt.Fprintf(stdout, "### %s\n%s\n", name, files[name])
	}
	return nil
}
