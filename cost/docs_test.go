package cost

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// docTable returns the rows of the first Markdown table under the heading
// "## <section>" in docs/cost.md, as first cell (backticks removed) →
// second cell parsed as a number.
func docTable(t *testing.T, section string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile("../docs/cost.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## "+section+"\n")
	if !ok {
		t.Fatalf("docs/cost.md has no section %q", section)
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	rows := map[string]float64{}
	for line := range strings.SplitSeq(rest, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(cells[2]), ",", ""), 64)
		if err != nil {
			t.Errorf("docs/cost.md, %s, %s: %v", section, key, err)
			continue
		}
		if _, dup := rows[key]; dup {
			t.Errorf("docs/cost.md, %s: %s listed twice", section, key)
		}
		rows[key] = v
	}
	return rows
}

// TestDocsMatchCode keeps docs/cost.md's numbers those of the code.
func TestDocsMatchCode(t *testing.T) {
	prices := map[string]float64{}
	for d, v := range listPrices {
		prices[string(d)] = v
	}
	if diff := cmp.Diff(prices, docTable(t, "Prices")); diff != "" {
		t.Errorf("docs/cost.md prices (-code +docs):\n%s", diff)
	}

	if diff := cmp.Diff(regionMultipliers, docTable(t, "Region multipliers")); diff != "" {
		t.Errorf("docs/cost.md region multipliers (-code +docs):\n%s", diff)
	}

	usage := map[string]float64{}
	v := reflect.ValueOf(DefaultUsage())
	for i := range v.NumField() {
		usage[v.Type().Field(i).Name] = v.Field(i).Float()
	}
	if diff := cmp.Diff(usage, docTable(t, "Usage assumptions")); diff != "" {
		t.Errorf("docs/cost.md usage assumptions (-code +docs):\n%s", diff)
	}
}
