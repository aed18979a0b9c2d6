package cost_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/tf"
)

// realPlanned reads a plan made by the real hashicorp/aws provider (the
// fixtures of tf/policy/testdata/realplans) and returns its planned
// resources as the engine hands them to the estimator: known values only.
func realPlanned(t *testing.T, name string) []tf.PlannedResource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tf", "policy", "testdata", "realplans", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	var out []tf.PlannedResource
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				out = append(out, tf.PlannedResource{Address: r.Address, Type: r.Type, Values: r.AttributeValues})
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(p.PlannedValues.RootModule)
	return out
}

// TestEstimateRealProviderPlans prices what the real provider plans: an
// on-demand table per request (its capacities, computed by the provider,
// are not assumed), a Lambda function with the default ephemeral storage.
func TestEstimateRealProviderPlans(t *testing.T) {
	lines := map[string]cost.Line{}
	for _, name := range []string{"dynamodb_ondemand", "lambda_logs"} {
		est := cost.NewEstimator().Estimate("us-east-1", realPlanned(t, name))
		for _, l := range est.Lines {
			lines[l.Address] = l
		}
	}
	table := lines["aws_dynamodb_table.notes"]
	if !strings.Contains(table.Basis, "on-demand") || strings.Contains(table.Basis, "capacity") {
		t.Errorf("on-demand table priced as %q", table.Basis)
	}
	fn := lines["aws_lambda_function.fn"]
	if fn.MonthlyUSD <= 0 || strings.Contains(fn.Basis, "ephemeral") {
		t.Errorf("lambda with default storage priced as %+v", fn)
	}
}
