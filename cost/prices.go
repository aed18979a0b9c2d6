package cost

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// BaseRegion is the region whose list prices the built-in table holds.
// Other regions are derived from it (see PriceTable).
const BaseRegion = "us-east-1"

// Dimension names one priced unit of one AWS service, such as a Lambda
// request or a DynamoDB write capacity unit-hour.
//
// A dimension's price is in USD per single unit (per request, per GB-second,
// per GB-month, per capacity-unit-hour), not per million: that is how the
// AWS Price List API quotes most of them, so a price-list client can copy
// figures into a PriceTable without rescaling.
type Dimension string

// The dimensions the estimator uses. docs/cost.md lists each with its
// built-in price; a test keeps the two in step.
const (
	// LambdaRequests is one invocation.
	LambdaRequests Dimension = "lambda.requests"
	// LambdaDurationX86 is one GB-second of compute on x86_64.
	LambdaDurationX86 Dimension = "lambda.duration.x86_64"
	// LambdaDurationARM is one GB-second of compute on arm64 (Graviton),
	// about 20% cheaper than x86_64.
	LambdaDurationARM Dimension = "lambda.duration.arm64"
	// LambdaEphemeralStorage is one GB-second of /tmp beyond the free 512 MB.
	LambdaEphemeralStorage Dimension = "lambda.ephemeral-storage"

	// APIGatewayRESTRequests is one request to a v1 REST API.
	APIGatewayRESTRequests Dimension = "apigateway.rest.requests"
	// APIGatewayHTTPRequests is one request to a v2 HTTP API.
	APIGatewayHTTPRequests Dimension = "apigateway.http.requests"
	// APIGatewayWebSocketMessages is one message on a v2 WebSocket API.
	APIGatewayWebSocketMessages Dimension = "apigateway.websocket.messages"
	// APIGatewayWebSocketMinutes is one connection-minute on a v2
	// WebSocket API.
	APIGatewayWebSocketMinutes Dimension = "apigateway.websocket.connection-minutes"

	// S3Storage is one GB-month of S3 Standard storage.
	S3Storage Dimension = "s3.storage"
	// S3Tier1Requests is one PUT, COPY, POST or LIST request.
	S3Tier1Requests Dimension = "s3.requests.tier1"
	// S3Tier2Requests is one GET, SELECT or other read request.
	S3Tier2Requests Dimension = "s3.requests.tier2"

	// DynamoDBReadCapacity is one provisioned read capacity unit for an hour.
	DynamoDBReadCapacity Dimension = "dynamodb.rcu-hours"
	// DynamoDBWriteCapacity is one provisioned write capacity unit for an hour.
	DynamoDBWriteCapacity Dimension = "dynamodb.wcu-hours"
	// DynamoDBReadRequests is one on-demand read request unit.
	DynamoDBReadRequests Dimension = "dynamodb.read-request-units"
	// DynamoDBWriteRequests is one on-demand write request unit.
	DynamoDBWriteRequests Dimension = "dynamodb.write-request-units"
	// DynamoDBStorage is one GB-month of table storage (Standard class).
	DynamoDBStorage Dimension = "dynamodb.storage"
	// DynamoDBPITRStorage is one GB-month of continuous backup, charged when
	// point-in-time recovery is enabled.
	DynamoDBPITRStorage Dimension = "dynamodb.pitr-storage"

	// LogsIngestStandard is one GB ingested into a Standard log group.
	LogsIngestStandard Dimension = "logs.ingest.standard"
	// LogsIngestInfrequent is one GB ingested into an Infrequent Access
	// log group.
	LogsIngestInfrequent Dimension = "logs.ingest.infrequent-access"
	// LogsStorage is one GB-month of archived log storage.
	LogsStorage Dimension = "logs.storage"
)

// APIGatewayCache is one hour of a REST API stage cache of the given size in
// GB, as the provider spells cache_cluster_size ("0.5", "1.6", … "237").
func APIGatewayCache(sizeGB string) Dimension {
	return Dimension("apigateway.cache-hours." + sizeGB)
}

// apiGatewayCacheSizes are the sizes API Gateway offers, smallest first.
var apiGatewayCacheSizes = []string{"0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"}

// listPrices are us-east-1 on-demand list prices in USD per unit. Free tiers
// are left out on purpose: they belong to an AWS account, not to a project,
// and are used up by the first few projects anyway.
var listPrices = map[Dimension]float64{
	LambdaRequests:         0.0000002,    // $0.20 per million
	LambdaDurationX86:      0.0000166667, // per GB-second
	LambdaDurationARM:      0.0000133334,
	LambdaEphemeralStorage: 0.0000000309, // per GB-second above 512 MB

	APIGatewayRESTRequests:      0.0000035,  // $3.50 per million (first 333 M)
	APIGatewayHTTPRequests:      0.000001,   // $1.00 per million (first 300 M)
	APIGatewayWebSocketMessages: 0.000001,   // $1.00 per million
	APIGatewayWebSocketMinutes:  0.00000025, // $0.25 per million
	APIGatewayCache("0.5"):      0.02,       // per hour
	APIGatewayCache("1.6"):      0.038,
	APIGatewayCache("6.1"):      0.2,
	APIGatewayCache("13.5"):     0.25,
	APIGatewayCache("28.4"):     0.5,
	APIGatewayCache("58.2"):     1,
	APIGatewayCache("118"):      1.9,
	APIGatewayCache("237"):      3.8,

	S3Storage:       0.023,     // per GB-month, first 50 TB
	S3Tier1Requests: 0.000005,  // $0.005 per 1,000
	S3Tier2Requests: 0.0000004, // $0.0004 per 1,000

	DynamoDBReadCapacity:  0.00013,     // per RCU-hour
	DynamoDBWriteCapacity: 0.00065,     // per WCU-hour
	DynamoDBReadRequests:  0.000000125, // $0.125 per million (since Nov 2024)
	DynamoDBWriteRequests: 0.000000625, // $0.625 per million (since Nov 2024)
	DynamoDBStorage:       0.25,        // per GB-month
	DynamoDBPITRStorage:   0.2,         // per GB-month

	LogsIngestStandard:   0.5,  // per GB
	LogsIngestInfrequent: 0.25, // per GB
	LogsStorage:          0.03, // per GB-month
}

// regionMultipliers scale us-east-1 prices to other regions. They are coarse
// (one figure for all services, rounded up so that the estimate errs high);
// exact per-region prices set with SetRegional take precedence.
var regionMultipliers = map[string]float64{
	"us-east-1":      1,
	"us-east-2":      1,
	"us-west-2":      1,
	"us-west-1":      1.15,
	"ca-central-1":   1.1,
	"eu-west-1":      1.1,
	"eu-west-2":      1.15,
	"eu-west-3":      1.15,
	"eu-central-1":   1.15,
	"eu-north-1":     1.05,
	"ap-south-1":     1.1,
	"ap-southeast-1": 1.15,
	"ap-southeast-2": 1.2,
	"ap-northeast-1": 1.2,
	"ap-northeast-2": 1.15,
	"sa-east-1":      1.5,
}

// Dimensions returns every dimension the estimator prices, sorted: the list
// a price-list client has to fill.
func Dimensions() []Dimension {
	return slices.Sorted(maps.Keys(listPrices))
}

// PriceTable holds the unit price of every Dimension, per region.
//
// The zero PriceTable prices with the built-in us-east-1 list prices and the
// built-in region multipliers. Three kinds of override sit on top, and this
// is how the AWS Pricing (Price List) API client feeds real prices into the
// same table the estimator reads:
//
//   - Set replaces a us-east-1 price, which other regions then derive from
//     with their multiplier;
//   - SetRegional sets the exact price of one dimension in one region, used
//     as is (no multiplier);
//   - SetRegionMultiplier sets or replaces a region's multiplier.
//
// Lookup order for (region, dimension): SetRegional price, else us-east-1
// price (Set, else built-in) × region multiplier (SetRegionMultiplier, else
// built-in, else 1 for a region the table knows nothing about).
//
// A PriceTable holds maps: copies share overrides (use Clone), and it must
// not be changed while another goroutine estimates with it. To refresh
// prices in a running process, build a new table and swap the Estimator.
type PriceTable struct {
	base        map[Dimension]float64
	regional    map[string]map[Dimension]float64
	multipliers map[string]float64
}

func checkPrice(usd float64) error {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
		return fmt.Errorf("price %v: must be a finite number ≥ 0", usd)
	}
	return nil
}

// Set replaces the us-east-1 price of d, in USD per unit.
func (t *PriceTable) Set(d Dimension, usd float64) error {
	if err := checkPrice(usd); err != nil {
		return fmt.Errorf("cost: %s: %w", d, err)
	}
	if t.base == nil {
		t.base = map[Dimension]float64{}
	}
	t.base[d] = usd
	return nil
}

// SetRegional sets the exact price of d in region, in USD per unit. It wins
// over the region multiplier.
func (t *PriceTable) SetRegional(region string, d Dimension, usd float64) error {
	if err := checkPrice(usd); err != nil {
		return fmt.Errorf("cost: %s in %s: %w", d, region, err)
	}
	if t.regional == nil {
		t.regional = map[string]map[Dimension]float64{}
	}
	if t.regional[region] == nil {
		t.regional[region] = map[Dimension]float64{}
	}
	t.regional[region][d] = usd
	return nil
}

// SetRegionMultiplier sets the factor applied to us-east-1 prices in region.
func (t *PriceTable) SetRegionMultiplier(region string, m float64) error {
	if math.IsNaN(m) || math.IsInf(m, 0) || m <= 0 {
		return fmt.Errorf("cost: multiplier %v for %s: must be a finite number > 0", m, region)
	}
	if t.multipliers == nil {
		t.multipliers = map[string]float64{}
	}
	t.multipliers[region] = m
	return nil
}

// RegionMultiplier returns the factor applied to us-east-1 prices in region,
// and whether the table knows the region at all (an unknown region is
// priced as us-east-1, factor 1).
func (t PriceTable) RegionMultiplier(region string) (float64, bool) {
	if m, ok := t.multipliers[region]; ok {
		return m, true
	}
	if m, ok := regionMultipliers[region]; ok {
		return m, true
	}
	return 1, false
}

// Price returns the unit price of d in region, and false when the table has
// no price for d.
func (t PriceTable) Price(region string, d Dimension) (float64, bool) {
	p, _, ok := t.price(region, d)
	return p, ok
}

// price is Price plus the multiplier it applied (0 when the price was an
// exact regional one), so that a line's Basis can say how it was derived.
func (t PriceTable) price(region string, d Dimension) (usd, multiplier float64, ok bool) {
	if p, ok := t.regional[region][d]; ok {
		return p, 0, true
	}
	p, ok := t.base[d]
	if !ok {
		p, ok = listPrices[d]
	}
	if !ok {
		return 0, 0, false
	}
	m, _ := t.RegionMultiplier(region)
	return p * m, m, true
}

// Clone returns a copy whose overrides can change independently.
func (t PriceTable) Clone() PriceTable {
	c := PriceTable{
		base:        maps.Clone(t.base),
		multipliers: maps.Clone(t.multipliers),
	}
	if t.regional != nil {
		c.regional = make(map[string]map[Dimension]float64, len(t.regional))
		for r, m := range t.regional {
			c.regional[r] = maps.Clone(m)
		}
	}
	return c
}
