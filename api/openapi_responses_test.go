package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsOutagesAndForbidden: every route that needs the
// database documents its 503, and every admin route its 403, so the
// contract says what TestDatabaseOutageIs503NeverA500 and the 403 of
// TestOtherUsersGet404OnEveryRoute prove.
func TestOpenAPIDocumentsOutagesAndForbidden(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(openAPIDocument), &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range (&server{}).routes() {
		var op struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(doc.Paths[rt.path][strings.ToLower(rt.method)], &op); err != nil {
			t.Fatalf("%s %s: %v", rt.method, rt.path, err)
		}
		if rt.access != public && op.Responses["503"] == nil {
			t.Errorf("%s %s does not document 503", rt.method, rt.path)
		}
		if rt.access == admin && op.Responses["403"] == nil {
			t.Errorf("%s %s (admin only) does not document 403", rt.method, rt.path)
		}
	}
}
