package tf

import (
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/providers"
)

// Providers are the platform's choice (package providers). Three things
// keep it so:
//
//   - the policy refuses a tenant constraint that does not admit a locked
//     version, and refuses a submitted .terraform.lock.hcl;
//   - every render writes the platform's lock as the workdir's
//     .terraform.lock.hcl, over whatever is there, and init never runs
//     with -upgrade (which would ignore it): terraform installs exactly
//     the locked versions, checks their hashes, and fails rather than
//     choose another;
//   - the shared plugin cache is pruned to the lock when an engine
//     starts, so versions installed before (by an older lock, or before
//     tenantform locked providers at all) are neither kept nor reused.

// pruneProviderCache removes from a plugin cache every provider version
// the lock does not hold. The cache's layout is terraform's unpacked
// mirror layout: host/namespace/type/version/os_arch/.
func pruneProviderCache(cacheDir string, lock *providers.Lock, log *zap.Logger) error {
	versions, err := filepath.Glob(filepath.Join(cacheDir, "*", "*", "*", "*"))
	if err != nil {
		return err
	}
	for _, dir := range versions {
		rel, err := filepath.Rel(cacheDir, dir)
		if err != nil {
			return err
		}
		source, version := filepath.ToSlash(filepath.Dir(rel)), filepath.Base(rel)
		if lock.Locked(source, version) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		log.Info("removed a provider the platform's lock does not hold from the plugin cache",
			zap.String("provider", source), zap.String("version", version))
	}
	return nil
}
