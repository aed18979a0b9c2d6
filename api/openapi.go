package api

import (
	_ "embed"
	"io"
	"net/http"
)

// openAPIDocument is the API's contract as OpenAPI 3.0 (a string: embedded bytes
// could be modified at run time). It is a file, not generated,
// so that reviewers read the contract itself; TestOpenAPIMatchesRoutes
// keeps its paths and methods equal to the router's.
//
//go:embed openapi.json
var openAPIDocument string

func (s *server) openAPI(w http.ResponseWriter, r *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, openAPIDocument)
	return nil
}
