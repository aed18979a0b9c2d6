package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// CleanupMode is ORPHAN_CLEANUP: what a sweep does with orphans.
type CleanupMode string

const (
	// CleanupReport (the default) only reports, like aws-nuke's dry run:
	// the report lists exactly what CleanupDelete would remove.
	CleanupReport CleanupMode = "report"
	// CleanupDelete deletes orphans through the service APIs.
	CleanupDelete CleanupMode = "delete"
)

// ParseCleanupMode reads ORPHAN_CLEANUP: "report" (or empty) or "delete".
func ParseCleanupMode(s string) (CleanupMode, error) {
	switch s {
	case "", string(CleanupReport):
		return CleanupReport, nil
	case string(CleanupDelete):
		return CleanupDelete, nil
	}
	return "", fmt.Errorf("%q is neither %q nor %q", s, CleanupReport, CleanupDelete)
}

// DefaultOrphanGrace is ORPHAN_GRACE_PERIOD's default: how long after a
// listing first showed an orphan a later listing must still show it before
// a sweep deletes it.
const DefaultOrphanGrace = 15 * time.Minute

// orphanDeleteTimeout bounds the deletion of one orphan: the project's lock
// is held meanwhile (store.Store.SweepOrphan), and a creation of that
// project waits for it. What is left is deleted at the next sweep.
const orphanDeleteTimeout = 2 * time.Minute

// OrphanStore is the slice of the store orphan handling reads.
type OrphanStore interface {
	Inventory(ctx context.Context) (store.Inventory, error)
	LiveProjects(ctx context.Context) ([]store.LiveProject, error)
	MarkOrphans(ctx context.Context, arns []string) (map[string]store.OrphanMark, error)
	SweepOrphan(ctx context.Context, key store.Key, stateSchema, workspace string,
		decide func(owner *store.OwnerRow, state []byte) bool, delete func(ctx context.Context) error) error
}

// OrphanConfig configures Orphans.
type OrphanConfig struct {
	// Base is the SDK configuration of tenantform's own identity.
	Base  awssdk.Config
	Store OrphanStore
	// Mode is ORPHAN_CLEANUP. Default CleanupReport.
	Mode CleanupMode
	// Interval between sweeps. Default DefaultInventoryInterval.
	Interval time.Duration
	// Grace is ORPHAN_GRACE_PERIOD: an orphan is deleted only when a
	// listing at least Grace after the first one that showed it orphaned
	// still shows it so (two listings, whatever Grace is). Default
	// DefaultOrphanGrace.
	Grace time.Duration
	// StateSchema is the pg backend's schema, whose states table is read
	// before deleting: a resource a project's state holds is never an
	// orphan. Default tf.DefaultPGSchema.
	StateSchema string
	// Registerer gets the sweep's metrics. Nil registers none.
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Orphans reports the inventory's resources whose project has no live row
// and, in CleanupDelete mode, deletes them in dependency order. It deletes
// only what is provably nobody's, decided at the moment of deleting:
//   - its tags name its project exactly (ManagedBy=chart-app-platform,
//     UserId, ProjectId);
//   - two listings at least Grace apart showed it orphaned;
//   - under the project's lock (store.Store.SweepOrphan), the project has no
//     row, or a row of another incarnation (another CreatedAt than the
//     resource's tag) that no reconciler holds and that is not being
//     deleted;
//   - its live tags, read again under that lock, are still the listed
//     ManagedBy, UserId, ProjectId and CreatedAt.
type Orphans struct {
	cfg     OrphanConfig
	log     *zap.Logger
	metrics *orphanMetrics

	clientsMu sync.Mutex
	clients   map[string]*serviceClients

	count orphanCount // Count's cache
}

// NewOrphans validates cfg.
func NewOrphans(cfg OrphanConfig) (*Orphans, error) {
	if cfg.Store == nil {
		return nil, errors.New("aws: OrphanConfig.Store is required")
	}
	if cfg.Mode == "" {
		cfg.Mode = CleanupReport
	}
	if _, err := ParseCleanupMode(string(cfg.Mode)); err != nil {
		return nil, fmt.Errorf("aws: OrphanConfig.Mode: %w", err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInventoryInterval
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultOrphanGrace
	}
	if cfg.StateSchema == "" {
		cfg.StateSchema = tf.DefaultPGSchema
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Orphans{cfg: cfg, log: cfg.Logger, metrics: newOrphanMetrics(cfg.Registerer), clients: map[string]*serviceClients{}}, nil
}

// ErrNoInventory: no region has been listed yet, so orphans cannot be told
// apart from an empty account. The API answers it with 501
// InventoryUnavailable (it has InventoryUnavailable() true).
var ErrNoInventory error = noInventoryError{}

type noInventoryError struct{}

func (noInventoryError) Error() string {
	return "the AWS inventory has not been listed yet (a reconciler lists it every INVENTORY_INTERVAL)"
}

func (noInventoryError) InventoryUnavailable() bool { return true }

// Orphan is one entry of GET /api/v1/orphans.
type Orphan struct {
	ARN    string `json:"arn"`
	Type   string `json:"type"`
	Region string `json:"region"`
	// Project is the resource's Project tag; UserID and ProjectID its
	// UserId and ProjectId tags (when it has them).
	Project   string            `json:"project"`
	UserID    string            `json:"userId,omitempty"`
	ProjectID string            `json:"projectId,omitempty"`
	Tags      map[string]string `json:"tags"`
	FirstSeen time.Time         `json:"firstSeen"`
	LastSeen  time.Time         `json:"lastSeen"`
	// Cleanup is what a sweep does with it: "report", "delete", or
	// "unsupported" for a type tenantform does not delete.
	Cleanup string `json:"cleanup"`
}

// List returns the orphans of the stored snapshot; it makes no AWS call
// (an Orphans with only a Store can serve the API). Before the first
// listing it returns ErrNoInventory.
func (o *Orphans) List(ctx context.Context) ([]Orphan, error) {
	items, err := o.find(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Orphan, 0, len(items))
	for _, it := range items {
		cleanup := string(o.cfg.Mode)
		if _, ok := deleters[it.Type]; !ok {
			cleanup = "unsupported"
		}
		out = append(out, Orphan{
			ARN: it.ARN, Type: it.Type, Region: it.Region,
			Project: it.Tags["Project"], UserID: it.Tags["UserId"], ProjectID: it.Tags["ProjectId"],
			Tags: it.Tags, FirstSeen: it.FirstSeen, LastSeen: it.LastSeen, Cleanup: cleanup,
		})
	}
	return out, nil
}

// ListOrphans is List for the API (api.OrphanLister).
func (o *Orphans) ListOrphans(ctx context.Context) (any, error) {
	return o.List(ctx)
}

func (o *Orphans) find(ctx context.Context) ([]store.InventoryItem, error) {
	inv, err := o.cfg.Store.Inventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read the AWS inventory: %w", err)
	}
	if len(inv.ListedAt) == 0 {
		return nil, ErrNoInventory
	}
	live, err := o.cfg.Store.LiveProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read the live projects: %w", err)
	}
	return FindOrphans(inv.Items, live), nil
}

// Removal is one orphan in a sweep's report.
type Removal struct {
	ARN     string `json:"arn"`
	Type    string `json:"type"`
	Region  string `json:"region"`
	Project string `json:"project"`
	// Steps are the calls, in order, that remove it: what a delete sweep
	// does (and did), and what a report-only sweep would do.
	Steps []string `json:"steps,omitempty"`
	// Deleted: every step succeeded and the last one removed the resource
	// (delete mode only).
	Deleted bool `json:"deleted"`
	// AlreadyGone: the resource was not there any more when it was about
	// to be deleted (its owner or another replica removed it first). It
	// is not counted as deleted.
	AlreadyGone bool `json:"alreadyGone,omitempty"`
	// Skipped says why it was left alone (its project owns it, it has not
	// been orphaned for the grace period, its live tags are no longer the
	// listed ones, a type tenantform does not delete).
	Skipped string `json:"skipped,omitempty"`
	// Error is the step that failed; the next sweep tries again.
	Error string `json:"error,omitempty"`
}

// Run sweeps every Interval until ctx ends. Run it after (or beside) the
// inventory refresher: a sweep reads the stored snapshot.
func (o *Orphans) Run(ctx context.Context) error {
	t := time.NewTicker(o.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := o.Sweep(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("orphan sweep failed", zap.Error(err))
		}
	}
}

// Sweep handles every orphan of the snapshot, in dependency order (APIs,
// functions, log groups, tables, buckets, roles). It reports each; in
// CleanupDelete mode it also deletes those that are provably nobody's
// (see Orphans). A failure is recorded in the Removal and the sweep goes
// on; the next sweep retries what is left.
func (o *Orphans) Sweep(ctx context.Context) ([]Removal, error) {
	items, err := o.find(ctx)
	if err != nil {
		return nil, err
	}
	o.metrics.orphans.Set(float64(len(items)))
	arns := make([]string, len(items))
	for i, it := range items {
		arns[i] = it.ARN
	}
	marks, err := o.cfg.Store.MarkOrphans(ctx, arns)
	if err != nil {
		return nil, err
	}
	return o.remove(ctx, items, o.cfg.Mode == CleanupDelete, marks), nil
}

// Delete deletes the given inventory items (a project's strays that its
// configuration does not adopt), whatever the cleanup mode, in dependency
// order. The caller holds the project's lease; each item's live tags are
// read again first and must still be the listed ManagedBy, UserId,
// ProjectId and CreatedAt.
func (o *Orphans) Delete(ctx context.Context, items []store.InventoryItem) []Removal {
	return o.remove(ctx, items, true, nil)
}

// remove handles items in dependency order. marks is nil for a project's
// strays, and the sweep's orphan marks otherwise: then each item is also
// checked against its project's row (sweepOrphan).
func (o *Orphans) remove(ctx context.Context, items []store.InventoryItem, del bool, marks map[string]store.OrphanMark) []Removal {
	items = append([]store.InventoryItem(nil), items...)
	sort.SliceStable(items, func(i, j int) bool {
		return deleteRank(items[i].Type) < deleteRank(items[j].Type)
	})
	out := make([]Removal, 0, len(items))
	for _, it := range items {
		var r Removal
		if marks == nil {
			r = o.removeChecked(ctx, it, del)
		} else {
			r = o.sweepOrphan(ctx, it, del, marks)
		}
		fields := []zap.Field{zap.String("arn", r.ARN), zap.String("project", r.Project), zap.Strings("steps", r.Steps)}
		switch {
		case r.Error != "":
			o.log.Warn("cannot delete a tagged resource", append(fields, zap.String("error", r.Error))...)
		case r.AlreadyGone:
			o.log.Info("tagged resource already gone; not deleted by this sweep", fields...)
		case r.Skipped != "":
			o.log.Info("tagged resource left alone", append(fields, zap.String("reason", r.Skipped))...)
		case r.Deleted:
			o.log.Info("deleted a tagged resource", fields...)
		default:
			o.log.Info("orphaned resource (ORPHAN_CLEANUP=report: not deleted)", fields...)
		}
		out = append(out, r)
	}
	return out
}

// sweepOrphan decides about one orphan at the moment of deleting it, under
// its project's lock, and deletes it (del) or reports what a deletion
// would do.
func (o *Orphans) sweepOrphan(ctx context.Context, it store.InventoryItem, del bool, marks map[string]store.OrphanMark) Removal {
	r := Removal{ARN: it.ARN, Type: it.Type, Region: it.Region, Project: it.Tags["Project"]}
	if _, ok := deleters[it.Type]; !ok {
		r.Skipped = "tenantform does not delete resources of type " + it.Type
		return r
	}
	owner, ok := ownerOf(it.Tags)
	if !ok || owner.key == (store.Key{}) {
		r.Skipped = "its tags do not name its project exactly (UserId and ProjectId): tenantform deletes only what it can prove is nobody's"
		return r
	}
	mark, ok := marks[it.ARN]
	if !ok {
		r.Skipped = "no longer in the inventory"
		return r
	}
	if why := orphanedLongEnough(mark, o.cfg.Grace); why != "" {
		r.Skipped = why
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, orphanDeleteTimeout)
	defer cancel()
	workspace := tf.WorkspaceName(owner.key.UserID, owner.key.ProjectID)
	err := o.cfg.Store.SweepOrphan(ctx, owner.key, o.cfg.StateSchema, workspace, func(row *store.OwnerRow, state []byte) bool {
		if r.Skipped = heldInState(it.ARN, owner.key, state); r.Skipped == "" {
			r.Skipped = ownedBy(it.Tags, owner.key, row)
		}
		return r.Skipped == ""
	}, func(ctx context.Context) error {
		r = o.removeChecked(ctx, it, del)
		return nil
	})
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// orphanedLongEnough says why an orphan must wait ("" when it need not):
// the listing that first showed it orphaned and the newest one must be
// two listings, at least grace apart. Both are database times.
func orphanedLongEnough(m store.OrphanMark, grace time.Duration) string {
	if !m.LastSeen.After(m.ListedAt) || m.LastSeen.Sub(m.ListedAt) < grace {
		return fmt.Sprintf("orphaned since the listing of %s; deleted once a listing at least %s later (ORPHAN_GRACE_PERIOD) still shows it orphaned",
			m.ListedAt.Format(time.RFC3339), grace)
	}
	return ""
}

// heldInState says why the project's terraform state (raw; nil: none)
// keeps the resource at arn ("" when it does not hold it): what a state
// holds is its project's, whatever its tags say (an adopted resource not
// yet re-tagged, a tag update that failed).
func heldInState(arn string, key store.Key, raw []byte) string {
	resources, err := tf.ParseState(raw)
	if err != nil {
		return fmt.Sprintf("the terraform state of project %s cannot be read (%v): it may hold it", key, err)
	}
	for _, r := range resources {
		if r.ARN == arn {
			return fmt.Sprintf("the terraform state of project %s holds it (%s)", key, r.Address)
		}
	}
	return ""
}

// ownedBy says why the project row (nil: none) owns, or may own, the
// resource tagged tags; "" means it is provably nobody's.
func ownedBy(tags map[string]string, key store.Key, row *store.OwnerRow) string {
	switch {
	case row == nil:
		return ""
	case row.Deleting:
		return fmt.Sprintf("project %s is being deleted: its finalizer owns what is left", key)
	}
	_, err := time.Parse(time.RFC3339, tags["CreatedAt"])
	switch {
	case err != nil:
		return fmt.Sprintf("project %s exists and the resource's CreatedAt tag %q is missing or unreadable: it may be the project's", key, tags["CreatedAt"])
	case !otherIncarnation(tags["CreatedAt"], row.CreatedAt):
		// The tag has whole seconds: two incarnations created within one
		// second look alike, and the resource is kept.
		return fmt.Sprintf("project %s (created %s) owns it", key, tags["CreatedAt"])
	case row.Leased:
		return fmt.Sprintf("project %s was re-created (at %s) and a reconciler holds it now; the next sweep decides",
			key, row.CreatedAt.Format(time.RFC3339))
	}
	return ""
}

// removeChecked reads the resource's live tags again and deletes it (del)
// only if they are still the listed platform tags; without del it plans
// the steps a deletion would make.
func (o *Orphans) removeChecked(ctx context.Context, it store.InventoryItem, del bool) Removal {
	r := Removal{ARN: it.ARN, Type: it.Type, Region: it.Region, Project: it.Tags["Project"]}
	d, ok := deleters[it.Type]
	if !ok {
		r.Skipped = "tenantform does not delete resources of type " + it.Type
		return r
	}
	a, _ := ParseARN(it.ARN)
	if q := a.Qualifier(); q != "" {
		// Deleting "its" function would delete the function itself.
		r.Skipped = fmt.Sprintf("it is %s of function %s, not a resource of its own: the function is handled through its own ARN", q, a.name())
		return r
	}
	c := o.clientsFor(it.Region)
	live, err := d.tags(ctx, c, a)
	if isGone(err) {
		r.AlreadyGone = true
		o.metrics.alreadyGone.Inc()
		return r
	}
	if err != nil {
		r.Error = fmt.Sprintf("reading its tags: %v", err)
		return r
	}
	if k, changed := changedOwnerTag(it.Tags, live); changed {
		r.Skipped = fmt.Sprintf("its live %s tag is %q, not the listed %q: it is not the resource that was found orphaned (only ManagedBy=%s resources are ever deleted)",
			k, live[k], it.Tags[k], tf.ManagedByTag)
		return r
	}
	steps, err := d.plan(ctx, c, a)
	if isGone(err) {
		r.AlreadyGone = true
		o.metrics.alreadyGone.Inc()
		return r
	}
	if err != nil {
		r.Error = fmt.Sprintf("planning its deletion: %v", err)
		return r
	}
	for _, s := range steps {
		r.Steps = append(r.Steps, s.what)
	}
	if !del {
		return r
	}
	o.metrics.deletions.Inc()
	for i, s := range steps {
		err := s.do(ctx)
		if isGone(err) && i == len(steps)-1 {
			// The resource itself was not there to delete: someone else
			// did it, and it is not counted (or logged) as deleted twice.
			r.AlreadyGone = true
			o.metrics.alreadyGone.Inc()
			return r
		}
		if err != nil && !isGone(err) {
			o.metrics.failures.Inc()
			r.Error = fmt.Sprintf("%s: %v", s.what, err)
			return r
		}
	}
	r.Deleted = true
	o.metrics.deleted.Inc()
	return r
}

// ownerTags are the tags that say whose a resource is; a resource whose
// live values differ from the listed ones is not the one that was judged.
var ownerTags = []string{"ManagedBy", "UserId", "ProjectId", "CreatedAt"}

// changedOwnerTag returns the first owner tag whose live value differs
// from the listed one. A listed tag must also be tenantform's
// ManagedBy: a forged inventory entry cannot make another platform's
// resource deletable.
func changedOwnerTag(listed, live map[string]string) (string, bool) {
	if listed["ManagedBy"] != tf.ManagedByTag {
		return "ManagedBy", true
	}
	for _, k := range ownerTags {
		if listed[k] != live[k] {
			return k, true
		}
	}
	return "", false
}

// isGone reports whether err says the resource does not exist (any more).
func isGone(err error) bool {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "NoSuchBucket", "ResourceNotFoundException", "NoSuchEntity", "NotFoundException", "NotFound":
		return true
	}
	return strings.HasSuffix(api.ErrorCode(), "NotFound")
}
