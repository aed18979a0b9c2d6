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
}

// Import is one generated import block: adopt the resource with id into
// the address To.
type Import struct {
	To string `json:"to"`
	ID string `json:"id"`
}

// nameAttribute is, per terraform type, the planned attribute that is the
// resource's import id. Types whose id AWS assigns (API Gateway) cannot be
// matched before they exist.
var nameAttribute = map[string]string{
	"aws_s3_bucket":            "bucket",
	"aws_dynamodb_table":       "name",
	"aws_lambda_function":      "function_name",
	"aws_cloudwatch_log_group": "name",
	"aws_iam_role":             "name",
}

// PlannedID is the import id of a planned create from its planned
// attribute values (terraform-json's Change.After), or "" when unknown.
func PlannedID(resourceType string, after map[string]any) string {
	id, _ := after[nameAttribute[resourceType]].(string)
	return id
}

// Adopt matches a project's strays with what its plan would create: a
// stray with the terraform type and import id of a planned create is
// imported into that address, rather than created a second time (which
// would fail, or duplicate it). The strays nothing adopts are returned to
// be deleted (Orphans.Delete).
func Adopt(strays []store.InventoryItem, creates []PlannedCreate) (imports []Import, unmatched []store.InventoryItem) {
	byTarget := map[[2]string]string{}
	for _, c := range creates {
		if c.ID != "" {
			byTarget[[2]string{c.Type, c.ID}] = c.Address
		}
	}
	for _, s := range strays {
		typ, id, ok := ImportTarget(s.ARN)
		if addr, found := byTarget[[2]string{typ, id}]; ok && found {
			imports = append(imports, Import{To: addr, ID: id})
			delete(byTarget, [2]string{typ, id})
			continue
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
