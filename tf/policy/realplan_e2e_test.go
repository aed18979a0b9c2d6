//go:build e2e

package policy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tenantform/tenantform/aws/awstest"
)

// These tests run terraform with the real hashicorp/aws provider from the
// filesystem mirror (TF_PROVIDER_MIRROR, default /opt/tf-plugins): the
// fixtures' generators, run afresh, must give what the fixtures hold.

func realMirror(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = "/opt/tf-plugins"
	}
	if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "5.100.0")); err != nil {
		t.Skipf("no hashicorp/aws 5.100.0 in the mirror %s", dir)
	}
	for _, bin := range []string{"terraform", "jq"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	return dir
}

func runGenerator(t *testing.T, script string, env ...string) {
	t.Helper()
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "TF_CLI_CONFIG_FILE=") // the script writes its own
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out.String())
	}
}

// TestRealProviderSchemaIsCurrent: testdata/schema/aws_schema.json is what
// its generator makes from the mirror's provider.
func TestRealProviderSchemaIsCurrent(t *testing.T) {
	mirror := realMirror(t)
	out := t.TempDir()
	runGenerator(t, "testdata/schema/generate.sh", "OUT="+out, "TF_PROVIDER_MIRROR="+mirror)
	var fresh, cached any
	for path, v := range map[string]*any{filepath.Join(out, "aws_schema.json"): &fresh, "testdata/schema/aws_schema.json": &cached} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(fresh, cached) {
		t.Error("testdata/schema/aws_schema.json differs from the mirror's provider schema: run testdata/schema/generate.sh and classify what changed")
	}
}

// TestRealProviderPlansAfresh plans every case of testdata/realplans/src
// with the real provider against the emulator, and holds the fresh plans
// to the fixtures' checks: the ordinary projects pass, each hostile
// resource is refused naming its address and argument.
func TestRealProviderPlansAfresh(t *testing.T) {
	mirror := realMirror(t)
	emu := awstest.New(t)
	out := t.TempDir()
	runGenerator(t, "testdata/realplans/generate.sh", "OUT="+out, "EMULATOR_URL="+emu.URL, "TF_PROVIDER_MIRROR="+mirror)
	checkLegitPlans(t, out)
	checkHostilePlan(t, out)
}
