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

// OrphanStore is the slice of the store orphan handling reads.
type OrphanStore interface {
	Inventory(ctx context.Context) (store.Inventory, error)
	LiveProjectKeys(ctx context.Context) ([]store.Key, error)
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
	// Registerer gets the sweep's metrics. Nil registers none.
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Orphans reports the inventory's resources whose project has no live row
// and, in CleanupDelete mode, deletes them in dependency order. Before
// anything is deleted its live tags are read again: a resource is only
// ever deleted while it carries ManagedBy=chart-app-platform and names the
// same project, still not live.
type Orphans struct {
	cfg     OrphanConfig
	log     *zap.Logger
	metrics *orphanMetrics

	clientsMu sync.Mutex
	clients   map[string]*serviceClients
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
	live, err := o.cfg.Store.LiveProjectKeys(ctx)
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
	// Deleted: every step succeeded (delete mode only).
	Deleted bool `json:"deleted"`
	// Skipped says why it was left alone (live tags no longer
	// tenantform's, already gone, a type tenantform does not delete).
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
// CleanupDelete mode it also deletes them. A failure is recorded in the
// Removal and the sweep goes on; the next sweep retries what is left.
func (o *Orphans) Sweep(ctx context.Context) ([]Removal, error) {
	items, err := o.find(ctx)
	if err != nil {
		return nil, err
	}
	o.metrics.orphans.Set(float64(len(items)))
	return o.remove(ctx, items, o.cfg.Mode == CleanupDelete), nil
}

// Delete deletes the given inventory items (a project's strays that its
// configuration does not adopt), whatever the cleanup mode, in dependency
// order and with the same safety as a sweep: each item's live tags must
// still say ManagedBy=chart-app-platform and name the project its
// inventory tags name.
func (o *Orphans) Delete(ctx context.Context, items []store.InventoryItem) []Removal {
	return o.remove(ctx, items, true)
}

func (o *Orphans) remove(ctx context.Context, items []store.InventoryItem, del bool) []Removal {
	items = append([]store.InventoryItem(nil), items...)
	sort.SliceStable(items, func(i, j int) bool {
		return deleteRank(items[i].Type) < deleteRank(items[j].Type)
	})
	out := make([]Removal, 0, len(items))
	for _, it := range items {
		r := o.sweepOne(ctx, it, del)
		fields := []zap.Field{zap.String("arn", r.ARN), zap.String("project", r.Project), zap.Strings("steps", r.Steps)}
		switch {
		case r.Error != "":
			o.log.Warn("cannot delete a tagged resource", append(fields, zap.String("error", r.Error))...)
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

func (o *Orphans) sweepOne(ctx context.Context, it store.InventoryItem, del bool) Removal {
	r := Removal{ARN: it.ARN, Type: it.Type, Region: it.Region, Project: it.Tags["Project"]}
	d, ok := deleters[it.Type]
	if !ok {
		r.Skipped = "tenantform does not delete resources of type " + it.Type
		return r
	}
	a, _ := ParseARN(it.ARN)
	c := o.clientsFor(it.Region)
	live, err := d.tags(ctx, c, a)
	if isGone(err) {
		r.Skipped = "already gone"
		return r
	}
	if err != nil {
		r.Error = fmt.Sprintf("reading its tags: %v", err)
		return r
	}
	want, _ := ownerOf(it.Tags)
	if got, ok := ownerOf(live); !ok || got != want {
		r.Skipped = "its tags no longer mark it as this project's and tenantform's (ManagedBy=chart-app-platform)"
		return r
	}
	steps, err := d.plan(ctx, c, a)
	if isGone(err) {
		r.Skipped = "already gone"
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
	for _, s := range steps {
		if err := s.do(ctx); err != nil && !isGone(err) {
			o.metrics.failures.Inc()
			r.Error = fmt.Sprintf("%s: %v", s.what, err)
			return r
		}
	}
	r.Deleted = true
	return r
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
