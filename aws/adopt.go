package aws

import (
	"encoding/json"
	"sort"

	"github.com/tenantform/tenantform/store"
)

// PlannedCreate is a resource a project's plan would create, as adoption
// needs it.
type PlannedCreate struct {
	// Address is its terraform address (aws_s3_bucket.data).
	Address string
	// Type is its terraform type (aws_s3_bucket).
	Type string
	// ID is the import id it would have, when the plan knows it already
	// (PlannedID); empty never matches.
	ID string
	// Prefix is the prefix of its generated name when the name is not
	// known (bucket_prefix, name_prefix): a stray whose name is that
	// prefix and a suffix the provider generates is adopted into it.
	Prefix string
}

// Import is one generated import block: adopt the resource with id into
// the address To.
type Import struct {
	To string `json:"to"`
	ID string `json:"id"`
}

// PlannedID is the import id of a planned create from its planned
// attribute values (terraform-json's Change.After), or "" when unknown.
// Types whose id AWS assigns (API Gateway) cannot be matched before they
// exist.
func PlannedID(resourceType string, after map[string]any) string {
	id, _ := PlannedName(resourceType, after)
	return id
}

// Adopt matches a project's strays with what its plan would create: a
// stray with the terraform type and import id of a planned create, or
// whose name is the planned prefix and a generated suffix, is imported
// into that address, rather than created a second time (which
// would fail, or duplicate it). The strays nothing adopts are returned to
// be deleted (Orphans.Delete).
func Adopt(strays []store.InventoryItem, creates []PlannedCreate) (imports []Import, unmatched []store.InventoryItem) {
	byTarget := map[[2]string]string{}
	var prefixed []PlannedCreate
	for _, c := range creates {
		if c.ID != "" {
			byTarget[[2]string{c.Type, c.ID}] = c.Address
		} else if c.Prefix != "" {
			prefixed = append(prefixed, c)
		}
	}
	used := map[string]bool{}
strays:
	for _, s := range strays {
		typ, id, ok := ImportTarget(s.ARN)
		if !ok {
			unmatched = append(unmatched, s)
			continue
		}
		if addr, found := byTarget[[2]string{typ, id}]; found {
			imports = append(imports, Import{To: addr, ID: id})
			delete(byTarget, [2]string{typ, id})
			continue
		}
		for _, c := range prefixed {
			if c.Type == typ && !used[c.Address] && generated(c.Prefix, id) {
				imports = append(imports, Import{To: c.Address, ID: id})
				used[c.Address] = true
				continue strays
			}
		}
		unmatched = append(unmatched, s)
	}
	sort.Slice(imports, func(i, j int) bool { return imports[i].To < imports[j].To })
	return imports, unmatched
}

// ImportFile renders import blocks as a .tf.json file (terraform ≥ 1.5).
func ImportFile(imports []Import) ([]byte, error) {
	return json.MarshalIndent(map[string]any{"import": imports}, "", "  ")
}
