package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of the README section with the given "## "
// heading, up to the next heading of that level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", "## "+heading)
	}
	if i := strings.Index(after, "\n## "); i >= 0 {
		after = after[:i]
	}
	return after
}

// The README's configuration table is what operators read: it must list
// exactly the variables tenantform reads, in the same order, with the
// defaults the code uses.
func TestREADMEConfigurationTable(t *testing.T) {
	t.Parallel()
	table := section(t, readRepoFile(t, "README.md"), "Configuration")
	row := regexp.MustCompile("^\\| `([A-Z0-9_]+)` \\|([^|]*)\\|")
	var gotNames, gotDefaults []string
	for _, line := range strings.Split(table, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		gotNames = append(gotNames, m[1])
		gotDefaults = append(gotDefaults, m[1]+" "+strings.TrimSpace(m[2]))
	}
	var wantDefaults []string
	for _, s := range settings {
		wantDefaults = append(wantDefaults, s.name+" "+s.readmeDefault())
	}
	if diff := cmp.Diff(envNames(), gotNames); diff != "" {
		t.Errorf("README variables differ from the code's (-code +README):\n%s", diff)
	}
	if diff := cmp.Diff(wantDefaults, gotDefaults); diff != "" {
		t.Errorf("README defaults differ from the code's (-code +README):\n%s", diff)
	}
}

// The quick start is exactly two commands, and CI runs the second as
// written: what the README promises is what CI checks.
func TestREADMEQuickStart(t *testing.T) {
	t.Parallel()
	qs := section(t, readRepoFile(t, "README.md"), "Quick start")
	block := regexp.MustCompile("(?s)```(?:sh|bash|console)?\n(.*?)```").FindStringSubmatch(qs)
	if block == nil {
		t.Fatal("the quick start has no code block")
	}
	var cmds []string
	for _, line := range strings.Split(block[1], "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			cmds = append(cmds, line)
		}
	}
	want := []string{"go run ./cmd/tenantform dev", "go test ./..."}
	if diff := cmp.Diff(want, cmds); diff != "" {
		t.Errorf("quick start commands (-want +got):\n%s", diff)
	}
	ci := readRepoFile(t, ".ci/run")
	if !regexp.MustCompile(`(?m)^go test \./\.\.\.$`).MatchString(ci) {
		t.Error(".ci/run does not run the README's test command `go test ./...` on a line of its own")
	}
}
