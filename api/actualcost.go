package api

import (
	"context"
	"errors"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// actualCosts is the slice of the store that reports Cost Explorer's
// month-to-date figures (package billing refreshes them). It is optional:
// *store.Store has it, and a Store without it shows no actual cost.
type actualCosts interface {
	// GetProjectWithActualCost reads both in one round trip (a GET's).
	GetProjectWithActualCost(ctx context.Context, key store.Key, projectTag string) (store.Project, *store.ActualCost, error)
	UserActualMonthToDate(ctx context.Context, userID string) (store.ActualCost, error)
}

// projectAndActualCost reads a project and its month-to-date actual cost
// (nil when unknown), in one round trip where the store can, and without
// the cost's lookup while the cost read by an earlier GET is young enough
// (actualCostCache).
func (s *server) projectAndActualCost(ctx context.Context, k store.Key, now time.Time) (store.Project, *store.ActualCost, error) {
	ac, ok := s.st.(actualCosts)
	if ok && !s.cfg.NoActualCosts {
		cost, cached := s.actualCosts.get(k, now)
		if !cached {
			p, c, err := ac.GetProjectWithActualCost(ctx, k, tf.ProjectTag(k.UserID, k.ProjectID))
			if err != nil {
				return store.Project{}, nil, fromStore(err, msgProjectNotFound)
			}
			s.actualCosts.put(k, c, now)
			return p, c, nil
		}
		p, err := s.st.GetProject(ctx, k)
		if err != nil {
			return store.Project{}, nil, fromStore(err, msgProjectNotFound)
		}
		return p, cost, nil
	}
	p, err := s.st.GetProject(ctx, k)
	if err != nil {
		return store.Project{}, nil, fromStore(err, msgProjectNotFound)
	}
	return p, nil, nil
}

// userActualUSD is the month-to-date actual cost of a user's projects,
// or nil when it is unknown (Cost Explorer off, or not asked this month).
func (s *server) userActualUSD(ctx context.Context, userID string) (*float64, error) {
	ac, ok := s.st.(actualCosts)
	if !ok || s.cfg.NoActualCosts {
		return nil, nil
	}
	return knownUSD(ac.UserActualMonthToDate(ctx, userID))
}

func knownUSD(c store.ActualCost, err error) (*float64, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c.USD, nil
}
