package api

import "net/http"

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
	if err != nil {
		return err
	}
	if items == nil {
		items = []any{}
	}
	s.writeJSON(w, r, http.StatusOK, orphanList{Items: items})
	return nil
}
