package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// Defaults of Config.
const (
	// DefaultPricesInterval is PRICING_REFRESH_INTERVAL's default: AWS
	// changes list prices a few times a year, and the Price List API
	// publishes them daily at most.
	DefaultPricesInterval = 24 * time.Hour
	// DefaultActualCostInterval is COST_EXPLORER_INTERVAL's default. Cost
	// Explorer updates its data about three times a day and charges $0.01
	// per request, so more often buys nothing.
	DefaultActualCostInterval = 6 * time.Hour
	// retryAfterFailure bounds how soon a failed refresh is tried again,
	// so a missing permission makes one warning an hour, not one a wake-up.
	retryAfterFailure = time.Hour
	// maxWake is the longest the service sleeps: how stale a replica's
	// in-memory prices may get after another replica refreshed them.
	maxWake = 15 * time.Minute
)

// Refresh kinds, as metric labels.
const (
	kindPrices      = "prices"
	kindActualCosts = "actual_costs"
)

// Store is the slice of the store the service reads and writes.
type Store interface {
	PriceReader
	ReplacePrices(ctx context.Context, region string, prices []store.Price) (time.Time, error)
	ReplaceActualCosts(ctx context.Context, month time.Time, costs map[string]float64) error
	RefreshedWithin(ctx context.Context, kind string, within time.Duration) (bool, error)
}

// Config configures a Service.
type Config struct {
	// Base is the SDK configuration of tenantform's own identity, which
	// needs pricing:GetProducts and ce:GetCostAndUsage. Both APIs are
	// called in us-east-1 whatever its region; its endpoint URL, when set,
	// is used as is (tests, an emulator).
	Base awssdk.Config
	// Regions whose prices are fetched (AWS_ALLOWED_REGIONS).
	Regions []string
	Store   Store
	// Prices is the cache the estimator reads; the service fills it.
	// Nil makes one (Service.Prices).
	Prices *PriceCache
	// PricesInterval is how old fetched prices may get before they are
	// fetched again (PRICING_REFRESH_INTERVAL). Default 24 h.
	PricesInterval time.Duration
	// ActualCostInterval is how old the month-to-date actual costs may get
	// (COST_EXPLORER_INTERVAL). Default 6 h; negative turns Cost Explorer
	// off.
	ActualCostInterval time.Duration
	// Now is the clock: it picks the Cost Explorer month and spaces
	// retries. Default time.Now.
	Now func() time.Time
	// Registerer gets the service's metrics. Nil registers none.
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Service keeps the fetched prices and the actual costs in the store, and
// the prices in the cache, fresh. Several replicas may run it: a refresh
// another replica did within the interval (by the database's clock) is not
// repeated, and each replica reloads its cache from the store.
type Service struct {
	cfg     Config
	pricing *pricing.Client
	ce      *costexplorer.Client
	log     *zap.Logger
	metrics *serviceMetrics

	// Earliest next attempts after a failure (Run's goroutine only).
	nextPrices, nextActual time.Time
}

// New validates cfg and builds the Price List and Cost Explorer clients.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("billing: Config.Store is required")
	}
	if len(cfg.Regions) == 0 {
		return nil, errors.New("billing: Config.Regions is empty")
	}
	if cfg.Prices == nil {
		cfg.Prices = &PriceCache{}
	}
	if cfg.PricesInterval <= 0 {
		cfg.PricesInterval = DefaultPricesInterval
	}
	if cfg.ActualCostInterval == 0 {
		cfg.ActualCostInterval = DefaultActualCostInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	inUSEast1 := func(o *pricing.Options) { o.Region = PricingRegion }
	return &Service{
		cfg:     cfg,
		pricing: pricing.NewFromConfig(cfg.Base, inUSEast1),
		ce:      costexplorer.NewFromConfig(cfg.Base, func(o *costexplorer.Options) { o.Region = PricingRegion }),
		log:     cfg.Logger,
		metrics: newServiceMetrics(cfg.Registerer, cfg.Prices),
	}, nil
}

// Prices is the cache the service fills: the estimator's cost.PriceSource.
func (s *Service) Prices() *PriceCache { return s.cfg.Prices }

// Run loads the cache, refreshes what is due, and wakes again every few
// minutes (at most maxWake) until ctx ends. Failures are logged and
// retried: estimates meanwhile use the prices they have.
func (s *Service) Run(ctx context.Context) error {
	wake := min(maxWake, s.cfg.PricesInterval/2)
	if s.cfg.ActualCostInterval > 0 {
		wake = min(wake, s.cfg.ActualCostInterval/2)
	}
	t := time.NewTicker(wake)
	defer t.Stop()
	for {
		if err := s.RefreshDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("billing refresh failed; estimates keep the prices they have", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RefreshDue refreshes the prices and the actual costs when no replica did
// within their intervals and no failure is being waited out, then reloads
// the cache from the store.
func (s *Service) RefreshDue(ctx context.Context) error {
	var errs []error
	now := s.cfg.Now()
	if due, err := s.due(ctx, store.RefreshPrices, s.cfg.PricesInterval, s.nextPrices, now); err != nil {
		errs = append(errs, err)
	} else if due {
		if err := s.RefreshPrices(ctx); err != nil {
			s.nextPrices = now.Add(min(retryAfterFailure, s.cfg.PricesInterval))
			errs = append(errs, err)
		}
	}
	if s.cfg.ActualCostInterval > 0 {
		if due, err := s.due(ctx, store.RefreshActualCosts, s.cfg.ActualCostInterval, s.nextActual, now); err != nil {
			errs = append(errs, err)
		} else if due {
			if err := s.RefreshActualCosts(ctx); err != nil {
				s.nextActual = now.Add(min(retryAfterFailure, s.cfg.ActualCostInterval))
				errs = append(errs, err)
			}
		}
	}
	if err := s.cfg.Prices.Load(ctx, s.cfg.Store); err != nil {
		errs = append(errs, fmt.Errorf("cannot load the fetched prices: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Service) due(ctx context.Context, kind string, interval time.Duration, next, now time.Time) (bool, error) {
	if now.Before(next) {
		return false, nil
	}
	fresh, err := s.cfg.Store.RefreshedWithin(ctx, kind, interval)
	if err != nil {
		return false, fmt.Errorf("cannot read when the %s were last refreshed: %w", kind, err)
	}
	return !fresh, nil
}

// RefreshPrices fetches every region's prices now, stores each region that
// answered completely (a region that fails keeps what it had) and reloads
// the cache.
func (s *Service) RefreshPrices(ctx context.Context) error {
	s.metrics.attempts.WithLabelValues(kindPrices).Inc()
	var errs []error
	for _, region := range s.cfg.Regions {
		fetched, err := FetchPrices(ctx, s.pricing, region)
		if err == nil {
			_, err = s.cfg.Store.ReplacePrices(ctx, region, fetched.Prices)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range fetched.Implausible {
			s.log.Warn("AWS price far from the built-in one, not used (a usage type whose unit the mapping misreads?)",
				zap.String("region", region), zap.String("dimension", p.Dimension),
				zap.String("usage_type", p.UsageType), zap.Float64("usd", p.USD))
		}
		s.log.Info("fetched AWS prices", zap.String("region", region), zap.Int("prices", len(fetched.Prices)),
			zap.Int("implausible", len(fetched.Implausible)))
	}
	if err := s.cfg.Prices.Load(ctx, s.cfg.Store); err != nil {
		errs = append(errs, fmt.Errorf("cannot load the fetched prices: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		s.metrics.failures.WithLabelValues(kindPrices).Inc()
		return err
	}
	return nil
}

// RefreshActualCosts asks Cost Explorer once for the month-to-date cost of
// every project and stores the answer.
func (s *Service) RefreshActualCosts(ctx context.Context) error {
	s.metrics.attempts.WithLabelValues(kindActualCosts).Inc()
	now := s.cfg.Now()
	costs, err := FetchActualCosts(ctx, s.ce, now)
	if err == nil {
		err = s.cfg.Store.ReplaceActualCosts(ctx, now, costs)
	}
	if err != nil {
		s.metrics.failures.WithLabelValues(kindActualCosts).Inc()
		return err
	}
	s.log.Info("fetched month-to-date actual costs", zap.Int("projects", len(costs)))
	return nil
}

// serviceMetrics are the service's Prometheus series.
type serviceMetrics struct {
	attempts *prometheus.CounterVec
	failures *prometheus.CounterVec
}

func newServiceMetrics(reg prometheus.Registerer, cache *PriceCache) *serviceMetrics {
	m := &serviceMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_billing_refreshes_total",
			Help: "Refreshes of AWS prices (Price List API) and actual costs (Cost Explorer) attempted, by kind.",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantform_billing_refresh_failures_total",
			Help: "Refreshes of AWS prices and actual costs that failed, by kind; a failed price region keeps its previous prices.",
		}, []string{"kind"}),
	}
	for _, k := range []string{kindPrices, kindActualCosts} {
		m.attempts.WithLabelValues(k)
		m.failures.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.failures, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tenantform_aws_prices_fetched",
			Help: "Unit prices from the AWS Price List API in this process's cache; 0 means every estimate uses the built-in table.",
		}, func() float64 { return float64(cache.Len()) }))
	}
	return m
}
