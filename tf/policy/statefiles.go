package policy

import (
	"strings"

	"github.com/tenantform/tenantform/tf/providers"
)

// A project's state lives in tenantform's backend, and its provider
// versions in the platform's lock. A submitted state file would make init
// offer to migrate it (and fail on the prompt every time), or be read as
// the state of a local backend; a submitted lock file would try to choose
// providers. Both are refused by name, whatever directory they are in, so
// that the tenant learns why rather than reading a generic rule.

// platformFileRefusal returns why name may not be submitted, or "".
func platformFileRefusal(name string) string {
	segments := strings.Split(name, "/")
	for i, seg := range segments {
		lower := strings.ToLower(seg)
		switch {
		case lower == "terraform.tfstate.d" && i < len(segments)-1:
			return "terraform.tfstate.d/ is a local state directory: tenantform keeps every project's state in its own backend, so state files are not accepted"
		case i < len(segments)-1:
			continue
		case strings.HasSuffix(lower, ".tfstate") || strings.HasSuffix(lower, ".tfstate.backup") || lower == "terraform.tfstate.d":
			return seg + " is a Terraform state file: tenantform keeps every project's state in its own backend, so state files are not accepted"
		case lower == providers.LockFileName:
			return providers.LockFileName + " is not accepted: tenantform pins the provider versions itself and writes its own lock file"
		}
	}
	return ""
}
