package controller

import (
	"time"

	"github.com/tenantform/tenantform/store"
)

// Condition types and reasons. Reasons are typed so clients, alerts and
// dashboards can match on them.
const (
	CondReady        = "Ready"
	CondExpiringSoon = "ExpiringSoon"
	CondAdmitted     = "Admitted"
	// CondDestroyFailed is True while a destroy keeps failing: the project
	// cannot leave on its own and may need a corrected spec or an admin's
	// forced deletion.
	CondDestroyFailed = "DestroyFailed"
	// CondDestroyed is set on the final status kept in the tombstone.
	CondDestroyed       = "Destroyed"
	ReasonApplied       = "Applied"
	ReasonPlanning      = "Planning"
	ReasonApplying      = "Applying"
	ReasonExpired       = "Expired"
	ReasonDeleted       = "DeletionRequested"
	ReasonQuota         = "QuotaExceeded"
	ReasonBudget        = "BudgetExceeded"
	ReasonWithinLimit   = "WithinLimits"
	ReasonApproval      = "AwaitingApproval"
	ReasonPolicy        = "PolicyViolation"
	ReasonInvalidSpec   = "InvalidSpec"
	ReasonLocked        = "StateLocked"
	ReasonPlanFailed    = "PlanFailed"
	ReasonApplyFailed   = "ApplyFailed"
	ReasonDestroyFailed = "DestroyFailed"
	ReasonRecovering    = "RecoveringPartialApply"
	ReasonTTL           = "TTLNearlyUsed"
	ReasonTTLOK         = "TTLRemaining"
	// ReasonConfiguration: terraform rejected the configuration (missing
	// variable, unsupported argument, invalid reference...): terminal.
	ReasonConfiguration = "ConfigurationError"
	// ReasonLimitExceeded: a terraform process hit a run limit (deadline,
	// memory, CPU time, output): terminal.
	ReasonLimitExceeded = "LimitExceeded"
	// ReasonCostUnknown: the plan's cost depends on values unknown until
	// apply; the project is Blocked until its configuration changes.
	ReasonCostUnknown = "CostUnknown"
	// ReasonCredentialsDenied: AWS refused the project's credentials.
	ReasonCredentialsDenied = "CredentialsDenied"
)

// setCondition sets or replaces a condition, keeping its transition time
// when the status does not change (Kubernetes semantics).
func setCondition(st *store.Status, c store.Condition, now time.Time) {
	c.LastTransitionTime = now.UTC().Truncate(time.Microsecond)
	for i, old := range st.Conditions {
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

func findCondition(st store.Status, typ string) (store.Condition, bool) {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c, true
		}
	}
	return store.Condition{}, false
}

func condTrue(typ, reason, msg string, gen int64) store.Condition {
	return store.Condition{Type: typ, Status: "True", Reason: reason, Message: msg, ObservedGeneration: gen}
}

func condFalse(typ, reason, msg string, gen int64) store.Condition {
	return store.Condition{Type: typ, Status: "False", Reason: reason, Message: msg, ObservedGeneration: gen}
}
