package api

import (
	"context"
	"errors"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// actualCosts is the slice of the store that reports Cost Explorer's
// month-to-date figures (package billing refreshes them). It is optional:
// *store.Store has it, and a Store without it shows no actual cost.
type actualCosts interface {
	ActualMonthToDate(ctx context.Context, projectTag string) (store.ActualCost, error)
	UserActualMonthToDate(ctx context.Context, userID string) (store.ActualCost, error)
}

// projectActualUSD is a project's month-to-date actual cost, or nil when
// it is unknown (Cost Explorer off, or not asked yet this month).
func (s *server) projectActualUSD(ctx context.Context, k store.Key) (*float64, error) {
	ac, ok := s.st.(actualCosts)
	if !ok {
		return nil, nil
	}
	return knownUSD(ac.ActualMonthToDate(ctx, tf.ProjectTag(k.UserID, k.ProjectID)))
}

// userActualUSD is the sum over a user's projects, as projectActualUSD.
func (s *server) userActualUSD(ctx context.Context, userID string) (*float64, error) {
	ac, ok := s.st.(actualCosts)
	if !ok {
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
