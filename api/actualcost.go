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

// projectViewAndActualCost reads a project's view and its month-to-date
// actual cost (nil when unknown): in one round trip where the store can,
// and without the cost's lookup while the cost read by an earlier GET is
// young enough (actualCostCache), and without decoding the row while the
// view answered before is current (viewCache). body, when not nil, is the
// view's JSON without the actual cost.
func (s *server) projectViewAndActualCost(ctx context.Context, k store.Key, now time.Time) (v projectView, body []byte, cost *store.ActualCost, err error) {
	if ac, ok := s.st.(actualCosts); ok && !s.cfg.NoActualCosts {
		c, cached := s.actualCosts.get(k, now)
		if !cached {
			p, c, err := ac.GetProjectWithActualCost(ctx, k, tf.ProjectTag(k.UserID, k.ProjectID))
			if err != nil {
				return projectView{}, nil, nil, fromStore(err, msgProjectNotFound)
			}
			s.actualCosts.put(k, c, now)
			return view(p), nil, c, nil
		}
		cost = c
	}
	v, body, err = s.projectView(ctx, k)
	return v, body, cost, err
}

// projectView is the view of k's project and, when not nil, its JSON:
// the ones remembered when the row's watch version is still the one they
// were made from.
func (s *server) projectView(ctx context.Context, k store.Key) (projectView, []byte, error) {
	vg, ok := s.st.(versionedGetter)
	if !ok {
		p, err := s.st.GetProject(ctx, k)
		if err != nil {
			return projectView{}, nil, fromStore(err, msgProjectNotFound)
		}
		return view(p), nil, nil
	}
	cached, have := s.views.get(k)
	known := cached.version
	if !have {
		known = 0 // watch versions start at 1
	}
	p, version, unchanged, err := vg.GetProjectUnlessVersion(ctx, k, known)
	if err != nil {
		return projectView{}, nil, fromStore(err, msgProjectNotFound)
	}
	if unchanged {
		return cached.view, cached.body, nil
	}
	v := view(p)
	body := encodeView(v)
	s.views.put(k, version, v, body)
	return v, body, nil
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
