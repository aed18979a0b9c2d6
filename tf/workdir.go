package tf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantform/tenantform/tf/policy"
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
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") ||
			strings.HasPrefix(name, "tenantform_") || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("invalid file name %q", name)
		}
	}
	return nil
}

func (p Project) workspace() string { return WorkspaceName(p.UserID, p.ProjectID) }

// renderInput is everything rendering a workdir depends on.
type renderInput struct {
	project     Project
	info        configInfo
	schema      string
	endpointURL string
	environment string
}

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
	if in.info.usesAWS {
		p := in.project
		if p.Region == "" {
			return nil, errors.New("the configuration uses AWS resources but the project has no region")
		}
		provider := awsSettings(in)
		provider["region"] = p.Region
		doc := map[string]any{"provider": map[string]any{"aws": provider}}
		if !in.info.requiresAWS {
			doc["terraform"] = map[string]any{
				"required_providers": map[string]any{
					"aws": map[string]string{"source": "hashicorp/aws"},
				},
			}
		}
		if out[providerFile], err = marshalFile(doc); err != nil {
			return nil, err
		}
		// The tenant's aliased configurations get the same tags (and
		// endpoints) through an override file, which terraform merges
		// into the provider block of the same alias; their region stays
		// the tenant's, which the policy has checked.
		if len(in.info.awsAliases) > 0 {
			var aliased []any
			for _, alias := range in.info.awsAliases {
				cfg := awsSettings(in)
				cfg["alias"] = alias
				aliased = append(aliased, cfg)
			}
			override := map[string]any{"provider": map[string]any{"aws": aliased}}
			if out[providerOverrideFile], err = marshalFile(override); err != nil {
				return nil, err
			}
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

// PlatformTags are the guide's tags on every AWS resource of a project,
// rendered into the aws provider's default_tags; the reconciler compares
// the tagged inventory with them.
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
// project gets: the guide's tags and, for emulators, the endpoints.
func awsSettings(in renderInput) map[string]any {
	settings := map[string]any{
		"default_tags": map[string]any{"tags": PlatformTags(in.project, in.environment)},
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
// are kept. Files whose content is unchanged are not rewritten.
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
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if _, ok := want[name]; ok && e.Type().IsRegular() {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("removing stale %s: %w", name, err)
		}
	}
	for _, name := range sortedKeys(want) {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, want[name]) {
			continue
		}
		if err := writeFileAtomic(path, want[name]); err != nil {
			return err
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
