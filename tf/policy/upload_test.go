package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckUploadIsCheckAndRequiredVariables: the API's one-parse check
// answers what Check and RequiredVariables answer separately.
func TestCheckUploadIsCheckAndRequiredVariables(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"required and optional variables": {
			"main.tf":      `resource "terraform_data" "a" { input = "${var.n}${var.m}" }`,
			"variables.tf": "variable \"n\" { type = number }\nvariable \"m\" {\n  default = 1\n}\nvariable \"a\" {}\n",
		},
		"a module's variable is not the root's": {
			"main.tf":           `module "m" { source = "./mod" }`,
			"mod/variables.tf":  `variable "inner" {}`,
			"variables.tf.json": `{"variable": {"j": {}}}`,
		},
		"a syntax error": {"main.tf": `resource "terraform_data" "a" {`},
		"a refused type": {"main.tf": `resource "aws_instance" "a" {}`, "v.tf": `variable "x" {}`},
	} {
		t.Run(name, func(t *testing.T) {
			v, req := CheckUpload(files, DefaultRules())
			if diff := cmp.Diff(Check(files, DefaultRules()), v); diff != "" {
				t.Errorf("violations (-Check +CheckUpload):\n%s", diff)
			}
			want := RequiredVariables(files)
			if name == "required and optional variables" && len(req) != 2 {
				t.Errorf("required %v, want a and n", req)
			}
			if diff := cmp.Diff(want, req); diff != "" {
				t.Errorf("required variables (-RequiredVariables +CheckUpload):\n%s", diff)
			}
		})
	}
}
