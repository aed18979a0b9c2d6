package main

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/store"
)

// awsServices are tenantform's AWS parts, configured from the environment:
// per-project credentials for terraform, the inventory refresher and the
// orphan sweep.
type awsServices struct {
	// Credentials gives each project's terraform its own session
	// (Credentials.ForProject).
	Credentials *aws.Credentials
	Inventory   *aws.Refresher
	Orphans     *aws.Orphans
}

// newAWSServices builds the AWS parts. base is the SDK configuration of
// tenantform's own identity; nil loads it from the default chain (dev
// mode's emulator passes its own).
func newAWSServices(ctx context.Context, cfg Config, base *awssdk.Config, st *store.Store, reg prometheus.Registerer, log *zap.Logger) (*awsServices, error) {
	var b awssdk.Config
	if base != nil {
		b = *base
	} else {
		var err error
		if b, err = aws.LoadConfig(ctx, aws.SDKOptions{Region: cfg.AWSRegion, EndpointURL: cfg.AWSEndpointURL}); err != nil {
			return nil, err
		}
	}
	creds, err := aws.NewCredentials(aws.CredentialsConfig{
		Base: b, RoleARN: cfg.AWSRoleARN, ExternalID: cfg.AWSExternalID,
		Registerer: reg, Logger: log.Named("aws"),
	})
	if err != nil {
		return nil, err
	}
	// The inventory and the cleanup run as tenantform itself.
	own := aws.ServiceConfig(b, cfg.AWSRoleARN, cfg.AWSExternalID, cfg.AWSSessionName)
	inv, err := aws.NewRefresher(aws.InventoryConfig{
		Base: own, Regions: cfg.AWSAllowedRegions, Store: st, Interval: cfg.InventoryInterval,
		Registerer: reg, Logger: log.Named("inventory"),
	})
	if err != nil {
		return nil, err
	}
	orphans, err := aws.NewOrphans(aws.OrphanConfig{
		Base: own, Store: st, Mode: cfg.OrphanCleanup, Interval: cfg.InventoryInterval,
		Registerer: reg, Logger: log.Named("orphans"),
	})
	if err != nil {
		return nil, err
	}
	return &awsServices{Credentials: creds, Inventory: inv, Orphans: orphans}, nil
}

// Run lists the inventory every INVENTORY_INTERVAL and sweeps orphans
// after it, until ctx ends. A reconciler runs it.
func (s *awsServices) Run(ctx context.Context) error {
	var g errgroup.Group
	g.Go(func() error { return s.Inventory.Run(ctx) })
	g.Go(func() error { return s.Orphans.Run(ctx) })
	return g.Wait()
}

// orphanReport serves GET /api/v1/orphans from the stored inventory: it
// needs no AWS access, so every API process can answer, and answers 501
// until a reconciler has listed the inventory once.
func orphanReport(cfg Config, st *store.Store) *aws.Orphans {
	o, err := aws.NewOrphans(aws.OrphanConfig{Store: st, Mode: cfg.OrphanCleanup})
	if err != nil {
		// Only a bad mode fails, and the configuration has checked it.
		panic(err)
	}
	return o
}
