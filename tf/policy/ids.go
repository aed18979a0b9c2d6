package policy

import "regexp"

// idPattern is the rule for user and project ids (the API's path parameters; see api/openapi.json). Both end up in
// AWS tag values, STS role session names and Terraform workspace names, so
// the API refuses other ids and the engine checks again before using them.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// IDRule says idPattern in words, for error messages.
const IDRule = `1 to 40 characters of a-z, 0-9 and "-", starting with a letter`

// ValidID reports whether s is a valid user or project id.
func ValidID(s string) bool { return idPattern.MatchString(s) }
