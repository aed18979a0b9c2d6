package policy

import (
	"fmt"

	version "github.com/hashicorp/go-version"
)

// The aws provider is pinned to the versions tenantform is tested with
// (Rules.AWSProviderVersion): package tf joins the tenant's constraint to
// the platform's, so terraform picks a version both accept. A tenant
// constraint that leaves no such version is refused here, with a message,
// rather than failing init with terraform's.

// maxProbedMinor bounds the minor versions probed per major version.
const maxProbedMinor = 120

// compatibleVersions reports whether some release accepted by platform is
// also accepted by tenant. Releases are probed as major.minor.patch for
// the majors the platform constraint allows (0 to 20) and a handful of
// patches: provider releases follow semantic versioning, so a constraint
// that accepts any release accepts one of these.
func compatibleVersions(platform, tenant string) (bool, error) {
	p, err := version.NewConstraint(platform)
	if err != nil {
		return false, fmt.Errorf("the platform's constraint %q: %w", platform, err)
	}
	t, err := version.NewConstraint(tenant)
	if err != nil {
		return false, err
	}
	for major := 0; major <= 20; major++ {
		for minor := 0; minor <= maxProbedMinor; minor++ {
			for _, patch := range []int{0, 1, 2, 5, 10, 20, 50} {
				v := version.Must(version.NewVersion(fmt.Sprintf("%d.%d.%d", major, minor, patch)))
				if p.Check(v) && t.Check(v) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// awsVersionCheck checks a tenant's literal version constraint for
// hashicorp/aws.
func (c *checker) awsVersionCheck(constraint string, line int) {
	platform := c.rules.AWSProviderVersion
	if platform == "" {
		platform = DefaultAWSProviderVersion
	}
	ok, err := compatibleVersions(platform, constraint)
	switch {
	case err != nil:
		c.report(line, "the version constraint %s of provider \"aws\" is not valid: %v", describe(constraint), err)
	case !ok:
		c.report(line, "the version constraint %s of provider \"aws\" leaves no version tenantform supports: tenantform runs hashicorp/aws %s", describe(constraint), platform)
	}
}
