package tf

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A provider's handshake socket must fit in sun_path wherever the work
// root is: a deep one (a long test name, a nested data directory) moves
// the temporary directories under the system's, and the longest socket
// name the random parts can make still binds.
func TestTmpRootKeepsProviderSocketsShort(t *testing.T) {
	short := t.TempDir()
	deep := filepath.Join(short, strings.Repeat("deep-data-directory/", 5))
	for _, c := range []struct {
		workRoot   string
		wantInRoot bool
	}{
		{workRoot: short, wantInRoot: len(short) < 60},
		{workRoot: deep, wantInRoot: false},
	} {
		dir, err := tmpRootFor(c.workRoot)
		if err != nil {
			t.Fatal(err)
		}
		if inRoot := dir == filepath.Join(c.workRoot, tmpRoot); inRoot != c.wantInRoot {
			t.Errorf("work root %q (%d bytes): tmp root %q, want in the work root: %v", c.workRoot, len(c.workRoot), dir, c.wantInRoot)
		}
		again, _ := tmpRootFor(c.workRoot)
		if again != dir {
			t.Errorf("tmp root of %q changed between calls: %q then %q", c.workRoot, dir, again)
		}
		// The longest name go-plugin can make there binds.
		sockDir := filepath.Join(dir, "4294967295")
		if err := os.MkdirAll(sockDir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		l, err := net.Listen("unix", filepath.Join(sockDir, "plugin4294967295"))
		if err != nil {
			t.Fatalf("work root of %d bytes: %v", len(c.workRoot), err)
		}
		l.Close()
	}
	// And the deep root's own .tmp would not have fitted: the test
	// tests something.
	if n := len(filepath.Join(deep, tmpRoot)) + longestSocketSuffix; n <= maxSocketPath {
		t.Fatalf("the deep work root is not deep enough: %d bytes", n)
	}
}
