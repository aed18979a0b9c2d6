package policy

import (
	"fmt"
	"regexp"

	version "github.com/hashicorp/go-version"
)

// The aws provider is pinned to the versions tenantform is tested with
// (Rules.AWSProviderVersion): package tf joins the tenant's constraint to
// the platform's, so terraform picks a version both accept. A tenant
// constraint that leaves no such version is refused here, with a message,
// rather than failing init with terraform's.

// versionNumbers finds the versions a constraint string names.
var versionNumbers = regexp.MustCompile(`[0-9]+(\.[0-9]+){0,2}`)

// compatibleVersions reports whether some release accepted by platform is
// also accepted by tenant. Both accept sets are unions of intervals whose
// ends are the versions the constraints name, so if the sets meet, they
// meet at one of those versions, just after one (a ">" or "!=" bound), or
// at 0.0.0: those are the candidates probed.
func compatibleVersions(platform, tenant string) (bool, error) {
	p, err := version.NewConstraint(platform)
	if err != nil {
		return false, fmt.Errorf("the platform's constraint %q: %w", platform, err)
	}
	t, err := version.NewConstraint(tenant)
	if err != nil {
		return false, err
	}
	candidates := []*version.Version{version.Must(version.NewVersion("0.0.0"))}
	for _, raw := range versionNumbers.FindAllString(platform+" "+tenant, -1) {
		v, err := version.NewVersion(raw)
		if err != nil {
			continue
		}
		seg := v.Segments()
		candidates = append(candidates, v,
			version.Must(version.NewVersion(fmt.Sprintf("%d.%d.%d", seg[0], seg[1], seg[2]+1))),
			version.Must(version.NewVersion(fmt.Sprintf("%d.%d.0", seg[0], seg[1]+1))),
			version.Must(version.NewVersion(fmt.Sprintf("%d.0.0", seg[0]+1))))
	}
	for _, v := range candidates {
		if p.Check(v) && t.Check(v) {
			return true, nil
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
