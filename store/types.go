package store

import (
	"encoding/json"
	"net/url"
	"time"
)

// Key names a project.
type Key struct {
	UserID    string `json:"userId"`
	ProjectID string `json:"projectId"`
}

func (k Key) String() string { return k.UserID + "/" + k.ProjectID }

// Spec is a project's desired state, as the API stored it (defaults applied).
type Spec struct {
	Region            string                     `json:"region"`
	Files             map[string]string          `json:"files"`
	Variables         map[string]json.RawMessage `json:"variables,omitempty"`
	TTLMinutes        int                        `json:"ttlMinutes"`
	MaxMonthlyCostUSD float64                    `json:"maxMonthlyCostUSD"`
	RequireApproval   bool                       `json:"requireApproval"`
}

// Phase is where a project stands in the reconcile state machine.
type Phase string

const (
	PhasePending          Phase = "Pending"
	PhasePlanning         Phase = "Planning"
	PhaseAwaitingApproval Phase = "AwaitingApproval"
	PhaseApplying         Phase = "Applying"
	PhaseReady            Phase = "Ready"
	PhaseBlocked          Phase = "Blocked"
	// PhaseRetrying: the last attempt failed for a reason retrying can
	// fix (network, throttling, a held state lock); the next one is at
	// Status.NextAttemptAt.
	PhaseRetrying Phase = "Retrying"
	// PhaseFailed is terminal for the generation: the spec must change
	// (the Ready condition's reason says why).
	PhaseFailed     Phase = "Failed"
	PhaseDestroying Phase = "Destroying"
	// PhaseDestroyed is the phase of a tombstone (410 Gone): everything the
	// project held was destroyed and the project itself is gone.
	PhaseDestroyed Phase = "Destroyed"
)

// Phases lists every phase, for validation and for metrics that export
// known label values at start.
var Phases = []Phase{PhasePending, PhasePlanning, PhaseAwaitingApproval, PhaseApplying,
	PhaseReady, PhaseBlocked, PhaseRetrying, PhaseFailed, PhaseDestroying}

// Condition follows the Kubernetes convention.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"` // "True", "False", "Unknown"
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	// ObservedGeneration is the spec generation the condition was set for.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Status is written only by the reconciler.
type Status struct {
	Phase                   Phase          `json:"phase"`
	ObservedGeneration      int64          `json:"observedGeneration"`
	Conditions              []Condition    `json:"conditions"`
	ResourceCount           int            `json:"resourceCount"`
	EstimatedMonthlyCostUSD float64        `json:"estimatedMonthlyCostUSD"`
	Outputs                 map[string]any `json:"outputs"`
	LastAppliedAt           *time.Time     `json:"lastAppliedAt"`
	// LastVerifiedAt is when a plan last found the project converged (or
	// converged it); the slow drift check counts from it.
	LastVerifiedAt *time.Time `json:"lastVerifiedAt"`
	Message        string     `json:"message"`
	LastError      string     `json:"lastError,omitempty"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt,omitempty"`
	// ReservedResources and ReservedMonthlyCostUSD are what admission
	// granted to the newest plan; quota and budget count the greater of
	// these and the applied figures, so plans admitted at the same time
	// can never share the same room.
	ReservedResources      int     `json:"reservedResources"`
	ReservedMonthlyCostUSD float64 `json:"reservedMonthlyCostUSD"`
	// PlannedResources and PlannedMonthlyCostUSD are the newest plan's
	// figures (what a Blocked project waits to fit).
	PlannedResources      int     `json:"plannedResources"`
	PlannedMonthlyCostUSD float64 `json:"plannedMonthlyCostUSD"`
	// PendingPlanRun is the run whose saved plan awaits approval (0: none).
	PendingPlanRun int64 `json:"pendingPlanRun,omitempty"`
}

// Project is one row: identity, spec, metadata and status.
type Project struct {
	Key
	UID                 string
	Spec                Spec
	Generation          int64
	Revision            int64
	ApprovedGeneration  int64
	CreatedAt           time.Time
	UpdatedAt           time.Time
	ExpiresAt           time.Time
	DeletionRequestedAt *time.Time
	Status              Status
	DueAt               time.Time
	LeaseOwner          string
	LeaseExpiresAt      *time.Time
	// LeaseToken identifies the claim that leased the row; every write of
	// the claimant is fenced on it.
	LeaseToken string
	// ApprovedRun is the plan run a client approved (0: none).
	ApprovedRun int64
	// ForceDestroy: an admin asked to finish the destroy whatever it takes.
	ForceDestroy bool
}

// Run records one terraform operation.
type Run struct {
	// ID is the run's number within its project (1, 2, 3...).
	ID int64 `json:"id"`
	// RowID is the database key, unique across projects.
	RowID                   int64           `json:"-"`
	ProjectUID              string          `json:"-"`
	UserID                  string          `json:"userId"`
	ProjectID               string          `json:"projectId"`
	Generation              int64           `json:"generation"`
	Operation               string          `json:"operation"` // plan, apply, destroy
	ReconcileID             string          `json:"reconcileId"`
	Owner                   string          `json:"owner"`
	StartedAt               time.Time       `json:"startedAt"`
	FinishedAt              *time.Time      `json:"finishedAt"`
	Outcome                 string          `json:"outcome"` // running, succeeded, failed, interrupted
	PlanSummary             json.RawMessage `json:"planSummary,omitempty"`
	CostEstimate            json.RawMessage `json:"costEstimate,omitempty"`
	EstimatedMonthlyCostUSD *float64        `json:"estimatedMonthlyCostUSD,omitempty"`
	LogTail                 string          `json:"logTail,omitempty"`
	Error                   string          `json:"error,omitempty"`
	// Diagnostics are terraform's structured diagnostics of a failed run.
	Diagnostics json.RawMessage `json:"diagnostics,omitempty"`
	// Reason says why the run happened (Spec, Drift, Recovery, Approved,
	// Expired, Deleted...).
	Reason string `json:"reason,omitempty"`
	// HasPlanfile: the run's saved plan is still kept for apply.
	HasPlanfile bool `json:"hasPlanfile,omitempty"`
	// Kind is KindReconcile, or KindSpeculative for a plan that is never
	// applied (speculative.go).
	Kind string `json:"kind"`
	// Speculative is what a speculative plan found (SpeculativeFindings,
	// as JSON); empty for other runs and until it finishes.
	Speculative json.RawMessage `json:"speculative,omitempty"`
}

// Run operations and outcomes.
const (
	OpPlan    = "plan"
	OpApply   = "apply"
	OpDestroy = "destroy"

	// OutcomeQueued: a speculative plan waiting for a worker.
	OutcomeQueued    = "queued"
	OutcomeRunning   = "running"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	// OutcomeInterrupted: terraform was stopped because the reconciler
	// could not renew its lease in time (another may take over).
	OutcomeInterrupted = "interrupted"
)

// redactURL drops the password from a connection URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
