package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/metrics"
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
		if err != nil {
			ps.c.cfg.Metrics.ObserveInventoryComparison(metrics.ComparisonError)
		}
		return false
	}
	resources, err := tf.ParseState(raw)
	if err != nil {
		ps.c.cfg.Metrics.ObserveInventoryComparison(metrics.ComparisonError)
		ps.log.Warn("cannot read the project's state for the inventory check", zap.Error(err))
		return false
	}
	inv, err := ps.c.cfg.Inventory.ProjectInventory(dctx, tf.ProjectTag(p.UserID, p.ProjectID))
	if err != nil {
		ps.c.cfg.Metrics.ObserveInventoryComparison(metrics.ComparisonError)
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
	ps.c.cfg.Metrics.ObserveInventoryComparison(comparisonResult(cmp))
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

// comparisonResult names a comparison's outcome for
// tenantform_inventory_comparisons_total.
func comparisonResult(cmp aws.Comparison) string {
	switch {
	case cmp.Stale:
		return metrics.ComparisonStale
	case cmp.Drifted():
		return metrics.ComparisonDrift
	case len(cmp.Strays) > 0:
		return metrics.ComparisonStrays
	}
	return metrics.ComparisonInSync
}

// strays returns the resources tagged with the project in the inventory
// that its state does not hold, with the state's addresses. Nothing when
// there is no inventory, or its listing predates nothing (strays are only
// ever found in a listing, never inferred from its absence).
func (ps *pass) strays(ctx context.Context) ([]store.InventoryItem, map[string]bool) {
	p := ps.p
	if ps.c.cfg.Inventory == nil {
		return nil, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	inState := map[string]bool{}
	facts := aws.ProjectFacts{UserID: p.UserID, ProjectID: p.ProjectID, Region: p.Spec.Region,
		PlatformTags: tf.PlatformTags(ps.tfp, ps.c.cfg.Environment)}
	raw, exists, err := ps.c.store.TerraformState(dctx, ps.c.cfg.StateSchema, tf.WorkspaceName(p.UserID, p.ProjectID))
	if err != nil {
		return nil, nil
	}
	if exists {
		resources, err := tf.ParseState(raw)
		if err != nil {
			return nil, nil
		}
		for _, r := range resources {
			inState[r.Address] = true
			facts.StateARNs = append(facts.StateARNs, r.ARN)
		}
	}
	inv, err := ps.c.cfg.Inventory.ProjectInventory(dctx, tf.ProjectTag(p.UserID, p.ProjectID))
	if err != nil {
		return nil, nil
	}
	return aws.CompareProject(facts, inv).Strays, inState
}

// adoptStrays matches the project's strays with what the plan would create:
// a stray with the type and name of a planned create is imported into that
// address (tf.Project.Imports), so it is never created a second time; the
// rest are deleted when a remover is configured. It reports whether the
// project must be planned again with the imports.
func (ps *pass) adoptStrays(ctx context.Context, plan *tf.Plan) bool {
	if len(ps.tfp.Imports) > 0 {
		return false
	}
	strays, inState := ps.strays(ctx)
	if len(strays) == 0 {
		return false
	}
	var creates []aws.PlannedCreate
	for _, r := range plan.Summary.Resources {
		if !inState[r.Address] {
			name, prefix := aws.PlannedName(r.Type, r.Values)
			creates = append(creates, aws.PlannedCreate{Address: r.Address, Type: r.Type, ID: name, Prefix: prefix})
		}
	}
	imports, unmatched := aws.Adopt(strays, creates)
	if len(unmatched) > 0 && ps.c.cfg.Strays != nil {
		for _, r := range ps.c.cfg.Strays.Delete(ctx, unmatched) {
			ps.log.Warn("deleted a stray no resource of the configuration adopts", zap.String("arn", r.ARN), zap.Bool("deleted", r.Deleted))
		}
	}
	for _, im := range imports {
		ps.tfp.Imports = append(ps.tfp.Imports, tf.Import{To: im.To, ID: im.ID})
		ps.log.Info("adopting a stray instead of creating it again", zap.String("address", im.To), zap.String("id", im.ID))
	}
	return len(imports) > 0
}
