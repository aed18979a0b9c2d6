package api

import (
	"context"
	"net/http"

	"github.com/tenantform/tenantform/store"
)

// quotaView is what a user has used against their limits. The limits are
// the override an operator set for the user, else the server's defaults;
// override shows which of them are overridden (null = default).
type quotaView struct {
	UserID string `json:"userId"`
	// Projects counts every project of the user, including ones being
	// destroyed (their resources still exist).
	Projects       int     `json:"projects"`
	Resources      int     `json:"resources"`
	MaxResources   int     `json:"maxResources"`
	MonthlyCostUSD float64 `json:"monthlyCostUSD"`
	// MaxMonthlyCostPerProjectUSD caps each project's maxMonthlyCostUSD.
	MaxMonthlyCostPerProjectUSD float64     `json:"maxMonthlyCostPerProjectUSD"`
	Override                    quotaLimits `json:"override"`
	// ActualMonthToDateUSD is what AWS charged this month so far for the
	// user's projects (Cost Explorer); absent when unknown.
	ActualMonthToDateUSD *float64 `json:"actualMonthToDateUSD,omitempty"`
}

// quotaLimits is a user's override, and the body of PUT …/quota. A null
// field means the server default.
type quotaLimits struct {
	MaxResources      *int     `json:"maxResources"`
	MaxMonthlyCostUSD *float64 `json:"maxMonthlyCostUSD"`
}

func (s *server) getQuota(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.writeQuota(w, r, c.key.UserID)
}

func (s *server) writeQuota(w http.ResponseWriter, r *http.Request, userID string) error {
	v, err := s.quota(r.Context(), userID)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, v)
	return nil
}

// quota is the user's use against their limits (the API's and the
// console's view alike).
func (s *server) quota(ctx context.Context, userID string) (quotaView, error) {
	usage, err := s.st.UserUsage(ctx, userID, "")
	if err != nil {
		return quotaView{}, err
	}
	o, err := s.st.GetQuotaOverride(ctx, userID)
	if err != nil {
		return quotaView{}, err
	}
	actual, err := s.userActualUSD(ctx, userID)
	if err != nil {
		return quotaView{}, err
	}
	v := quotaView{
		UserID:                      userID,
		Projects:                    usage.Projects,
		Resources:                   usage.Resources,
		MaxResources:                s.cfg.MaxResourcesPerUser,
		MonthlyCostUSD:              usage.MonthlyCostUSD,
		MaxMonthlyCostPerProjectUSD: s.cfg.MaxCostPerProjectUSD,
		Override:                    quotaLimits(o),
		ActualMonthToDateUSD:        actual,
	}
	if o.MaxResources != nil {
		v.MaxResources = *o.MaxResources
	}
	if o.MaxMonthlyCostUSD != nil {
		v.MaxMonthlyCostPerProjectUSD = *o.MaxMonthlyCostUSD
	}
	return v, nil
}

// Bounds of an override: the database columns' ranges, with room to spare.
const (
	maxQuotaResources = 1_000_000
	maxQuotaCostUSD   = 1_000_000
)

// putQuota sets (admin only) the user's override; a null field returns it
// to the server default. The store wakes the user's blocked projects so the
// reconciler re-admits them against the new limits.
func (s *server) putQuota(w http.ResponseWriter, r *http.Request, c *call) error {
	var req quotaLimits
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var problems []fieldProblem
	if n := req.MaxResources; n != nil && (*n < 0 || *n > maxQuotaResources) {
		problems = append(problems, fieldProblem{Field: "maxResources", Message: "must be from 0 to 1000000, or null for the default"})
	}
	if x := req.MaxMonthlyCostUSD; x != nil && (*x < 0 || *x > maxQuotaCostUSD) {
		problems = append(problems, fieldProblem{Field: "maxMonthlyCostUSD", Message: "must be from 0 to 1000000, or null for the default"})
	}
	if len(problems) > 0 {
		return invalid(codeInvalidRequest, problems)
	}
	if err := s.st.SetQuotaOverride(r.Context(), c.key.UserID, store.QuotaOverride(req), c.now); err != nil {
		return err
	}
	return s.writeQuota(w, r, c.key.UserID)
}
