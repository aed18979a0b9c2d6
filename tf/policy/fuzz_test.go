package policy_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf/policy"
)

// FuzzCheck feeds arbitrary configuration (as .tf or .tf.json), an
// arbitrary template read by templatefile, and an arbitrary extra file
// name to Check. Check must not panic or overflow its stack, must name a
// file in every violation, and must be deterministic. The seed corpus is
// in testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	f.Add(`resource "terraform_data" "x" { input = templatefile("page.tftpl", {}) }`, false, "hi ${name}", "index.js")
	f.Add(`{"resource": {"terraform_data": {"x": {"provisioner": {"local-exec": {"command": "id"}}}}}}`, true, "", "../x.tf")
	f.Add(`{"resource": {"terraform_data": {"a": {}}}, "resource": {"null_resource": {"b": {}}}, "provider": {"aws": {"region": "us-east-1", "default_tags": {"tags": {"UserId": "x"}}}}}`, true, "", "modules/m/main.tf")
	f.Add(`module "m" { source = "./modules/m" }
resource "aws_s3_bucket_policy" "p" {
  bucket = "x"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*" }] })
  lifecycle { prevent_destroy = true }
}`, false, "", "modules/m/../../x.tf")
	f.Fuzz(func(t *testing.T, src string, asJSON bool, template, extraName string) {
		name := "main.tf"
		if asJSON {
			name = "main.tf.json"
		}
		files := map[string]string{name: src, "page.tftpl": template}
		if _, taken := files[extraName]; !taken {
			files[extraName] = "x"
		}
		got := policy.Check(files, policy.DefaultRules())
		for _, v := range got {
			if v.File == "" || v.Message == "" || v.Line < 0 {
				t.Fatalf("malformed violation %#v", v)
			}
		}
		if diff := cmp.Diff(got, policy.Check(files, policy.DefaultRules())); diff != "" {
			t.Fatalf("Check is not deterministic (-first +second):\n%s", diff)
		}
	})
}
