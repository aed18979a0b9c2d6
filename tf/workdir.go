package tf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantform/tenantform/tf/policy"
	"github.com/tenantform/tenantform/tf/providers"
)

// Names of the files tenantform owns in a workdir. The policy reserves the
// "tenantform_" prefix, so tenant files can never collide with them. They
// are JSON (Terraform's JSON syntax and tfvars) so that no value, however
// odd, can change their structure.
const (
	backendFile  = "tenantform_backend.tf.json"
	providerFile = "tenantform_provider.tf.json"
	// providerOverrideFile extends the tenant's aliased aws provider
	// configurations; "_override" makes terraform merge it into them.
	providerOverrideFile = "tenantform_provider_override.tf.json"
	varsFile             = "tenantform_vars.auto.tfvars.json"

	// privateDir holds what terraform must not see as configuration: the
	// process's HOME and saved plans. Dot-names are never tenant files.
	privateDir = ".tenantform"
	// initHashFile records what the last successful init depended on. It
	// lives under .terraform so that losing .terraform forces a new init.
	initHashFile = ".terraform/tenantform-init-hash"
	// environmentFile is where terraform records the selected workspace.
	environmentFile = ".terraform/environment"
)

// Tag values of the guide's tagging strategy.
const (
	ManagedByTag  = "chart-app-platform"
	projectPrefix = "chart-app-"
)

// ProjectTag is the Project tag of a tenant's resources (and the STS session
// name the aws package uses): "chart-app-{userId}-{projectId}".
func ProjectTag(userID, projectID string) string {
	return projectPrefix + userID + "-" + projectID
}

// WorkspaceName is the Terraform workspace (and workdir name) of a project.
// User and project ids (policy.ValidID) are [a-z][a-z0-9-]{0,39}, so "_" never occurs in
// them and joining with it cannot make two projects share a name, as a "-"
// separator could ("a-b"+"c" vs "a"+"b-c").
func WorkspaceName(userID, projectID string) string {
	return userID + "_" + projectID
}

// Project is one tenant project as the engine needs it.
type Project struct {
	UserID, ProjectID string
	// Region of the aws provider; required when the configuration uses AWS.
	Region string
	// Files maps a plain file name to its content (HCL, .tf.json, data).
	Files map[string]string
	// Variables are the input variables, written to a generated tfvars file.
	Variables map[string]any
	// CreatedAt is the CreatedAt tag.
	CreatedAt time.Time
	// Imports adopt existing resources into the project's addresses
	// (strays a crashed apply left in AWS), rendered as import blocks in a
	// generated file: tenant files may not hold import blocks.
	Imports []Import
}

// Import adopts the resource with id into the address To.
type Import struct {
	To string `json:"to"`
	ID string `json:"id"`
}

func (p Project) validate() error {
	if !policy.ValidID(p.UserID) {
		return fmt.Errorf("invalid user id %q: want %s", p.UserID, policy.IDRule)
	}
	if !policy.ValidID(p.ProjectID) {
		return fmt.Errorf("invalid project id %q: want %s", p.ProjectID, policy.IDRule)
	}
	for name := range p.Files {
		// The policy refuses these already; the engine checks again
		// because a bad name here would write outside the workdir or over
		// a file tenantform owns.
		if !safeFileName(name) {
			return fmt.Errorf("invalid file name %q", name)
		}
	}
	return nil
}

// safeFileName accepts a slash-separated path inside the workdir that
// passes through no hidden entry (.terraform, .tenantform) and does not
// start with a name tenantform generates.
func safeFileName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") ||
		strings.HasPrefix(name, "tenantform_") {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

func (p Project) workspace() string { return WorkspaceName(p.UserID, p.ProjectID) }

// renderInput is everything rendering a workdir depends on.
type renderInput struct {
	project     Project
	info        configInfo
	schema      string
	endpointURL string
	environment string
	// lock is the platform's provider lock (Config.ProviderLock): the aws
	// version pinned in the generated required_providers.
	lock *providers.Lock
	// boundaryARN is the permissions boundary of tenant roles
	// (policy.Rules.PermissionsBoundaryARN), or "".
	boundaryARN string
	// namePrefixTag: role mode (policy.Rules.RequireNamePrefix); every
	// resource gets the NamePrefix tag, which scopes a tenant role's
	// permissions boundary to the project's names.
	namePrefixTag bool
}

// providerLock is the lock the workdir gets; nil means the platform's.
func (in renderInput) providerLock() *providers.Lock {
	if in.lock == nil {
		return providers.Platform()
	}
	return in.lock
}

// importsFile holds the import blocks of Project.Imports.
const importsFile = "tenantform_imports.tf.json"

// boundaryOverrideFile is written into each module directory declaring
// aws_iam_role resources; "_override" makes terraform merge it into them.
const boundaryOverrideFile = "tenantform_boundary_override.tf.json"

// generatedFiles returns the content of the files tenantform owns for a
// project; a nil value means the file must not exist.
func generatedFiles(in renderInput) (map[string][]byte, error) {
	out := map[string][]byte{}
	backend := map[string]any{
		"terraform": map[string]any{
			"backend": map[string]any{
				// No conn_str: the backend reads PG_CONN_STR from the
				// environment, so the workdir never holds the password.
				"pg": map[string]any{"schema_name": in.schema},
			},
		},
	}
	b, err := marshalFile(backend)
	if err != nil {
		return nil, err
	}
	out[backendFile] = b

	out[providerFile] = nil
	out[providerOverrideFile] = nil
	out[importsFile] = nil
	if len(in.project.Imports) > 0 {
		if out[importsFile], err = marshalFile(map[string]any{"import": in.project.Imports}); err != nil {
			return nil, err
		}
	}
	if in.info.usesAWS {
		if err := awsProviderFiles(in, out); err != nil {
			return nil, err
		}
	}
	// Every role a tenant creates carries the platform's permissions
	// boundary, whatever its own configuration says: AWS refuses to
	// create one without it (deploy/aws), so this keeps such roles
	// working rather than being the guard itself.
	if in.boundaryARN != "" {
		for dir, roles := range in.info.iamRoles {
			byName := map[string]any{}
			for _, name := range roles {
				byName[name] = map[string]any{"permissions_boundary": in.boundaryARN}
			}
			b, err := marshalFile(map[string]any{"resource": map[string]any{"aws_iam_role": byName}})
			if err != nil {
				return nil, err
			}
			out[path.Join(dir, boundaryOverrideFile)] = b
		}
	}

	out[varsFile] = nil
	if len(in.project.Variables) > 0 {
		if out[varsFile], err = marshalFile(in.project.Variables); err != nil {
			return nil, fmt.Errorf("variables: %w", err)
		}
	}
	return out, nil
}

// awsProviderFiles generates the aws provider configuration. When the
// tenant has no default aws provider, tenantform declares it (region,
// tags, endpoints) in providerFile. The tenant's own aws provider blocks,
// default or aliased, get the same settings through providerOverrideFile,
// which terraform merges into the block of the same alias: their
// default_tags become the tenant's tags with the platform's merged over
// them (platform keys win), their region stays the tenant's (checked by
// the policy) or becomes the project's. The provider version is pinned
// the same way: the locked version, joined to the tenant's own constraint.
func awsProviderFiles(in renderInput, out map[string][]byte) error {
	p := in.project
	if p.Region == "" {
		return errors.New("the configuration uses AWS resources but the project has no region")
	}
	// The exact locked version: the lock file alone would do, the
	// constraint says the same thing where terraform reports it.
	awsLocked, ok := in.providerLock().Provider("aws")
	if !ok {
		return errors.New("the configuration uses AWS resources but the provider lock has no hashicorp/aws")
	}
	pin := awsLocked.Version
	doc := map[string]any{}
	if _, tenantDefault := in.info.defaultAWSProvider(); !tenantDefault {
		provider := awsSettings(in, nil)
		provider["region"] = p.Region
		doc["provider"] = map[string]any{"aws": provider}
	}
	if !in.info.requiresAWS {
		doc["terraform"] = map[string]any{
			"required_providers": map[string]any{
				"aws": map[string]string{"source": "hashicorp/aws", "version": pin},
			},
		}
	}
	var err error
	if len(doc) > 0 {
		if out[providerFile], err = marshalFile(doc); err != nil {
			return err
		}
	}

	override := map[string]any{}
	var configs []any
	for _, tp := range in.info.awsProviders {
		cfg := awsSettings(in, tp.DefaultTags)
		if tp.Alias != "" {
			cfg["alias"] = tp.Alias
		} else if !tp.Region {
			cfg["region"] = p.Region
		}
		configs = append(configs, cfg)
	}
	if len(configs) > 0 {
		override["provider"] = map[string]any{"aws": configs}
	}
	if in.info.requiresAWS {
		version := pin
		if in.info.awsVersion != "" {
			version = in.info.awsVersion + ", " + pin
		}
		override["terraform"] = map[string]any{
			"required_providers": map[string]any{
				"aws": map[string]string{"source": "hashicorp/aws", "version": version},
			},
		}
	}
	if len(override) > 0 {
		if out[providerOverrideFile], err = marshalFile(override); err != nil {
			return err
		}
	}
	return nil
}

// PlatformTags are the guide's tags of a project's AWS resources, by
// policy.PlatformTagKeys.
func PlatformTags(p Project, environment string) map[string]string {
	return map[string]string{
		"Project":     ProjectTag(p.UserID, p.ProjectID),
		"Environment": environment,
		"ManagedBy":   ManagedByTag,
		"UserId":      p.UserID,
		"ProjectId":   p.ProjectID,
		"CreatedAt":   p.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// awsSettings are the aws provider settings every configuration of a
// project gets: the tenant's default tags with the guide's tags merged
// over them and, for emulators, the endpoints.
func awsSettings(in renderInput, tenantTags map[string]string) map[string]any {
	tags := map[string]string{}
	for k, v := range tenantTags {
		tags[k] = v
	}
	for k, v := range PlatformTags(in.project, in.environment) {
		tags[k] = v
	}
	if in.namePrefixTag {
		tags[policy.NamePrefixTagKey] = policy.NamePrefixTag(in.project.UserID, in.project.ProjectID)
	}
	settings := map[string]any{
		"default_tags": map[string]any{"tags": tags},
	}
	if in.endpointURL != "" {
		endpoints := map[string]string{}
		for _, svc := range endpointServices {
			endpoints[svc] = in.endpointURL
		}
		settings["endpoints"] = endpoints
		// Local emulators serve every bucket on one host.
		settings["s3_use_path_style"] = true
	}
	return settings
}

// endpointServices are the aws provider endpoint keys set when an endpoint
// URL is configured: the services of the guide plus STS, which the provider
// calls at start-up.
var endpointServices = []string{
	"apigateway", "apigatewayv2", "dynamodb", "iam", "lambda",
	"cloudwatchlogs", "s3", "sts",
}

func marshalFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// renderWorkdir makes dir hold exactly the tenant's files and the generated
// ones. Files of an earlier generation that are no longer part of the
// project are removed (terraform reads every *.tf in the directory, so a
// stale file would still be applied). Dot-entries are terraform's and
// tenantform's own state (.terraform, .terraform.lock.hcl, .tenantform) and
// are kept: the lock is written by run.ensureInit, before each init. Files whose content is unchanged are not rewritten.
func renderWorkdir(dir string, p Project, generated map[string][]byte) error {
	if err := os.MkdirAll(filepath.Join(dir, privateDir, "home"), 0o700); err != nil {
		return err
	}
	want := map[string][]byte{}
	for name, content := range p.Files {
		want[name] = []byte(content)
	}
	for name, content := range generated {
		if content != nil {
			want[name] = content
		}
	}
	if err := removeStale(dir, want); err != nil {
		return err
	}
	for _, name := range sortedKeys(want) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want[name]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := writeFileAtomic(path, want[name]); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes every file and directory of dir that holds none of
// the wanted files, except the dot-entries at its top, and anything that
// is not a regular file or a directory.
func removeStale(dir string, want map[string][]byte) error {
	wantDirs := map[string]bool{}
	for name := range want {
		for d := filepath.Dir(filepath.FromSlash(name)); d != "."; d = filepath.Dir(d) {
			wantDirs[d] = true
		}
	}
	var stale []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case rel == ".":
			return nil
		case !strings.Contains(rel, string(filepath.Separator)) && strings.HasPrefix(rel, "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir() && wantDirs[rel]:
			return nil
		case d.Type().IsRegular() && want[filepath.ToSlash(rel)] != nil:
			return nil
		}
		stale = append(stale, path)
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, path := range stale {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("removing stale %s: %w", path, err)
		}
	}
	return nil
}

// writeFileAtomic replaces path so that a crash never leaves a half-written
// configuration file behind.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
