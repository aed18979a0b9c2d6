//go:build e2e

package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/tenantform/tenantform/tf/policy"
)

// FuzzJSONParseMatchesTerraform compares tenantform's reading of a
// .tf.json file (policy.Inspect, the parser the policy and the engine
// share) with terraform's own: the block addresses of the configuration
// in `terraform show -json` of a plan. Terraform's JSON syntax keeps
// duplicate keys ("resource" twice) as separate blocks; a reader that
// kept only the last one would check less than terraform runs.
//
// Terraform plans without init only configurations whose resources are
// terraform_data (its built-in provider); for others it stops with "no
// version is selected". So: when terraform plans, the addresses must be
// equal; when terraform wants a provider although tenantform saw only
// terraform_data, terraform saw a block tenantform did not. Other
// terraform errors say nothing about parsing and the input is skipped.
//
// Run: go test -tags e2e -run '^$' -fuzz FuzzJSONParseMatchesTerraform -parallel 1 ./tf/policy/
// The seed corpus is in testdata/fuzz/FuzzJSONParseMatchesTerraform.
func FuzzJSONParseMatchesTerraform(f *testing.F) {
	bin := os.Getenv("TF_PATH")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			f.Skip("terraform is not installed")
		}
	}
	f.Add(`{"resource": {"terraform_data": {"a": {}}}, "resource": {"terraform_data": {"b": {}}}}`)
	f.Add(`{"resource": [{"terraform_data": {"a": {}}}, {"terraform_data": {"b": {"count": 2}}}], "output": {"x": {"value": 1}}}`)
	f.Add(`{"resource": {"terraform_data": {"a": {}}}, "resource": {"null_resource": {"hidden": {}}}}`)
	f.Add(`{"variable": {"v": {"default": 1}}, "variable": {"w": {"default": "x"}}, "output": {"o": {"value": "${var.v}"}}}`)
	f.Add(`{"resource": {"terraform_data": {"a": {}, "b": {}}, "terraform_data": {"c": {}}}}`)
	f.Add(`{"data": {"terraform_remote_state": {"s": {"backend": "local", "config": {"path": "x"}}}}, "data": {"terraform_remote_state": {"t": {"backend": "local", "config": {"path": "y"}}}}}`)
	f.Fuzz(func(t *testing.T, src string) {
		files := map[string]string{"main.tf.json": src}
		in := policy.Inspect(files)
		ours := in.Addresses
		onlyBuiltin := len(in.Providers) == 0 || slices.Equal(in.Providers, []string{"terraform"})
		theirs, stderr, ok := terraformAddresses(t, bin, src)
		switch {
		case ok:
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Fatalf("tenantform and terraform read different blocks (-terraform +tenantform):\n%s\ninput: %s", diff, src)
			}
		case onlyBuiltin && strings.Contains(stderr, "no version is selected"):
			t.Fatalf("terraform wants a provider for a block tenantform did not see (tenantform: %v):\n%s\ninput: %s", ours, stderr, src)
		}
	})
}

// terraformAddresses plans src with terraform and returns the addresses of
// the root module's blocks, as Inspection.Addresses lists them.
func terraformAddresses(t *testing.T, bin, src string) ([]string, string, bool) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "none.tfrc"), "CHECKPOINT_DISABLE=1"}
	var stderr bytes.Buffer
	plan := exec.CommandContext(ctx, bin, "plan", "-no-color", "-input=false", "-lock=false", "-refresh=false", "-out", "p")
	plan.Dir, plan.Env, plan.Stdout, plan.Stderr = dir, env, &stderr, &stderr
	if err := plan.Run(); err != nil {
		return nil, stderr.String(), false
	}
	show := exec.CommandContext(ctx, bin, "show", "-json", "p")
	show.Dir, show.Env = dir, env
	out, err := show.Output()
	if err != nil {
		return nil, err.Error(), false
	}
	var p tfjson.Plan
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("terraform show -json: %v", err)
	}
	var addrs []string
	if p.Config != nil && p.Config.RootModule != nil {
		m := p.Config.RootModule
		for _, r := range m.Resources {
			addrs = append(addrs, r.Address)
		}
		for name := range m.ModuleCalls {
			addrs = append(addrs, "module."+name)
		}
		for name := range m.Variables {
			addrs = append(addrs, "var."+name)
		}
		for name := range m.Outputs {
			addrs = append(addrs, "output."+name)
		}
	}
	sort.Strings(addrs)
	return slices.Clip(addrs), "", true
}
