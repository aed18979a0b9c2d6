package policy

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsOwnedReferences: the README's own-or-nothing table has a
// row for every entry of ownedRefs and apiGatewayRefs, and no other.
func TestREADMEListsOwnedReferences(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	rows := 0
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `aws_") && strings.Count(line, "|") == 4 && strings.Contains(line, "` | `") {
			rows++
		}
	}
	all := append(append([]ownedRef(nil), ownedRefs...), apiGatewayRefs...)
	for _, r := range all {
		row := "| `" + r.Type + "` | `" + r.Arg + "` | "
		if !strings.Contains(readme, row) {
			t.Errorf("README lacks the row %s...", row)
		}
		for _, target := range r.Targets {
			if !strings.Contains(readme, row+"`"+target+"`") && !strings.Contains(readme, "or `"+target+"`") {
				t.Errorf("README row %s does not name %s", row, target)
			}
		}
	}
	if rows != len(all) {
		t.Errorf("README has %d own-or-nothing rows, the code %d", rows, len(all))
	}
}
