package policy

import (
	"github.com/tenantform/tenantform/tf/providers"
)

// Providers are the platform's choice: tenantform ships a lock file
// (package providers) with the one version of each allowed provider it
// runs, and package tf writes it into every work directory, so terraform
// installs nothing else. A tenant's constraint may narrow nothing away
// from that version: one that does not admit it is refused here, naming
// the pinned version, rather than failing init with terraform's words.

func (c *checker) lock() *providers.Lock {
	if c.rules.ProviderLock != nil {
		return c.rules.ProviderLock
	}
	return providers.Platform()
}

// providerVersionCheck checks a tenant's literal version constraint for
// the provider name (an allowed one) against the platform's lock.
func (c *checker) providerVersionCheck(name, constraint string, line int) {
	locked, ok, err := c.lock().Admits(name, constraint)
	switch {
	case locked == "":
		c.report(line, "provider %q has no version in tenantform's provider lock, so it cannot be installed", name)
	case err != nil:
		c.report(line, "the version constraint %s of provider %q is not valid: %v", describe(constraint), name, err)
	case !ok:
		c.report(line, "the version constraint %s of provider %q does not admit hashicorp/%s %s, the one version tenantform runs: use a constraint that admits it (e.g. \"~> %s\") or none", describe(constraint), name, name, locked, locked)
	}
}
