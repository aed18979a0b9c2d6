package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tenantform/tenantform/tf"
)

// maxSessionNameLen is STS's bound on RoleSessionName.
const maxSessionNameLen = 64

// SessionName is the RoleSessionName of a project's credentials,
// chart-app-{userId}-{projectId} (the guide's name, which CloudTrail shows
// for every call a tenant's terraform makes). STS allows 2-64 characters
// of [A-Za-z0-9+=,.@_-]: any other character becomes '-', and a longer
// name keeps its first 55 characters plus '-' and 8 hex digits of a hash
// of the full name, so that two long names stay distinct.
func SessionName(userID, projectID string) string {
	full := tf.ProjectTag(userID, projectID)
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune("+=,.@_-", r):
			return r
		}
		return '-'
	}, full)
	if len(name) <= maxSessionNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	return name[:maxSessionNameLen-9] + "-" + hex.EncodeToString(sum[:4])
}
