package api

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestREADMELimitsMatchTheCode keeps the README's "Limits of the API" table
// in step with the constants that enforce it.
func TestREADMELimitsMatchTheCode(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Limits of the API\n")
	if !ok {
		t.Fatal(`README has no "## Limits of the API" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	kib := func(n int) string { return fmt.Sprintf("%d KiB", n>>10) }
	for row, value := range map[string]string{
		"| one output value":          kib(maxOutputBytes),
		"| all outputs":               kib(maxOutputsBytes),
		"| `status.message`":          kib(maxMessageBytes),
		"| a run's `error` in a list": kib(maxListedErrorBytes),
		"| conditions":                fmt.Sprint(maxConditions),
		"| a run's `logTail`":         kib(maxLogTailBytes),
		"| a run's `planSummary":      kib(maxPlanDocumentBytes),
		"| database time":             fmt.Sprintf("%d s", int(defaultDatabaseTimeout.Seconds())),
		"| list page":                 fmt.Sprintf("1–%d (default %d)", maxListLimit, defaultListLimit),
	} {
		found := false
		for _, line := range strings.Split(sec, "\n") {
			if strings.HasPrefix(line, row) {
				found = true
				if !strings.Contains(line, "| "+value) && !strings.Contains(line, value) {
					t.Errorf("README row %q does not say %s: %s", row, value, line)
				}
			}
		}
		if !found {
			t.Errorf("README's limits table has no row %q", row)
		}
	}
	if !strings.Contains(sec, "Retry-After") {
		t.Error("README's limits do not mention Retry-After")
	}
}
