package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Conditions from the tagged AWS inventory.
const (
	// CondStrays is True while resources tagged with the project exist in
	// AWS that its state does not hold (a crash mid-apply, or something
	// created out of band).
	CondStrays   = "Strays"
	ReasonStrays = "UntrackedResources"
	ReasonNone   = "NoStrays"
)

// compareInventory compares a Ready project's state (read from the pg
// backend, no terraform process) with the tagged inventory, and reports
// whether the inventory shows drift: a resource of the state gone, or its
// platform tags changed. Strays are shown as a condition. A project that is
// Ready and matches the inventory costs no terraform run. Any error only
// skips the check: the slow drift re-plan remains.
func (ps *pass) compareInventory(ctx context.Context) bool {
	p := ps.p
	if ps.c.cfg.Inventory == nil || p.DeletionRequestedAt != nil || !ps.now.Before(p.ExpiresAt) ||
		p.Status.Phase != store.PhaseReady || p.Status.ObservedGeneration != p.Generation {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	raw, exists, err := ps.c.store.TerraformState(dctx, ps.c.cfg.StateSchema, tf.WorkspaceName(p.UserID, p.ProjectID))
	if err != nil || !exists {
		return false
	}
	resources, err := tf.ParseState(raw)
	if err != nil {
		ps.log.Warn("cannot read the project's state for the inventory check", zap.Error(err))
		return false
	}
	inv, err := ps.c.cfg.Inventory.ProjectInventory(dctx, tf.ProjectTag(p.UserID, p.ProjectID))
	if err != nil {
		ps.log.Warn("cannot read the tagged inventory", zap.Error(err))
		return false
	}
	facts := aws.ProjectFacts{UserID: p.UserID, ProjectID: p.ProjectID, Region: p.Spec.Region,
		PlatformTags: tf.PlatformTags(ps.tfp, ps.c.cfg.Environment)}
	if p.Status.LastVerifiedAt != nil {
		facts.SettledAt = *p.Status.LastVerifiedAt
	}
	for _, r := range resources {
		facts.StateARNs = append(facts.StateARNs, r.ARN)
	}
	cmp := aws.CompareProject(facts, inv)
	if cmp.Stale {
		return false
	}
	if len(cmp.Strays) > 0 {
		arns := make([]string, len(cmp.Strays))
		for i, s := range cmp.Strays {
			arns[i] = s.ARN
		}
		sort.Strings(arns)
		setCondition(&ps.st, condTrue(CondStrays, ReasonStrays, fmt.Sprintf(
			"%d resource(s) tagged with this project are not in its state: %s", len(arns), strings.Join(arns, ", ")), p.Generation), ps.now)
	} else if _, ok := findCondition(ps.st, CondStrays); ok {
		setCondition(&ps.st, condFalse(CondStrays, ReasonNone, "", p.Generation), ps.now)
	}
	if cmp.Drifted() {
		ps.log.Warn("the tagged inventory shows drift", zap.Strings("missing", cmp.Missing), zap.Int("retagged", len(cmp.Retagged)))
	}
	return cmp.Drifted()
}
