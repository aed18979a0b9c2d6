package tf

import (
	"sort"

	"github.com/tenantform/tenantform/tf/policy"
)

// configInfo is what the engine needs to know about tenant configuration
// beyond the policy: whether to generate the aws provider, and which parts
// of the configuration terraform init depends on. It comes from
// policy.Inspect, which reads .tf and .tf.json with the parsers terraform
// uses (a .tf.json file's duplicate "provider" or "resource" keys are
// separate blocks, as terraform sees them), so the generated provider
// configuration covers every block terraform will run.
type configInfo struct {
	// usesAWS: some resource or data source has an aws_ type.
	usesAWS bool
	// requiresAWS: the tenant already lists aws in required_providers, so
	// the generated file must not list it again (terraform refuses a
	// provider required twice in one module).
	requiresAWS bool
	// awsVersion is the tenant's own constraint for hashicorp/aws.
	awsVersion string
	// awsProviders are the tenant's own aws provider configurations (the
	// policy allows the default one and aliased ones, with a checked
	// region and literal default_tags). Each gets the project's tags.
	awsProviders []policy.AWSProvider
	// iamRoles are the aws_iam_role resources by module directory: each
	// gets the platform's permissions boundary.
	iamRoles map[string][]string
	// initDigest covers exactly what `terraform init` reads from tenant
	// configuration: terraform, provider and module blocks, and the
	// provider each resource type implies. Editing a resource's arguments
	// or a variable does not change it, so such edits skip init.
	initDigest string
}

func analyze(files map[string]string) configInfo {
	in := policy.Inspect(files)
	return configInfo{
		usesAWS:      in.UsesAWS,
		requiresAWS:  in.RequiresAWS,
		awsVersion:   in.AWSVersion,
		awsProviders: in.AWSProviders,
		iamRoles:     in.IAMRoles,
		initDigest:   in.InitDigest,
	}
}

// defaultAWSProvider returns the tenant's un-aliased aws provider block.
func (i configInfo) defaultAWSProvider() (policy.AWSProvider, bool) {
	for _, p := range i.awsProviders {
		if p.Alias == "" {
			return p, true
		}
	}
	return policy.AWSProvider{}, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
