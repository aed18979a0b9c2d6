package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Crash-safe creation. Before an apply starts, what its plan creates is
// recorded with the run (store.RecordCreations). A provider killed between
// creating a resource and terraform recording it leaves that resource
// unknown to terraform, and, where the type is tagged by a second call (S3
// buckets, aws.Creations), untagged too, so the tagged inventory cannot
// see it. Until an apply of the project succeeds, every converge (and the
// finalizer) looks such resources up by the recorded name or prefix,
// within the failed run's window, and imports each one the configuration
// declares or deletes it; the types tagged in the create call are looked
// up by name too, so that adoption need not wait for an inventory listing
// newer than the crash. Records go when an apply succeeds.

// ReasonAdoptionWouldDestroy: an adoption or recovery plan deletes or
// replaces what it imports; it waits for an admin's approval whatever
// requireApproval says.
const ReasonAdoptionWouldDestroy = "AdoptionWouldDestroy"

// CreationStore is the slice of the store keeping creation records.
type CreationStore interface {
	RecordCreations(ctx context.Context, runRowID int64, recs []store.CreationRecord) error
	CopyCreations(ctx context.Context, projectUID string, planRun, toRunRowID int64) error
	PendingCreations(ctx context.Context, projectUID string) ([]store.PendingCreation, error)
	OthersPendingCreations(ctx context.Context, projectUID, resourceType string, from, to time.Time) ([]store.PendingCreation, error)
	ResolveCreations(ctx context.Context, projectUID string, throughRunRowID int64) error
}

// CreationFinder looks up, by name, what an interrupted apply may have
// created, and deletes a find the configuration does not declare (package
// aws, Orphans.FindCreated and DeleteCreated).
type CreationFinder interface {
	FindCreated(ctx context.Context, recs []store.PendingCreation) ([]aws.Candidate, error)
	DeleteCreated(ctx context.Context, userID, projectID string, c aws.Candidate) aws.Removal
}

// creationRecords is what the plan will create, as recorded before apply.
func creationRecords(plan *tf.Plan) []store.CreationRecord {
	if plan == nil {
		return nil
	}
	out := make([]store.CreationRecord, 0, len(plan.Creates))
	for _, c := range plan.Creates {
		name, prefix := aws.PlannedName(c.Type, c.Values)
		out = append(out, store.CreationRecord{Address: c.Address, Type: c.Type, Name: name, NamePrefix: prefix, Region: c.Region})
	}
	return out
}

// recordCreations writes, before terraform starts, what the run will
// create: the plan's creates, or those recorded with the approved plan run
// fromPlanRun. A failure stops the apply: an unrecorded create is exactly
// what this guards against.
func (ps *pass) recordCreations(ctx context.Context, runRowID int64, creates []store.CreationRecord, fromPlanRun int64) error {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var err error
	if fromPlanRun != 0 {
		err = ps.c.store.CopyCreations(dctx, ps.p.UID, fromPlanRun, runRowID)
	} else {
		err = ps.c.store.RecordCreations(dctx, runRowID, creates)
	}
	if err != nil {
		return fmt.Errorf("cannot record what the apply will create: %w", err)
	}
	return nil
}

// resolveCreations drops the creation records once an apply succeeded.
func (ps *pass) resolveCreations(ctx context.Context, runRowID int64) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := ps.c.store.ResolveCreations(dctx, ps.p.UID, runRowID); err != nil {
		// Kept records are only looked at again: harmless.
		ps.log.Warn("cannot drop the creation records of a successful apply", zap.Error(err))
	}
}

// recoverCreations finds what the project's failed or interrupted applies
// created and terraform never recorded (see the top of this file). Finds
// the plan declares become import blocks (ps.tfp.Imports); the others are
// deleted. plan nil (the finalizer) deletes every find. It reports whether
// imports were added, so the project must be planned again; an error
// (AWS or the database cannot be read, a delete failed) fails the pass
// rather than apply a plan that would create a twin.
func (ps *pass) recoverCreations(ctx context.Context, plan *tf.Plan) (bool, error) {
	finder := ps.c.cfg.Creations
	if finder == nil {
		return false, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	pending, err := ps.c.store.PendingCreations(dctx, ps.p.UID)
	cancel()
	if err != nil {
		return false, fmt.Errorf("cannot read the creation records: %w", err)
	}
	var byName []store.PendingCreation
	for _, r := range pending {
		if aws.Creations[r.Type].ByName && (r.Name != "" || r.NamePrefix != "") {
			byName = append(byName, r)
		}
	}
	if len(byName) == 0 {
		return false, nil
	}
	candidates, err := finder.FindCreated(ctx, byName)
	if err != nil {
		return false, fmt.Errorf("cannot look for what an interrupted apply created: %w", err)
	}
	if len(candidates) == 0 {
		return false, nil
	}
	facts := aws.CreationFacts{UserID: ps.p.UserID, ProjectID: ps.p.ProjectID, Pending: byName, Candidates: candidates, InState: map[string]bool{}}
	inState, err := ps.stateAddresses(ctx, facts.InState)
	if err != nil {
		return false, err
	}
	if facts.Others, err = ps.othersCreations(ctx, byName); err != nil {
		return false, err
	}
	imported := map[string]bool{}
	facts.Imported = map[string]bool{}
	for _, im := range ps.tfp.Imports {
		imported[im.To] = true
		facts.Imported[im.ID] = true
	}
	if plan != nil {
		for _, c := range plan.Creates {
			if inState[c.Address] || imported[c.Address] {
				continue
			}
			name, prefix := aws.PlannedName(c.Type, c.Values)
			facts.Wanted = append(facts.Wanted, aws.WantedCreate{Address: c.Address, Type: c.Type, Name: name, Prefix: prefix})
		}
	}
	finds, skips := aws.MatchCreations(facts)
	for _, s := range skips {
		ps.log.Warn("left alone a resource whose name an interrupted apply planned", zap.String("type", s.Candidate.Type),
			zap.String("name", s.Candidate.Name), zap.String("why", s.Why))
	}
	adopted := false
	var failed []string
	for _, f := range finds {
		if f.AdoptInto != "" {
			ps.tfp.Imports = append(ps.tfp.Imports, tf.Import{To: f.AdoptInto, ID: f.Candidate.Name})
			adopted = true
			ps.log.Warn("adopting what an interrupted apply created but never recorded", zap.Int64("run", f.Run),
				zap.String("address", f.AdoptInto), zap.String("name", f.Candidate.Name), zap.Bool("tagged", len(f.Candidate.Tags) > 0))
			continue
		}
		r := finder.DeleteCreated(ctx, ps.p.UserID, ps.p.ProjectID, f.Candidate)
		ps.log.Warn("deleting what an interrupted apply created that the configuration does not declare", zap.Int64("run", f.Run),
			zap.String("type", f.Candidate.Type), zap.String("name", f.Candidate.Name), zap.Bool("deleted", r.Deleted),
			zap.String("skipped", r.Skipped), zap.String("error", r.Error))
		if r.Error != "" {
			failed = append(failed, f.Candidate.Name+": "+r.Error)
		}
	}
	if len(failed) > 0 {
		return adopted, fmt.Errorf("cannot delete what an interrupted apply created: %s", strings.Join(failed, "; "))
	}
	return adopted, nil
}

// stateAddresses reads the project's state: it fills inState with the
// "type/name" of each resource whose import id its ARN gives, and returns
// its addresses.
func (ps *pass) stateAddresses(ctx context.Context, inState map[string]bool) (map[string]bool, error) {
	dctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	raw, exists, err := ps.c.store.TerraformState(dctx, ps.c.cfg.StateSchema, tf.WorkspaceName(ps.p.UserID, ps.p.ProjectID))
	if err != nil {
		return nil, fmt.Errorf("cannot read the project's state: %w", err)
	}
	addrs := map[string]bool{}
	if !exists {
		return addrs, nil
	}
	resources, err := tf.ParseState(raw)
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		addrs[r.Address] = true
		if typ, id, ok := aws.ImportTarget(r.ARN); ok {
			inState[typ+"/"+id] = true
		}
	}
	return addrs, nil
}

// othersCreations are other projects' pending creation records whose run
// window meets the records'.
func (ps *pass) othersCreations(ctx context.Context, recs []store.PendingCreation) ([]store.PendingCreation, error) {
	types := map[string]bool{}
	from, to := recs[0].StartedAt, recs[0].FinishedAt
	for _, r := range recs {
		types[r.Type] = true
		if r.StartedAt.Before(from) {
			from = r.StartedAt
		}
		if r.FinishedAt.After(to) {
			to = r.FinishedAt
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	var out []store.PendingCreation
	for _, t := range names {
		dctx, cancel := context.WithTimeout(ctx, dbTimeout)
		others, err := ps.c.store.OthersPendingCreations(dctx, ps.p.UID, t, from.Add(-aws.CreationSkew), to.Add(aws.CreationSkew))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("cannot read other projects' creation records: %w", err)
		}
		out = append(out, others...)
	}
	return out, nil
}

// adoptionWouldDestroy explains why a plan that imports must not be applied
// without an admin: it deletes or replaces something it imports, or
// destroys anything at all while adopting. "" when it may be applied.
func adoptionWouldDestroy(plan *tf.Plan, imports []tf.Import) string {
	if plan == nil {
		return ""
	}
	var destroyed []string
	for _, ic := range plan.Imports {
		if ic.Destroys() {
			destroyed = append(destroyed, fmt.Sprintf("%s (imported from %q) would be %s", ic.Address, ic.ID, map[string]string{"replace": "replaced", "delete": "deleted"}[ic.Action]))
		}
	}
	adopting := len(imports) > 0 || len(plan.Imports) > 0
	if !adopting || len(destroyed) == 0 && plan.Summary.Destroy == 0 {
		return ""
	}
	n := max(len(imports), len(plan.Imports))
	what := fmt.Sprintf("the adoption plan reads %d to import, %d to add, %d to change, %d to destroy",
		n, plan.Summary.Add, plan.Summary.Change, plan.Summary.Destroy)
	if len(destroyed) > 0 {
		what += ": " + strings.Join(destroyed, "; ")
	}
	return what
}

// isAlreadyOwned reports an apply that failed because a bucket the project
// creates exists in this account already (the provider's own retry of a
// CreateBucket whose answer was lost, or a crash): a find, not a failure,
// when the project's creation records name it.
func isAlreadyOwned(err error) bool {
	var cmdErr *tf.CommandError
	if !errors.As(err, &cmdErr) {
		return strings.Contains(describe(err), "BucketAlreadyOwnedByYou")
	}
	return strings.Contains(describe(err), "BucketAlreadyOwnedByYou") || strings.Contains(cmdErr.LogTail, "BucketAlreadyOwnedByYou")
}
