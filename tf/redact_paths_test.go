package tf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRedactorShowsPathsRelativeToTheProject: the host's path of a
// project's work directory never reaches diagnostics, outputs or logs,
// whether terraform prints it as given or with symlinks resolved.
func TestRedactorShowsPathsRelativeToTheProject(t *testing.T) {
	real := filepath.Join(t.TempDir(), "workdirs", "u1-p1")
	if err := os.MkdirAll(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := newRedactor("s3cr3t").relativeTo(link)
	for in, want := range map[string]string{
		"Error: open " + link + "/missing.txt: no such file": "Error: open missing.txt: no such file",
		"on " + real + "/main.tf line 3, in resource":        "on main.tf line 3, in resource",
		"dir = " + real: "dir = .",
		"key s3cr3t in " + link + "/modules/m/main.tf":             "key " + Redacted + " in modules/m/main.tf",
		"a sibling " + filepath.Dir(real) + "/u2-p9 is not hidden": "a sibling " + filepath.Dir(real) + "/u2-p9 is not hidden",
	} {
		if got := r.redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	v := r.redactValue(map[string]any{"where": real + "/src", "list": []any{link}})
	if diff := cmp.Diff(map[string]any{"where": "src", "list": []any{"."}}, v); diff != "" {
		t.Errorf("redactValue (-want +got):\n%s", diff)
	}
	if newRedactor().relativeTo("").redact(real) != real {
		t.Error("no work directory: paths changed")
	}
}
