package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// Defaults of InventoryConfig.
const (
	// DefaultInventoryInterval is INVENTORY_INTERVAL's default: how stale
	// the picture of what exists in AWS may get.
	DefaultInventoryInterval = 5 * time.Minute
	// DefaultPageSize is GetResources' largest page.
	DefaultPageSize = 100
)

// InventoryStore is the slice of the store the refresher writes to.
type InventoryStore interface {
	ReplaceInventory(ctx context.Context, region string, items []store.InventoryItem) (time.Time, error)
	FreshInventoryRegions(ctx context.Context, within time.Duration) ([]string, error)
}

// InventoryConfig configures a Refresher.
type InventoryConfig struct {
	// Base is the SDK configuration of tenantform's own identity; its
	// retryer should be the adaptive one (LoadConfig).
	Base awssdk.Config
	// Regions are listed, each with one paginated listing (the allowed
	// regions, AWS_ALLOWED_REGIONS).
	Regions []string
	// Store keeps the snapshot.
	Store InventoryStore
	// Interval between listings (INVENTORY_INTERVAL). Default 5 min.
	Interval time.Duration
	// PageSize is GetResources' ResourcesPerPage (1-100). Default 100.
	PageSize int
	// IAMPathPrefix bounds the IAM roles listed (inventory_iam.go): in
	// role mode every tenant role lives under /tenantform/. Default
	// DefaultIAMPathPrefix, every role.
	IAMPathPrefix string
	// Registerer gets the refresher's metrics. Nil registers none.
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Refresher keeps the tagged inventory in the store: every Interval it
// lists, in every region, all resources tagged ManagedBy=chart-app-platform
// (one listing for all projects) and replaces the region's snapshot.
type Refresher struct {
	cfg     InventoryConfig
	clients map[string]*tagging.Client
	// iam lists the roles, with the listing of iamRegion.
	iam       *iam.Client
	iamRegion string
	// lastRoles is the last IAM listing that succeeded, kept for a listing
	// whose IAM part fails (rolesMu guards it).
	rolesMu   sync.Mutex
	lastRoles []store.InventoryItem
	log       *zap.Logger
	metrics   *inventoryMetrics
}

// NewRefresher validates cfg and builds one Tagging API client per region.
func NewRefresher(cfg InventoryConfig) (*Refresher, error) {
	if len(cfg.Regions) == 0 {
		return nil, errors.New("aws: InventoryConfig.Regions is empty")
	}
	if cfg.Store == nil {
		return nil, errors.New("aws: InventoryConfig.Store is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInventoryInterval
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 1 || cfg.PageSize > DefaultPageSize {
		return nil, fmt.Errorf("aws: InventoryConfig.PageSize %d is outside 1-100", cfg.PageSize)
	}
	if cfg.IAMPathPrefix == "" {
		cfg.IAMPathPrefix = DefaultIAMPathPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	r := &Refresher{cfg: cfg, clients: map[string]*tagging.Client{}, log: cfg.Logger,
		metrics: newInventoryMetrics(cfg.Registerer, cfg.Regions), iamRegion: iamRegion(cfg)}
	for _, region := range cfg.Regions {
		r.clients[region] = tagging.NewFromConfig(forRegion(cfg.Base, region))
	}
	r.iam = iam.NewFromConfig(forRegion(cfg.Base, r.iamRegion))
	return r, nil
}

// Run refreshes what is due at once and then every Interval until ctx
// ends (RefreshDue). A failed
// listing is logged and tried again at the next tick: the previous
// snapshot stays, and its listing time tells readers how old it is.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.RefreshDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("cannot refresh the AWS inventory", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RefreshDue lists the regions no replica has listed in the last half
// interval (Run calls it): several reconcilers then still make about one
// listing per region and interval, not one each.
func (r *Refresher) RefreshDue(ctx context.Context) error {
	fresh, err := r.cfg.Store.FreshInventoryRegions(ctx, r.cfg.Interval/2)
	if err != nil {
		return fmt.Errorf("cannot read when the inventory was listed: %w", err)
	}
	var due []string
	for _, region := range r.cfg.Regions {
		if !slices.Contains(fresh, region) {
			due = append(due, region)
		}
	}
	return r.refresh(ctx, due)
}

// Refresh lists every region now and stores each complete listing. A
// region that fails keeps its previous snapshot; the others are stored.
func (r *Refresher) Refresh(ctx context.Context) error {
	return r.refresh(ctx, r.cfg.Regions)
}

func (r *Refresher) refresh(ctx context.Context, regions []string) error {
	var errs []error
	for _, region := range regions {
		start := time.Now()
		r.metrics.listings.WithLabelValues(region).Inc()
		items, err := r.List(ctx, region)
		if err == nil {
			_, err = r.cfg.Store.ReplaceInventory(ctx, region, items)
		}
		if err != nil {
			r.metrics.failures.WithLabelValues(region).Inc()
			errs = append(errs, err)
			continue
		}
		r.metrics.resources.WithLabelValues(region).Set(float64(len(items)))
		r.metrics.duration.WithLabelValues(region).Observe(time.Since(start).Seconds())
		r.log.Debug("listed the AWS inventory", zap.String("region", region),
			zap.Int("resources", len(items)), zap.Duration("took", time.Since(start)))
	}
	return errors.Join(errs...)
}

// List returns every resource of region tagged ManagedBy=chart-app-platform,
// through all pages of GetResources, and with the IAM region's listing
// the tagged IAM roles (inventory_iam.go).
func (r *Refresher) List(ctx context.Context, region string) ([]store.InventoryItem, error) {
	client, ok := r.clients[region]
	if !ok {
		return nil, fmt.Errorf("region %s is not one of the inventory's regions", region)
	}
	p := tagging.NewGetResourcesPaginator(client, &tagging.GetResourcesInput{
		TagFilters:       []taggingtypes.TagFilter{{Key: awssdk.String("ManagedBy"), Values: []string{tf.ManagedByTag}}},
		ResourcesPerPage: awssdk.Int32(int32(r.cfg.PageSize)),
	})
	var items []store.InventoryItem
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("cannot list the tagged resources of %s: %w", region, classify(err, ""))
		}
		for _, m := range page.ResourceTagMappingList {
			// Log group ARNs may carry a ":*" suffix.
			arn := strings.TrimSuffix(awssdk.ToString(m.ResourceARN), ":*")
			tags := make(map[string]string, len(m.Tags))
			for _, t := range m.Tags {
				tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
			}
			items = append(items, store.InventoryItem{ARN: arn, Type: ResourceType(arn), Region: region, Tags: tags})
		}
	}
	if region == r.iamRegion {
		// A listing replaces the region's rows, roles included: one
		// whose roles are missing would drop them all, make every project
		// holding a role due twice (gone, then back) and restart the
		// orphans' grace period. So a failed IAM listing keeps the last
		// good one (none before the first), and the rest of the region's
		// listing still counts.
		items = append(items, r.roles(ctx, region)...)
	}
	return items, nil
}

// roles lists the IAM roles for region's listing, or, when IAM cannot be
// read, returns the last roles it listed.
func (r *Refresher) roles(ctx context.Context, region string) []store.InventoryItem {
	r.rolesMu.Lock()
	defer r.rolesMu.Unlock()
	roles, err := listRoles(ctx, r.iam, r.cfg.IAMPathPrefix, region)
	if err != nil {
		r.log.Warn("cannot list the IAM roles: keeping the last listing's", zap.Int("roles", len(r.lastRoles)), zap.Error(err))
		return r.lastRoles
	}
	r.lastRoles = roles
	return roles
}
