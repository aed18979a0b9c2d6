package controller

import (
	"time"

	"github.com/tenantform/tenantform/store"
)

// Action is what one pass does to a project. decide chooses it; the pass
// only carries it out.
type Action int

const (
	// ActIdle: nothing to do until the next timer or write.
	ActIdle Action = iota
	// ActDestroy: deletion was requested (or the TTL ran out): destroy,
	// then remove the row.
	ActDestroy
	// ActExpire: the TTL ran out; mark the project for deletion, fenced on
	// the revision the pass read, then destroy.
	ActExpire
	// ActPlan: plan the current generation, admit it, and apply it (or
	// keep it for approval).
	ActPlan
	// ActApplyReviewed: apply exactly the approved saved plan.
	ActApplyReviewed
	// ActAwaitApproval: a saved plan waits for a client's approval.
	ActAwaitApproval
	// ActBlockedWait: admission refused the last plan; re-plan only when
	// its figures now fit (checked without terraform).
	ActBlockedWait
	// ActBackoffWait: the last attempt failed; wait for NextAttemptAt.
	ActBackoffWait
	// ActDriftCheck: the spec is applied and the slow drift check is due:
	// re-plan with refresh and correct what drifted.
	ActDriftCheck
	// ActRefuse: the spec cannot be used at all (it does not decode);
	// record that and wait for a new generation.
	ActRefuse
)

var actionNames = map[Action]string{
	ActIdle: "idle", ActDestroy: "destroy", ActExpire: "expire", ActPlan: "plan",
	ActApplyReviewed: "apply-reviewed", ActAwaitApproval: "await-approval", ActBlockedWait: "blocked-wait",
	ActBackoffWait: "backoff-wait", ActDriftCheck: "drift-check", ActRefuse: "refuse",
}

func (a Action) String() string { return actionNames[a] }

// Decision is decide's answer.
type Decision struct {
	Action Action
	// StateOnly: destroy from the state alone, never evaluating the
	// tenant's configuration (it does not decode, it failed the policy,
	// destroys kept failing, or an admin forced it).
	StateOnly bool
	// Recover: a crashed reconciler left an apply or destroy unfinished;
	// any saved plan is stale and the project must be re-planned from its
	// state.
	Recover bool
}

// observed is everything decide looks at: the row as claimed, what the
// pass learned before deciding, and the time.
type observed struct {
	p store.Project
	// specOK: the stored spec decodes into something terraform can run.
	specOK bool
	// interrupted: a crashed reconciler left an apply or destroy run open.
	interrupted bool
	now         time.Time
	// driftEvery is DRIFT_CHECK_INTERVAL (≤0 disables the slow check).
	driftEvery time.Duration
	// stateOnlyAfter is how many failed destroys switch to destroying
	// from state alone.
	stateOnlyAfter int
	// inventoryDrift: the tagged AWS inventory shows a resource of the
	// state gone, or its platform tags changed.
	inventoryDrift bool
}

// terminalReasons wait for a new generation of the spec: retrying cannot
// help.
var terminalReasons = map[string]bool{
	ReasonPolicy: true, ReasonInvalidSpec: true, ReasonConfiguration: true,
	ReasonLimitExceeded: true, ReasonCredentialsDenied: true,
}

// decide is the reconciler's one decision: a pure function of the project,
// what the pass observed and the time. Phase names are outcomes recorded
// by earlier passes; decide reads them only together with the generation
// they were recorded for.
func decide(o observed) Decision {
	p, st := o.p, o.p.Status
	ready, _ := findCondition(st, CondReady)
	current := ready.ObservedGeneration == p.Generation // the last outcome is about this spec

	if p.DeletionRequestedAt != nil {
		if st.Phase == store.PhaseDestroying && st.NextAttemptAt != nil && o.now.Before(*st.NextAttemptAt) && !p.ForceDestroy &&
			ready.ObservedGeneration == p.Generation {
			return Decision{Action: ActBackoffWait}
		}
		stateOnly := !o.specOK || p.ForceDestroy ||
			(st.Phase == store.PhaseDestroying && st.Attempts >= o.stateOnlyAfter && ready.ObservedGeneration == p.Generation) ||
			(current && ready.Reason == ReasonPolicy)
		return Decision{Action: ActDestroy, StateOnly: stateOnly}
	}
	if !o.now.Before(p.ExpiresAt) {
		return Decision{Action: ActExpire, StateOnly: !o.specOK || (current && ready.Reason == ReasonPolicy)}
	}
	if !o.specOK {
		if current && ready.Reason == ReasonInvalidSpec {
			return Decision{Action: ActIdle}
		}
		return Decision{Action: ActRefuse}
	}
	if o.interrupted {
		return Decision{Action: ActPlan, Recover: true}
	}
	if current && terminalReasons[ready.Reason] && st.Phase == store.PhaseFailed {
		return Decision{Action: ActIdle}
	}
	if current && st.Phase == store.PhaseBlocked {
		return Decision{Action: ActBlockedWait}
	}
	if st.PendingPlanRun != 0 && current {
		if p.ApprovedRun == st.PendingPlanRun {
			return Decision{Action: ActApplyReviewed}
		}
		return Decision{Action: ActAwaitApproval}
	}
	if current && st.Phase == store.PhaseRetrying && st.NextAttemptAt != nil && o.now.Before(*st.NextAttemptAt) {
		return Decision{Action: ActBackoffWait}
	}
	if p.Generation != st.ObservedGeneration || st.Phase != store.PhaseReady {
		return Decision{Action: ActPlan}
	}
	if o.inventoryDrift || o.driftEvery > 0 && (st.LastVerifiedAt == nil || !o.now.Before(st.LastVerifiedAt.Add(o.driftEvery))) {
		return Decision{Action: ActDriftCheck}
	}
	return Decision{Action: ActIdle}
}
