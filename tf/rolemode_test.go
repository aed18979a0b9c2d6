package tf

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/tf/policy"
)

// TestRoleModeTagsNamePrefix: in role mode the provider's default tags
// carry the project's NamePrefix (which scopes a tenant role's boundary);
// otherwise they do not.
func TestRoleModeTagsNamePrefix(t *testing.T) {
	p := Project{UserID: "alice", ProjectID: "web", Region: "us-east-1", CreatedAt: time.Unix(0, 0),
		Files: map[string]string{"main.tf": "resource \"aws_dynamodb_table\" \"t\" {}\n"}}
	for _, roleMode := range []bool{false, true} {
		gen, err := generatedFiles(renderInput{project: p, info: analyze(p.Files), schema: "s", namePrefixTag: roleMode})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Provider struct {
				AWS struct {
					DefaultTags struct {
						Tags map[string]string `json:"tags"`
					} `json:"default_tags"`
				} `json:"aws"`
			} `json:"provider"`
		}
		if err := json.Unmarshal(gen[providerFile], &doc); err != nil {
			t.Fatal(err)
		}
		got, ok := doc.Provider.AWS.DefaultTags.Tags[policy.NamePrefixTagKey]
		switch {
		case roleMode && got != policy.NamePrefixTag("alice", "web"):
			t.Errorf("role mode: NamePrefix tag %q, want %q", got, policy.NamePrefixTag("alice", "web"))
		case !roleMode && ok:
			t.Errorf("single-account mode: NamePrefix tag %q set", got)
		}
	}
}

// TestNamePrefixTenantsCanWrite: the README tells tenants their name
// prefix is "tf-${substr(sha256("<userId>/<projectId>"), 0, 16)}-"; terraform
// computes exactly policy.NamePrefix from it.
func TestNamePrefixTenantsCanWrite(t *testing.T) {
	bin := terraformBinary(t)
	cmd := exec.Command(bin, "console")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"HOME=" + cmd.Dir, "TF_CLI_CONFIG_FILE=/dev/null", "CHECKPOINT_DISABLE=1"}
	cmd.Stdin = strings.NewReader(`"tf-${substr(sha256("alice-x/web"), 0, 16)}-"` + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("terraform console: %v", err)
	}
	if got, want := strings.Trim(strings.TrimSpace(string(out)), `"`), policy.NamePrefix("alice-x", "web"); got != want {
		t.Errorf("terraform computes %q, policy.NamePrefix is %q", got, want)
	}
}
