package policy

import (
	"strings"
	"testing"
)

// TestStateFilesRefused: state files and directories, and a lock file, are
// refused at upload by name, with a message saying why.
func TestStateFilesRefused(t *testing.T) {
	for name, want := range map[string]string{
		"terraform.tfstate":                         "terraform.tfstate is a Terraform state file",
		"terraform.tfstate.backup":                  "terraform.tfstate.backup is a Terraform state file",
		"old.tfstate":                               "old.tfstate is a Terraform state file",
		"modules/x/Terraform.TFSTATE":               "Terraform.TFSTATE is a Terraform state file",
		"terraform.tfstate.d/dev/terraform.tfstate": "terraform.tfstate.d/ is a local state directory",
		"terraform.tfstate.d/readme.txt":            "terraform.tfstate.d/ is a local state directory",
		".terraform.lock.hcl":                       "tenantform pins the provider versions itself",
		"modules/x/.terraform.lock.hcl":             "tenantform pins the provider versions itself",
	} {
		files := map[string]string{"main.tf": "", name: "{}"}
		v := Check(files, DefaultRules())
		if len(v) != 1 || v[0].File != name || !strings.Contains(v[0].Message, want) {
			t.Errorf("%s: want one violation naming the file with %q, got %+v", name, want, v)
		}
	}
	// Names that only look alike are ordinary data files.
	for _, name := range []string{"tfstate.md", "docs/terraform.tfstate.txt", "state.json"} {
		if v := Check(map[string]string{"main.tf": "", name: "x"}, DefaultRules()); len(v) != 0 {
			t.Errorf("%s refused: %+v", name, v)
		}
	}
}
