// Package policy checks tenant Terraform configuration before any terraform
// command sees it. Tenant configuration is hostile input: the check refuses
// everything that could reach the host, other tenants or the server's
// secrets, and names the file and line of every problem.
package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tenantform/tenantform/tf/providers"
)

// Violation is one problem found in the configuration (File and Line) or
// in its plan (Address).
type Violation struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Address string `json:"address,omitempty"`
	Message string `json:"message"`
	// Reason classifies plan violations: ReasonPolicy, ReasonQuota or
	// ReasonCostUnknown. Empty for the source check, whose violations are
	// all ReasonPolicy.
	Reason string `json:"reason,omitempty"`
}

// Reasons of plan violations. A policy violation is terminal; the others
// block the project until the quota or the configuration changes.
const (
	ReasonPolicy      = "PolicyViolation"
	ReasonQuota       = "QuotaExceeded"
	ReasonCostUnknown = "CostUnknown"
	// ReasonSyntax marks a source violation that is terraform's parser
	// refusing a file (syntax or block structure), not a policy rule.
	ReasonSyntax = "SyntaxError"
)

func (v Violation) String() string {
	if v.Address != "" {
		return fmt.Sprintf("%s: %s", v.Address, v.Message)
	}
	if v.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", v.File, v.Line, v.Message)
	}
	return fmt.Sprintf("%s: %s", v.File, v.Message)
}

// Error carries every violation of one configuration. It is terminal: the
// same spec will never pass, so callers wait for a new generation.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("%d %s in the configuration: %s", len(parts), noun, strings.Join(parts, "; "))
}

// Rules says what tenant configuration may contain. Operators extend the
// allow-lists; the escape checks (provisioners, file reads outside the
// project, credentials and endpoints, backends, remote modules, platform
// tags, keeping resources past their end, the types in alwaysRefused) have
// no switch.
type Rules struct {
	// AllowedRegions bounds every region a configuration names: the aws
	// provider's, a resource's own region argument and replica regions
	// (AWS_ALLOWED_REGIONS).
	AllowedRegions []string
	// AllowedResourceTypes lists managed resource types; an entry ending
	// in "*" is a prefix ("random_*"). Operators extend it with
	// ALLOWED_RESOURCE_TYPES.
	AllowedResourceTypes []string
	// AllowedDataSources lists data source types, separately from
	// resources: a data source of an allowed resource type would read
	// other tenants' objects. Operators extend it with
	// ALLOWED_DATA_SOURCES.
	AllowedDataSources []string
	// DeniedResourceTypes (same patterns) wins over both allow-lists: it
	// carves out of a prefix pattern the types that must never be used.
	// The types in alwaysRefused are refused whatever the lists say.
	DeniedResourceTypes []string
	// AllowedProviders lists provider local names a tenant may configure
	// (e.g. "aws", "random", "archive"). Each must come from hashicorp/<name>.
	AllowedProviders []string
	// AllowedModuleSources lists module sources accepted verbatim, besides
	// local modules ("./modules/x") inside the submission, which are
	// checked like the root module. A remote module would not be checked.
	AllowedModuleSources []string
	// AllowedManagedPolicies lists the ARNs of AWS managed policies that
	// may be attached to a tenant's roles (the rest of IAM is checked in
	// the plan). "${partition}" may stand for the partition.
	AllowedManagedPolicies []string
	// MaxResources bounds the literal count or for_each size of one
	// resource. Callers set it to the user's remaining quota; zero or less
	// means DefaultMaxResources.
	MaxResources int
	// PermissionsBoundaryARN is the permissions boundary package tf puts
	// on every aws_iam_role of a project and the plan check requires
	// (AWS_PERMISSIONS_BOUNDARY_ARN, from tenantform aws-setup). Empty:
	// none (local emulators).
	PermissionsBoundaryARN string
	// RequireNamePrefix: role mode (AWS_ROLE_ARN). Every named AWS
	// resource a project creates must carry its NamePrefix, and IAM roles
	// and policies its IAMPath (nameprefix.go), the names the platform
	// role's policy scopes each session to.
	RequireNamePrefix bool
	// ProviderLock is the platform's provider lock (package providers):
	// a tenant's version constraint must admit the locked version. Nil
	// means providers.Platform().
	ProviderLock *providers.Lock
	// MaxFiles, MaxTotalBytes and MaxNestingDepth bound the submission.
	// MaxTotalBytes counts names and contents. Zero or less means the
	// default (DefaultMaxFiles, ...): a limit is never switched off.
	MaxFiles        int
	MaxTotalBytes   int
	MaxNestingDepth int
}

// Default limits of a submission.
const (
	DefaultMaxFiles        = 50
	DefaultMaxTotalBytes   = 1 << 20
	DefaultMaxNestingDepth = 20
	DefaultMaxResources    = 1000
)

// DefaultRules is the policy of the guide: its regions, and the types its
// web products use (S3, Lambda, API Gateway, DynamoDB, IAM roles and
// policies, CloudWatch logs) with the aws, random and archive providers.
func DefaultRules() Rules {
	return Rules{
		AllowedRegions: []string{"us-east-1", "us-west-2"},
		AllowedResourceTypes: []string{
			"terraform_data",
			"random_*",

			"aws_s3_bucket",
			"aws_s3_bucket_policy",
			"aws_s3_bucket_versioning",
			"aws_s3_bucket_public_access_block",
			"aws_s3_bucket_server_side_encryption_configuration",
			"aws_s3_bucket_cors_configuration",
			"aws_s3_bucket_website_configuration",
			"aws_s3_bucket_lifecycle_configuration",
			"aws_s3_bucket_ownership_controls",
			"aws_s3_bucket_notification",
			"aws_s3_object",

			"aws_lambda_function",
			"aws_lambda_permission",
			"aws_lambda_alias",
			"aws_lambda_function_url",
			"aws_lambda_event_source_mapping",
			"aws_lambda_layer_version",

			"aws_api_gateway_*",
			"aws_apigatewayv2_*",

			"aws_dynamodb_table",
			"aws_dynamodb_table_item",

			"aws_iam_role",
			"aws_iam_role_policy",
			"aws_iam_policy",
			"aws_iam_role_policy_attachment",

			"aws_cloudwatch_log_group",

			// Over the project's own files only: see archive.go.
			"archive_file",
		},
		AllowedDataSources: []string{
			"aws_caller_identity",
			"aws_region",
			"aws_partition",
			"aws_availability_zones",
			"aws_iam_policy_document",
			"archive_file",
		},
		// The API Gateway account settings are one per AWS account, shared
		// by every project.
		DeniedResourceTypes:    []string{"aws_api_gateway_account"},
		AllowedProviders:       []string{"aws", "random", "archive"},
		AllowedManagedPolicies: DefaultManagedPolicies(),
		MaxResources:           DefaultMaxResources,
		MaxFiles:               DefaultMaxFiles,
		MaxTotalBytes:          DefaultMaxTotalBytes,
		MaxNestingDepth:        DefaultMaxNestingDepth,
	}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Check returns every violation of rules in a submission, sorted by file
// and line, or nil when there is none. files maps plain file names to
// contents: .tf files (native syntax) and .tf.json files (JSON syntax) are
// configuration, and a few data file types (Lambda code, pages,
// templates) may be read by it with file() or templatefile().
//
// Check never runs anything and reads nothing but its arguments. A
// submission over MaxTotalBytes is refused without being parsed, and every
// file's nesting is bounded before its parser sees it, so hostile input
// costs time and memory proportional to the limits.
func Check(files map[string]string, rules Rules) []Violation {
	return check(files, rules).result()
}

// check runs Check's checks and returns the checker, which holds the
// parsed files (nil for a submission refused unparsed).
func check(files map[string]string, rules Rules) *checker {
	c := &checker{
		rules:    rules,
		files:    files,
		maxDepth: orDefault(rules.MaxNestingDepth, DefaultMaxNestingDepth),
	}
	c.scanLimit = scanLimit(c.maxDepth)

	names := make([]string, 0, len(files))
	total := 0
	for name, content := range files {
		names = append(names, name)
		total += len(name) + len(content)
	}
	sort.Strings(names)
	dirs := directories(names)

	c.startFile(submissionFile)
	if maxFiles := orDefault(rules.MaxFiles, DefaultMaxFiles); len(files) > maxFiles {
		c.report(0, "too many files: %d submitted, at most %d are accepted", len(files), maxFiles)
	}
	maxBytes := orDefault(rules.MaxTotalBytes, DefaultMaxTotalBytes)
	tooBig := total > maxBytes
	if tooBig {
		c.report(0, "the submission is too large: %d bytes, at most %d are accepted", total, maxBytes)
	}

	for _, name := range names {
		c.startFile(name)
		if _, msg := classify(name); msg != "" {
			c.report(0, "%s", msg)
		}
		if dirs[name] {
			c.report(0, "%s is both a file and a directory", name)
		}
	}
	if tooBig {
		return c
	}
	// Configuration is checked even under a refused name (override.tf,
	// tenantform_x.tf): the tenant gets every problem at once.
	c.parsed = parseAll(files, names, c.scanLimit)
	c.project = newProject(c.parsed)
	for _, name := range names {
		c.configFile(name)
	}
	c.moduleGraph()
	c.templateFiles()
	return c
}

// parseAll parses every configuration file of a submission.
func parseAll(files map[string]string, names []string, limit int) map[string]parsed {
	out := map[string]parsed{}
	for _, name := range names {
		if kind := configKind(name); kind != dataFile {
			out[name] = parseConfig(name, files[name], kind, limit)
		}
	}
	return out
}

// directories returns every directory that holds a submitted file.
func directories(names []string) map[string]bool {
	out := map[string]bool{}
	for _, name := range names {
		for dir := moduleDir(name); dir != ""; dir = moduleDir(dir) {
			out[dir] = true
		}
	}
	return out
}

// configKind says how Terraform would parse a file, whatever its name's
// other problems.
func configKind(name string) fileKind {
	switch {
	case strings.HasSuffix(name, ".tf.json"):
		return jsonConfig
	case strings.HasSuffix(name, ".tf"):
		return nativeConfig
	}
	return dataFile
}

// CheckError is Check for callers that want an error: a *Error carrying
// the violations, or nil.
func CheckError(files map[string]string, rules Rules) error {
	if v := Check(files, rules); len(v) > 0 {
		return &Error{Violations: v}
	}
	return nil
}
