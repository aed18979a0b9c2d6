package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/billing"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/notify"
	"github.com/tenantform/tenantform/store"
)

// Wiring of the services around the API and the reconciler: AWS
// (credentials, inventory, orphans), metrics and notifications.

// awsServices is tenantform's side of AWS. All fields are nil when no AWS
// identity is available (a laptop without credentials): tenant runs then
// get no AWS credentials and the inventory is off.
type awsServices struct {
	creds     *aws.Credentials
	refresher *aws.Refresher
	orphans   *aws.Orphans
	// billing fetches prices and actual costs; nil against the emulator,
	// which has neither API.
	billing *billing.Service
}

// newAWSServices builds the AWS services from the SDK's default chain (and
// AWS_ROLE_ARN when set). An identity the chain cannot produce is not an
// error: it is logged, and AWS stays off.
//
// static, when not nil, replaces the default chain (dev mode's emulator).
// reg receives the STS, inventory and cleanup metrics.
func newAWSServices(ctx context.Context, cfg Config, st *store.Store, static awssdk.CredentialsProvider, reg prometheus.Registerer, log *zap.Logger) (*awsServices, error) {
	sdk := aws.SDKOptions{Region: cfg.AWSRegion, EndpointURL: cfg.AWSEndpointURL, Credentials: static}
	// Whether the chain yields an identity is asked quietly: without one,
	// the SDK's warnings about the instance metadata service are noise.
	quiet := sdk
	quiet.Quiet = true
	probeCfg, err := aws.LoadConfig(ctx, quiet)
	if err != nil {
		return nil, err
	}
	probe, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, credErr := probeCfg.Credentials.Retrieve(probe)
	cancel()
	if credErr != nil {
		log.Warn("no AWS credentials found (SDK default chain): tenant runs get none, and the tagged inventory is off",
			zap.String("hint", "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and AWS_ROLE_ARN"))
		return &awsServices{}, nil
	}
	base, err := aws.LoadConfig(ctx, sdk)
	if err != nil {
		return nil, err
	}
	creds, err := aws.NewCredentials(aws.CredentialsConfig{Base: base, RoleARN: cfg.AWSRoleARN, ExternalID: cfg.AWSExternalID,
		Registerer: reg, Logger: log.Named("aws")})
	if err != nil {
		return nil, err
	}
	own := aws.ServiceConfig(base, cfg.AWSRoleARN, cfg.AWSExternalID, cfg.AWSSessionName)
	iamPath := aws.DefaultIAMPathPrefix
	if cfg.AWSRoleARN != "" {
		iamPath = "/tenantform/" // role mode: every tenant role lives under it (policy.IAMPath)
	}
	refresher, err := aws.NewRefresher(aws.InventoryConfig{Base: own, Regions: cfg.AWSAllowedRegions, Store: st,
		Interval: cfg.InventoryInterval, IAMPathPrefix: iamPath, Registerer: reg, Logger: log.Named("inventory")})
	if err != nil {
		return nil, err
	}
	orphans, err := aws.NewOrphans(aws.OrphanConfig{Base: own, Store: st, Mode: cfg.OrphanCleanup,
		Interval: cfg.InventoryInterval, Grace: cfg.OrphanGracePeriod, Registerer: reg, Logger: log.Named("orphans")})
	if err != nil {
		return nil, err
	}
	var bill *billing.Service
	if static == nil {
		bill, err = billing.New(billing.Config{Base: own, Regions: cfg.AWSAllowedRegions, Store: st,
			PricesInterval: cfg.PricingRefreshInterval, ActualCostInterval: cfg.CostExplorerInterval,
			Registerer: reg, Logger: log.Named("billing")})
		if err != nil {
			return nil, err
		}
	}
	log.Info("AWS configured", zap.Bool("assumes_role", cfg.AWSRoleARN != ""),
		zap.Strings("regions", cfg.AWSAllowedRegions), zap.String("orphan_cleanup", string(cfg.OrphanCleanup)))
	return &awsServices{creds: creds, refresher: refresher, orphans: orphans, billing: bill}, nil
}

// priceSource is the estimator's source of fetched prices, or nil (the
// built-in table alone) without AWS.
func (a *awsServices) priceSource() cost.PriceSource {
	if a == nil || a.billing == nil {
		return nil
	}
	return a.billing.Prices()
}

// start runs the inventory refresher, the orphan sweep and billing (prices
// and actual costs) until ctx ends.
func (a *awsServices) start(ctx context.Context) {
	if a == nil || a.refresher == nil {
		return
	}
	go a.refresher.Run(ctx)
	go a.orphans.Run(ctx)
	if a.billing != nil {
		go a.billing.Run(ctx)
	}
}

// orphanCounts feeds the orphaned and stray resource metrics.
type orphanCounts struct {
	orphans *aws.Orphans
	st      *store.Store
}

func (o orphanCounts) ResourceCounts(ctx context.Context) (orphaned, stray int, err error) {
	orphaned, err = o.orphans.Count(ctx)
	if errors.Is(err, aws.ErrNoInventory) {
		return 0, 0, nil // nothing listed yet: nothing known to be orphaned
	}
	if err != nil {
		return 0, 0, err
	}
	stray, err = o.st.StrayProjects(ctx)
	return orphaned, stray, err
}

// newStateCollector is the state metrics collector every process serves.
func newStateCollector(cfg Config, st *store.Store, a *awsServices, log *zap.Logger) *metrics.State {
	sc := metrics.StateConfig{MaxSeries: cfg.MetricsMaxSeries, DefaultMaxResources: cfg.MaxResourcesPerUser,
		BudgetUSD: cfg.AWSCostBudgetLimitUSD, MaxAge: cfg.MetricsStateMaxAge, Logger: log.Named("metrics")}
	if a != nil && a.orphans != nil {
		sc.Inventory = orphanCounts{orphans: a.orphans, st: st}
	}
	return metrics.NewState(st, sc)
}

// newNotifier is the notification service, or nil when no channel is
// configured.
func newNotifier(cfg Config, st *store.Store, log *zap.Logger) (*notify.Service, error) {
	nc := notify.Config{WebhookURL: cfg.AlertWebhookURL, WebhookSecret: cfg.AlertWebhookSecret, Email: cfg.AlertEmail,
		SMTPURL: cfg.SMTPURL, BudgetUSD: cfg.AWSCostBudgetLimitUSD, DefaultMaxResources: cfg.MaxResourcesPerUser,
		ExpiryWarning: cfg.AlertExpiryWarning, Logger: log.Named("notify")}
	if !nc.Enabled() {
		return nil, nil
	}
	if err := nc.Validate(); err != nil {
		return nil, err
	}
	return notify.New(nc, st)
}

// serveMetrics serves scrape (metrics.Handler) at /metrics on METRICS_PORT
// (the reconciler has no API) until ctx ends. A taken port fails start-up.
func serveMetrics(ctx context.Context, cfg Config, scrape http.Handler, log *zap.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", scrape)
	srv, err := listenHTTP(net.JoinHostPort("", strconv.Itoa(cfg.MetricsPort)), "METRICS_PORT", mux, time.Second, log.Named("metrics"))
	if err != nil {
		return err
	}
	log.Info("metrics listening", zap.Int("port", srv.Addr().Port))
	go srv.Serve(ctx)
	return nil
}

// orphanLister is what GET /api/v1/orphans serves: nil (501) without AWS.
func (a *awsServices) orphanLister() api.OrphanLister {
	if a == nil || a.orphans == nil {
		return nil
	}
	return a.orphans
}
