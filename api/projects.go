package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf/policy"
)

// specRequest is the PUT body. Optional fields are pointers so that
// "omitted" (take the default) differs from an explicit zero, which for
// ttlMinutes is an error rather than "forever".
type specRequest struct {
	Region            *string           `json:"region"`
	Files             map[string]string `json:"files"`
	Variables         json.RawMessage   `json:"variables"`
	TTLMinutes        *int              `json:"ttlMinutes"`
	MaxMonthlyCostUSD *float64          `json:"maxMonthlyCostUSD"`
	RequireApproval   *bool             `json:"requireApproval"`
}

// variableName is Terraform's identifier syntax: a variable named
// otherwise could be stored but never passed to Terraform.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// reservedVariable reports the names Terraform refuses for variables;
// catching them here gives a 422 now instead of a failed plan later.
func reservedVariable(name string) bool {
	switch name {
	case "source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals":
		return true
	}
	return false
}

// costCap is the ceiling a user's maxMonthlyCostUSD may reach, and the
// default when the spec names none.
type costCap struct {
	usd float64
	// source names the setting the cap comes from, for the error message.
	source string
}

// spec applies defaults and validates, returning every problem at once.
func (s *server) spec(req specRequest, limit costCap) (store.Spec, []fieldProblem) {
	var problems []fieldProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, fieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	spec := store.Spec{
		Region:            s.cfg.DefaultRegion,
		Files:             req.Files,
		TTLMinutes:        s.cfg.DefaultTTLMinutes,
		MaxMonthlyCostUSD: limit.usd,
		RequireApproval:   req.RequireApproval != nil && *req.RequireApproval,
	}

	switch {
	case req.Region != nil && *req.Region == "":
		add("region", "must not be empty; omit it for the default (%s)", s.cfg.DefaultRegion)
	default:
		if req.Region != nil {
			spec.Region = *req.Region
		}
		if spec.Region == "" {
			add("region", "is required: this server has no default region")
		} else if !slices.Contains(s.cfg.AllowedRegions, spec.Region) {
			add("region", "%q is not allowed; use one of %s", spec.Region, strings.Join(s.cfg.AllowedRegions, ", "))
		}
	}

	if len(req.Files) == 0 {
		add("files", "at least one Terraform file is required")
	}

	vars, ok := variables(req.Variables)
	if !ok {
		add("variables", "must be a JSON object of variable names to values")
	}
	for _, name := range sortedKeys(vars) {
		switch {
		case !variableName.MatchString(name):
			add("variables."+name, "is not a valid Terraform variable name (a letter or _, then letters, digits, _ or -; at most 64)")
		case reservedVariable(name):
			add("variables."+name, "is a name Terraform reserves; variables cannot use it")
		}
	}
	spec.Variables = vars

	if req.TTLMinutes != nil {
		if msg := ttlProblem(*req.TTLMinutes, s.cfg.DefaultTTLMinutes); msg != "" {
			add("ttlMinutes", "%s", msg)
		}
		spec.TTLMinutes = *req.TTLMinutes
	}

	if c := req.MaxMonthlyCostUSD; c != nil {
		switch {
		case *c < 0:
			add("maxMonthlyCostUSD", "must not be negative")
		case *c > limit.usd:
			add("maxMonthlyCostUSD", "%g exceeds the limit of %g USD per project (%s)", *c, limit.usd, limit.source)
		}
		spec.MaxMonthlyCostUSD = *c
	}
	return spec, problems
}

// ttlProblem explains what is wrong with a ttlMinutes, or returns "".
// Zero gets its own message because "0 = never expire" is a common
// convention elsewhere, and here it would destroy the project at once.
func ttlProblem(ttl, def int) string {
	switch {
	case ttl == 0:
		return fmt.Sprintf("0 is not forever; omit it for the default (%d minutes)", def)
	case ttl < 0:
		return "must be a positive number of minutes"
	case ttl > maxTTLMinutes:
		return fmt.Sprintf("%d is more than the maximum of %d minutes (30 days)", ttl, maxTTLMinutes)
	}
	return ""
}

// variables reads the variables object. nil and null mean none; anything
// but an object is refused.
func variables(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var vars map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &vars) != nil {
		return nil, false
	}
	return vars, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// policyError is the PolicyViolation answer (api/openapi.json).
func policyError(violations []policy.Violation) *apiError {
	noun := "problems"
	if len(violations) == 1 {
		noun = "problem"
	}
	// A file terraform cannot parse is a syntax error, not a refusal by
	// policy: the tenant must fix the file before any rule can be judged.
	for _, v := range violations {
		if v.Reason == policy.ReasonSyntax {
			return &apiError{status: http.StatusUnprocessableEntity, code: codeSyntaxError,
				message: fmt.Sprintf("%d %s in the configuration; the first is a syntax error at %s:%d", len(violations), noun, v.File, v.Line),
				details: violations}
		}
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: codePolicyViolation,
		message: fmt.Sprintf("%d %s in the configuration", len(violations), noun), details: violations}
}

// costLimit is the user's per-project cost cap: the quota override, when
// an operator set one, else MAX_COST_PER_PROJECT.
func (s *server) costLimit(ctx context.Context, userID string) (costCap, error) {
	o, err := s.st.GetQuotaOverride(ctx, userID)
	if err != nil {
		return costCap{}, err
	}
	if o.MaxMonthlyCostUSD != nil {
		return costCap{*o.MaxMonthlyCostUSD, "this user's quota"}, nil
	}
	return costCap{s.cfg.MaxCostPerProjectUSD, "MAX_COST_PER_PROJECT"}, nil
}

// ifMatch reads If-Match. It accepts the ETag as sent ("3"), the bare
// generation (3) for hand-written curl, and "*" (the project must exist).
func ifMatch(h string) (generation *int64, mustExist bool, err error) {
	h = strings.TrimSpace(h)
	switch h {
	case "":
		return nil, false, nil
	case "*":
		return nil, true, nil
	}
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n < 1 {
		return nil, false, badRequest(`If-Match must be one ETag this server sent, like "3", or *`)
	}
	return &n, false, nil
}

// maxMustExistRetries bounds the retries of an If-Match: * PUT that keeps
// losing races with other writers.
const maxMustExistRetries = 5

func (s *server) putProject(w http.ResponseWriter, r *http.Request, c *call) error {
	match, mustExist, err := ifMatch(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	var req specRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	files := &checkedFiles{files: req.Files, rules: s.cfg.Policy}

	// Most users have no quota override, so their cost cap is
	// MAX_COST_PER_PROJECT: a request valid under it is written in the
	// round trip that reads the override, and written only if there is
	// none (store.PutSpecUnlessCostOverride). Any other request reads the
	// override first, as before, since its answer may depend on it.
	var limit costCap
	known := false
	if g, ok := s.st.(costGuardedPutter); ok && !mustExist {
		guess := costCap{s.cfg.MaxCostPerProjectUSD, "MAX_COST_PER_PROJECT"}
		if spec, err := s.validSpec(req, guess, files); err == nil {
			p, res, override, err := g.PutSpecUnlessCostOverride(r.Context(), c.key, spec, match, c.now, s.cfg.MaxProjectsPerUser)
			switch {
			case err != nil:
				return fromStore(err, msgProjectNotFound)
			case override == nil:
				s.answerPut(w, r, p, res)
				return nil
			}
			limit, known = costCap{*override.MaxMonthlyCostUSD, "this user's quota"}, true
		}
	}
	if !known {
		if limit, err = s.costLimit(r.Context(), c.key.UserID); err != nil {
			return err
		}
	}
	spec, err := s.validSpec(req, limit, files)
	if err != nil {
		return err
	}
	p, res, err := s.put(r.Context(), c, spec, match, mustExist)
	if err != nil {
		return fromStore(err, msgProjectNotFound)
	}
	s.answerPut(w, r, p, res)
	return nil
}

// costGuardedPutter is *store.Store's PUT that reads the user's quota
// override in the same round trip (see putProject).
type costGuardedPutter interface {
	PutSpecUnlessCostOverride(ctx context.Context, key store.Key, spec store.Spec, ifMatch *int64, now time.Time, maxProjects int) (store.Project, store.PutResult, *store.QuotaOverride, error)
}

// validSpec is the spec of req under the cost cap limit, or the 422 that
// refuses it: the spec's own problems first, then the policy's, then
// variables the files require and the spec does not give.
func (s *server) validSpec(req specRequest, limit costCap, files *checkedFiles) (store.Spec, error) {
	spec, problems := s.spec(req, limit)
	if len(problems) > 0 {
		return store.Spec{}, invalid(codeInvalidSpec, problems)
	}
	violations, required := files.check()
	if len(violations) > 0 {
		return store.Spec{}, policyError(violations)
	}
	if problems := missingVariables(spec, required); len(problems) > 0 {
		return store.Spec{}, invalid(codeInvalidSpec, problems)
	}
	return spec, nil
}

// checkedFiles checks an upload's files once, however many specs are
// judged with them: one parse serves the policy and the variables check.
type checkedFiles struct {
	files      map[string]string
	rules      policy.Rules
	done       bool
	violations []policy.Violation
	required   []policy.RequiredVariable
}

func (f *checkedFiles) check() ([]policy.Violation, []policy.RequiredVariable) {
	if !f.done {
		f.violations, f.required = policy.CheckUpload(f.files, f.rules)
		f.done = true
	}
	return f.violations, f.required
}

// answerPut is a PUT's answer: 201 with a Location for a new project, 200
// otherwise, and the project.
func (s *server) answerPut(w http.ResponseWriter, r *http.Request, p store.Project, res store.PutResult) {
	status := http.StatusOK
	if res == store.Created {
		status = http.StatusCreated
		w.Header().Set("Location", projectPath(p.Key))
	}
	s.writeProject(w, r, status, p)
}

// put stores spec under If-Match. With "*" the generation it replaces does
// not matter, only that the project exists, so losing a race with another
// writer is retried rather than answered 412.
func (s *server) put(ctx context.Context, c *call, spec store.Spec, match *int64, mustExist bool) (store.Project, store.PutResult, error) {
	if !mustExist {
		return s.st.PutSpecWithin(ctx, c.key, spec, match, c.now, s.cfg.MaxProjectsPerUser)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.st.GetProject(ctx, c.key)
		if errors.Is(err, store.ErrNotFound) {
			return store.Project{}, 0, store.ErrPreconditionFailed
		} else if err != nil {
			return store.Project{}, 0, err
		}
		p, res, err := s.st.PutSpecWithin(ctx, c.key, spec, &cur.Generation, c.now, s.cfg.MaxProjectsPerUser)
		if errors.Is(err, store.ErrPreconditionFailed) && attempt < maxMustExistRetries {
			continue
		}
		return p, res, err
	}
}

func projectPath(k store.Key) string {
	return "/api/v1/users/" + k.UserID + "/projects/" + k.ProjectID
}

func (s *server) getProject(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := queryParams(r.URL.Query(), "watch", "resourceVersion")
	if err != nil {
		return err
	}
	if watch, since, err := watchRequested(r, q); err != nil || watch {
		if err != nil {
			return err
		}
		return s.serveWatch(w, r, c.key, since)
	}
	v, body, actual, err := s.projectViewAndActualCost(r.Context(), c.key, c.now)
	if err != nil {
		return err
	}
	if body != nil && actual != nil {
		body, _ = withActualCost(body, actual.USD) // nil when it cannot: encode v
	}
	if body != nil {
		writeViewBody(w, v.Generation, body)
		return nil
	}
	if actual != nil {
		v.Status.ActualMonthToDateUSD = &actual.USD
	}
	s.writeView(w, r, http.StatusOK, v)
	return nil
}

// deleteProject requests destruction: 202, since the row stays (as
// Destroying) until the reconciler has destroyed everything.
//
// ?force=true (admin only) finishes a destroy that cannot complete: the
// reconciler destroys from state alone and removes the project whatever
// happens; anything left behind is reported as an orphan.
func (s *server) deleteProject(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := queryParams(r.URL.Query(), "force")
	if err != nil {
		return err
	}
	force := false
	switch q["force"] {
	case "", "false":
	case "true":
		if !c.caller.admin {
			return newError(http.StatusForbidden, codeForbidden, "force=true needs an admin token: it removes the project even if its resources cannot be destroyed")
		}
		force = true
	default:
		return badRequest("query parameter force must be true or false, not %q", q["force"])
	}
	p, err := s.st.RequestDeletion(r.Context(), c.key, force, c.now)
	if err != nil {
		return fromStore(err, msgProjectNotFound)
	}
	s.writeProject(w, r, http.StatusAccepted, p)
	return nil
}

type extendRequest struct {
	TTLMinutes *int `json:"ttlMinutes"`
}

// extendProject moves expiresAt to now + ttlMinutes; it does not change the
// spec (nor its generation): it is a one-off, not a new desired TTL.
// ttlMinutes omitted (or no body at all) means the server's default TTL
// (RESOURCE_TIMEOUT_MINUTES), which is what ttlProblem's "omit it for the
// default" promises.
func (s *server) extendProject(w http.ResponseWriter, r *http.Request, c *call) error {
	var req extendRequest
	if err := decodeOptionalBody(r, &req); err != nil {
		return err
	}
	ttl := s.cfg.DefaultTTLMinutes
	if req.TTLMinutes != nil {
		if msg := ttlProblem(*req.TTLMinutes, s.cfg.DefaultTTLMinutes); msg != "" {
			return invalid(codeInvalidRequest, []fieldProblem{{Field: "ttlMinutes", Message: msg}})
		}
		ttl = *req.TTLMinutes
	}
	p, err := s.st.Extend(r.Context(), c.key, c.now.Add(time.Duration(ttl)*time.Minute), c.now)
	if err != nil {
		return fromStore(err, msgProjectNotFound)
	}
	s.writeProject(w, r, http.StatusOK, p)
	return nil
}

type approveRequest struct {
	RunID      *int64 `json:"runId"`
	Generation *int64 `json:"generation"`
}

// approveProject approves the saved plan awaiting approval, named by its
// run (status.pendingPlanRun), or by its generation when that is the
// generation of the plan awaiting approval. Naming it makes the approval
// mean "the plan I looked at": a newer plan, or none yet, is a 409, never
// an approval of something unseen. The reconciler applies exactly that
// planfile.
func (s *server) approveProject(w http.ResponseWriter, r *http.Request, c *call) error {
	var req approveRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var a store.Approval
	switch {
	case req.RunID != nil && *req.RunID >= 1:
		a.RunID = *req.RunID
		if req.Generation != nil {
			a.Generation = *req.Generation
		}
	case req.RunID == nil && req.Generation != nil && *req.Generation >= 1:
		a.Generation = *req.Generation
	default:
		return invalid(codeInvalidRequest, []fieldProblem{{Field: "runId", Message: "is required: the run (status.pendingPlanRun) whose plan is approved, 1 or more; or give the plan's generation"}})
	}
	p, err := s.st.Approve(r.Context(), c.key, a, c.now)
	if err != nil {
		return fromStore(err, msgProjectNotFound)
	}
	s.writeProject(w, r, http.StatusOK, p)
	return nil
}

func (s *server) listUserProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := queryParams(r.URL.Query(), "limit", "after", "watch", "resourceVersion")
	if err != nil {
		return err
	}
	if watch, since, err := watchRequested(r, q); err != nil || watch {
		if err != nil {
			return err
		}
		return s.serveWatch(w, r, store.Key{UserID: c.key.UserID}, since)
	}
	return s.listProjects(w, r, q, store.ListOptions{UserID: c.key.UserID})
}

// listAllProjects is the admin's view across users.
func (s *server) listAllProjects(w http.ResponseWriter, r *http.Request, _ *call) error {
	q, err := queryParams(r.URL.Query(), "limit", "after", "phase", "userId")
	if err != nil {
		return err
	}
	opts := store.ListOptions{UserID: q["userId"], Phase: store.Phase(q["phase"])}
	if opts.UserID != "" && !policy.ValidID(opts.UserID) {
		return badRequest("query parameter userId %q must be %s", opts.UserID, policy.IDRule)
	}
	if opts.Phase != "" && !slices.Contains(store.Phases, opts.Phase) {
		names := make([]string, len(store.Phases))
		for i, p := range store.Phases {
			names[i] = string(p)
		}
		return badRequest("query parameter phase %q is not a phase; use one of %s", opts.Phase, strings.Join(names, ", "))
	}
	return s.listProjects(w, r, q, opts)
}

// projectList is a page of projects. next is always present: the cursor
// for ?after= of the next page, or "" on the last page.
type projectList struct {
	Items []projectView `json:"items"`
	Next  string        `json:"next"`
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request, q map[string]string, opts store.ListOptions) error {
	limit, err := limitParam(q["limit"])
	if err != nil {
		return err
	}
	opts.Limit, opts.After = limit, q["after"]
	if err := cursorProblem(opts.After); err != nil {
		return err
	}
	projects, next, err := s.st.ListProjects(r.Context(), opts)
	if errors.Is(err, store.ErrInvalidCursor) {
		return badRequest("query parameter after %q is not a cursor this server returned", opts.After)
	} else if err != nil {
		return err
	}
	out := projectList{Items: views(projects), Next: next}
	if k := fittingViews(out.Items); k < len(out.Items) {
		// The page would pass maxListPageBytes: ask for the k projects
		// that fit, so that the store hands out the cursor after them.
		opts.Limit = k
		if projects, next, err = s.st.ListProjects(r.Context(), opts); err != nil {
			return err
		}
		out = projectList{Items: views(projects), Next: next}
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func views(projects []store.Project) []projectView {
	out := make([]projectView, len(projects))
	for i, p := range projects {
		out[i] = view(p)
	}
	return out
}

// fittingViews is how many of the first projects fit in one list page of
// maxListPageBytes, and at least one: a page always makes progress.
func fittingViews(vs []projectView) int {
	total := 0
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return max(i, 1)
		}
		total += len(b) + 1
		if total > maxListPageBytes {
			return max(i, 1)
		}
	}
	return len(vs)
}

// limitParam reads ?limit=: 1 to maxListLimit, default defaultListLimit.
func limitParam(raw string) (int, error) {
	if raw == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, badRequest("query parameter limit %q must be an integer from 1 to %d", raw, maxListLimit)
	}
	return n, nil
}

// projectView is the project representation of api/openapi.json. Status
// stays its last field, and ActualMonthToDateUSD status's: a remembered
// answer's JSON takes the actual cost by splicing it in at the end
// (withActualCost; TestTheActualCostIsTheLastFieldOfTheView).
type projectView struct {
	UserID              string     `json:"userId"`
	ProjectID           string     `json:"projectId"`
	Generation          int64      `json:"generation"`
	CreatedAt           time.Time  `json:"createdAt"`
	UpdatedAt           time.Time  `json:"updatedAt"`
	ExpiresAt           time.Time  `json:"expiresAt"`
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
	Spec                specView   `json:"spec"`
	Status              statusView `json:"status"`
}

// specView is the stored spec, defaults applied, with empty collections as
// {} rather than null or absent so clients need no special case.
type specView struct {
	Region            string                     `json:"region"`
	Files             map[string]string          `json:"files"`
	Variables         map[string]json.RawMessage `json:"variables"`
	TTLMinutes        int                        `json:"ttlMinutes"`
	MaxMonthlyCostUSD float64                    `json:"maxMonthlyCostUSD"`
	RequireApproval   bool                       `json:"requireApproval"`
}

type statusView struct {
	Phase                   store.Phase       `json:"phase"`
	ObservedGeneration      int64             `json:"observedGeneration"`
	ResourceCount           int               `json:"resourceCount"`
	EstimatedMonthlyCostUSD float64           `json:"estimatedMonthlyCostUSD"`
	Outputs                 map[string]any    `json:"outputs"`
	Conditions              []store.Condition `json:"conditions"`
	LastAppliedAt           *time.Time        `json:"lastAppliedAt"`
	LastVerifiedAt          *time.Time        `json:"lastVerifiedAt"`
	Message                 string            `json:"message"`
	LastError               string            `json:"lastError"`
	Attempts                int               `json:"attempts"`
	NextAttemptAt           *time.Time        `json:"nextAttemptAt"`
	// PendingPlanRun is the run whose saved plan awaits approval; approve
	// it with {"runId": N}.
	PendingPlanRun int64 `json:"pendingPlanRun,omitempty"`
	// ReservedResources and ReservedMonthlyCostUSD are what admission
	// granted to the newest plan (counted against quota and budget).
	ReservedResources      int     `json:"reservedResources"`
	ReservedMonthlyCostUSD float64 `json:"reservedMonthlyCostUSD"`
	// Omitted lists what the API's response limits cut (see bounds.go);
	// absent when nothing was.
	Omitted []omission `json:"omitted,omitempty"`
	// ActualMonthToDateUSD is what AWS charged this month so far (Cost
	// Explorer), shown by GET of one project; absent when unknown.
	ActualMonthToDateUSD *float64 `json:"actualMonthToDateUSD,omitempty"`
}

func view(p store.Project) projectView {
	st := p.Status
	var l limiter
	v := projectView{
		UserID:              p.UserID,
		ProjectID:           p.ProjectID,
		Generation:          p.Generation,
		CreatedAt:           p.CreatedAt.UTC(),
		UpdatedAt:           p.UpdatedAt.UTC(),
		ExpiresAt:           p.ExpiresAt.UTC(),
		DeletionRequestedAt: utc(p.DeletionRequestedAt),
		Spec: specView{
			Region:            p.Spec.Region,
			Files:             nonNilMap(p.Spec.Files),
			Variables:         nonNilMap(p.Spec.Variables),
			TTLMinutes:        p.Spec.TTLMinutes,
			MaxMonthlyCostUSD: p.Spec.MaxMonthlyCostUSD,
			RequireApproval:   p.Spec.RequireApproval,
		},
		Status: statusView{
			Phase:                   st.Phase,
			ObservedGeneration:      st.ObservedGeneration,
			ResourceCount:           st.ResourceCount,
			EstimatedMonthlyCostUSD: st.EstimatedMonthlyCostUSD,
			Outputs:                 l.outputs(st.Outputs),
			Conditions:              l.conditions(st.Conditions),
			LastAppliedAt:           utc(st.LastAppliedAt),
			LastVerifiedAt:          utc(st.LastVerifiedAt),
			Message:                 l.head("message", st.Message, maxMessageBytes),
			LastError:               l.head("lastError", st.LastError, maxMessageBytes),
			Attempts:                st.Attempts,
			NextAttemptAt:           utc(st.NextAttemptAt),
			PendingPlanRun:          st.PendingPlanRun,
			ReservedResources:       st.ReservedResources,
			ReservedMonthlyCostUSD:  st.ReservedMonthlyCostUSD,
		},
	}
	v.Status.Omitted = l.omitted
	if v.Status.Phase == "" {
		v.Status.Phase = store.PhasePending
	}
	// Deletion is accepted the moment it is requested; showing the old
	// phase until a reconciler picks it up would suggest it was not.
	if p.DeletionRequestedAt != nil {
		v.Status.Phase = store.PhaseDestroying
	}
	return v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// writeProject answers with one project and its ETag. The ETag is the
// generation: it versions the spec (what If-Match protects), not the
// status, which changes under it as the reconciler works.
func (s *server) writeProject(w http.ResponseWriter, r *http.Request, status int, p store.Project) {
	s.writeView(w, r, status, view(p))
}

func (s *server) writeView(w http.ResponseWriter, r *http.Request, status int, v projectView) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(v.Generation, 10)))
	s.writeJSON(w, r, status, v)
}

// missingVariables names each root-module variable without a default
// (required, from policy.CheckUpload) that
// the spec gives no value: terraform would accept the PUT's files and then
// fail every plan with advice about -var flags the API does not have.
func missingVariables(spec store.Spec, required []policy.RequiredVariable) []fieldProblem {
	var problems []fieldProblem
	for _, v := range required {
		if _, ok := spec.Variables[v.Name]; ok {
			continue
		}
		problems = append(problems, fieldProblem{Field: "variables." + v.Name,
			Message: fmt.Sprintf("variable %q (%s:%d) has no default: give it a value in the spec's \"variables\" object", v.Name, v.File, v.Line)})
	}
	return problems
}
