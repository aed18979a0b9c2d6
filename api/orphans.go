package api

import (
	"errors"
	"net/http"
)

type orphanList struct {
	Items any `json:"items"`
}

// listOrphans (admin only) reports AWS resources tagged as tenantform's
// whose project has no live row. Without an inventory it says so with a
// 501 rather than an empty list, which would read as "no orphans".
func (s *server) listOrphans(w http.ResponseWriter, r *http.Request, _ *call) error {
	if s.cfg.Orphans == nil {
		return newError(http.StatusNotImplemented, codeInventoryUnavailable,
			"the AWS resource inventory is not configured on this server, so orphans cannot be listed")
	}
	items, err := s.cfg.Orphans.ListOrphans(r.Context())
	// An inventory that exists but was never listed says so through its
	// error (aws.ErrNoInventory), without api depending on package aws.
	var unavailable interface{ InventoryUnavailable() bool }
	if errors.As(err, &unavailable) && unavailable.InventoryUnavailable() {
		return newError(http.StatusNotImplemented, codeInventoryUnavailable, "%s", err.Error())
	}
	if err != nil {
		return err
	}
	if items == nil {
		items = []any{}
	}
	s.writeJSON(w, r, http.StatusOK, orphanList{Items: items})
	return nil
}
