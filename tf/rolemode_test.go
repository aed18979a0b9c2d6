package tf

import (
	"encoding/json"
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
