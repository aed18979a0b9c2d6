package tf

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	tfjson "github.com/hashicorp/terraform-json"
)

// testdata/plan.json is `terraform show -json` (terraform 1.11.4) of a plan
// with every kind of change: create (new[0]), in-place update (update, and
// module.child's inner resource), replace (replace), delete (gone[0]),
// no-op (keep), a data source, and a sensitive value inside an object.
// Terraform's own summary line for it was "2 to add, 2 to change, 2 to
// destroy".
func TestSummarize(t *testing.T) {
	b, err := os.ReadFile("testdata/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	got := summarize(&p)
	if c := counts(got); c != [3]int{2, 2, 2} {
		t.Errorf("add/change/destroy = %v, want terraform's 2/2/2", c)
	}
	want := []PlannedResource{
		{Address: "module.child.terraform_data.inner", Type: "terraform_data", Values: map[string]any{"input": float64(2)}},
		{Address: "terraform_data.keep", Type: "terraform_data", Values: map[string]any{"input": "same", "output": "same"}},
		{Address: "terraform_data.new[0]", Type: "terraform_data", Values: map[string]any{
			"input": map[string]any{"billing_mode": "PAY_PER_REQUEST", "size": float64(128), "secret": SensitiveMask},
		}},
		{Address: "terraform_data.replace", Type: "terraform_data", Values: map[string]any{"input": "r", "triggers_replace": []any{float64(2)}}},
		{Address: "terraform_data.update", Type: "terraform_data", Values: map[string]any{"input": "v2"}},
	}
	ignore := cmpopts.IgnoreMapEntries(func(k string, v any) bool { return k == "id" || v == nil })
	if diff := cmp.Diff(want, got.Resources, ignore); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if s := toJSON(t, got); strings.Contains(s, "hunter2") {
		t.Errorf("summary leaks a sensitive value: %s", s)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := summarize(nil); s.HasChanges() || len(s.Resources) != 0 {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

func TestMaskSensitive(t *testing.T) {
	values := map[string]any{
		"name": "x",
		"env":  map[string]any{"TOKEN": "t", "MODE": "m"},
		"list": []any{"a", "b"},
		"num":  json.Number("12.5"),
	}
	marks := json.RawMessage(`{"env": {"TOKEN": true}, "list": [false, true]}`)
	want := map[string]any{
		"name": "x",
		"env":  map[string]any{"TOKEN": SensitiveMask, "MODE": "m"},
		"list": []any{"a", SensitiveMask},
		"num":  12.5,
	}
	if diff := cmp.Diff(want, maskSensitive(values, marks)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	whole := maskSensitive(map[string]any{"password": "p"}, json.RawMessage(`{"password": true}`))
	if whole["password"] != SensitiveMask {
		t.Errorf("top-level sensitive attribute not masked: %v", whole)
	}
}
