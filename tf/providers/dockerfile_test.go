package providers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileBuildsTheMirrorFromTheLock: the image's provider mirror is
// built from this package's lock file, with init in read-only lock mode,
// and the image points TF_PROVIDER_MIRROR at it. Docker cannot run here:
// the test reads the Dockerfile.
func TestDockerfileBuildsTheMirrorFromTheLock(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	docker := string(b)
	for _, want := range []string{
		"COPY tf/providers/providers.lock.hcl /providers/.terraform.lock.hcl",
		"init -backend=false -input=false -lockfile=readonly",
		"COPY --from=providers /out/providers /usr/local/share/tenantform/providers",
		"TF_PROVIDER_MIRROR=/usr/local/share/tenantform/providers",
	} {
		if !strings.Contains(docker, want) {
			t.Errorf("the Dockerfile does not contain %q", want)
		}
	}
	// No provider version is spelled out anywhere else in the image: the
	// lock is the one place to change it.
	for _, p := range Platform().Providers() {
		if strings.Contains(docker, p.Version) {
			t.Errorf("the Dockerfile names %s %s itself; it must take versions from the lock", p.Source, p.Version)
		}
	}
}
