package controller

import (
	"context"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf"
)

// holdWhatStateHolds counts, after an apply that failed or was interrupted,
// what the project's state actually holds: such an apply may have created
// part of its plan. The count becomes the project's resource count and a
// floor of its reservation, so that no later release of the reservation
// (a terminal failure, a refused plan) lets the user's quota forget
// resources that exist. A state that cannot be read counts as everything
// admitted.
func (ps *pass) holdWhatStateHolds(ctx context.Context) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	n, err := ps.stateCount(dctx)
	if err != nil {
		n = max(ps.st.ReservedResources, ps.st.ResourceCount)
		ps.log.Warn("cannot count what a failed apply left in the state; keeping the whole reservation",
			zap.Int("resources", n), zap.Error(err))
	}
	ps.st.ResourceCount = n
	ps.st.ReservedResources = max(ps.st.ReservedResources, n)
}

// stateCount is the number of resource instances in the project's state,
// read from the pg backend's table without running terraform.
func (ps *pass) stateCount(ctx context.Context) (int, error) {
	raw, exists, err := ps.c.store.TerraformState(ctx, ps.c.cfg.StateSchema, tf.WorkspaceName(ps.p.UserID, ps.p.ProjectID))
	if err != nil || !exists {
		return 0, err
	}
	resources, err := tf.ParseState(raw)
	return len(resources), err
}
