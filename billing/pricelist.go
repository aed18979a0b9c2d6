package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
)

// PricingRegion is where the Price List API is served (it has two
// endpoints, us-east-1 and ap-south-1, each with every region's prices).
const PricingRegion = "us-east-1"

// usageTypes maps, per Price List service code, a product's usagetype (its
// region prefix removed) to the estimator's dimension. A dimension missing
// here or from the answer keeps its built-in price. Usage types are
// matched without regard to case (AWS is not consistent: "Gb"/"GB").
var usageTypes = map[string]map[string]cost.Dimension{
	"AWSLambda": {
		"Request":                  cost.LambdaRequests,
		"Lambda-GB-Second":         cost.LambdaDurationX86,
		"Lambda-GB-Second-ARM":     cost.LambdaDurationARM,
		"Lambda-Storage-GB-Second": cost.LambdaEphemeralStorage,
	},
	"AmazonApiGateway": {
		"ApiGatewayRequest":     cost.APIGatewayRESTRequests,
		"ApiGatewayHttpRequest": cost.APIGatewayHTTPRequests,
		"ApiGatewayMessage":     cost.APIGatewayWebSocketMessages,
		"ApiGatewayMinute":      cost.APIGatewayWebSocketMinutes,
	},
	"AmazonS3": {
		"TimedStorage-ByteHrs": cost.S3Storage,
		"Requests-Tier1":       cost.S3Tier1Requests,
		"Requests-Tier2":       cost.S3Tier2Requests,
	},
	"AmazonDynamoDB": {
		"ReadCapacityUnit-Hrs":     cost.DynamoDBReadCapacity,
		"WriteCapacityUnit-Hrs":    cost.DynamoDBWriteCapacity,
		"ReadRequestUnits":         cost.DynamoDBReadRequests,
		"WriteRequestUnits":        cost.DynamoDBWriteRequests,
		"TimedStorage-ByteHrs":     cost.DynamoDBStorage,
		"TimedPITRStorage-ByteHrs": cost.DynamoDBPITRStorage,
	},
	"AmazonCloudWatch": {
		"DataProcessing-Bytes":   cost.LogsIngestStandard,
		"DataProcessingIA-Bytes": cost.LogsIngestInfrequent,
		"TimedStorage-ByteHrs":   cost.LogsStorage,
	},
}

// dimensionOf returns the dimension a product of service code with
// usage type (region prefix included) prices.
func dimensionOf(code, usage string) (cost.Dimension, bool) {
	bare := regionPrefix.ReplaceAllString(usage, "")
	for u, d := range usageTypes[code] {
		if strings.EqualFold(u, bare) {
			return d, true
		}
	}
	return "", false
}

// maxDeviation bounds how far a fetched price may stray from the built-in
// one (times or divided by): regions and price changes stay well inside
// it, while a misread unit (per million instead of per request, bytes
// instead of GB) lands far outside. Such a price is not used.
const maxDeviation = 10

// plausible reports whether usd is within maxDeviation of the built-in
// price of d in region.
func plausible(region string, d cost.Dimension, usd float64) bool {
	builtIn, ok := cost.PriceTable{}.Price(region, d)
	if !ok || builtIn == 0 {
		return true
	}
	return usd >= builtIn/maxDeviation && usd <= builtIn*maxDeviation
}

// cacheSizeAttribute names the API Gateway cache size of a cache product
// ("0.5", "1.6", …), which prices cost.APIGatewayCache(size).
const cacheSizeAttribute = "cacheMemorySizeGb"

// ServiceCodes are the Price List services queried, sorted.
func ServiceCodes() []string {
	codes := make([]string, 0, len(usageTypes))
	for c := range usageTypes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// regionPrefix is the region part of a usagetype: "EU-" (eu-west-1),
// "USE2-", "APN1-", …; us-east-1's usage types mostly have none.
var regionPrefix = regexp.MustCompile(`^(EU|[A-Z]{3}[0-9])-`)

// priceListItem is one element of GetProducts' PriceList: a JSON document
// in a string.
type priceListItem struct {
	Product struct {
		Attributes map[string]string `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				BeginRange   string            `json:"beginRange"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// Fetched is the Price List API's answer for one region.
type Fetched struct {
	// Prices are the usable prices, sorted by dimension.
	Prices []store.Price
	// Implausible are prices more than maxDeviation away from the built-in
	// ones, left out (the built-in price stays).
	Implausible []store.Price
}

// FetchPrices returns the prices of region's dimensions from the Price
// List API: for each service, GetProducts filtered on the service code and
// the region code, through all pages. A product whose usage type the
// estimator does not use is skipped; a service that fails fails the whole
// region, so that a partial answer never replaces a complete one.
func FetchPrices(ctx context.Context, client *pricing.Client, region string) (Fetched, error) {
	found := map[cost.Dimension]store.Price{}
	for _, code := range ServiceCodes() {
		p := pricing.NewGetProductsPaginator(client, &pricing.GetProductsInput{
			ServiceCode:   awssdk.String(code),
			FormatVersion: awssdk.String("aws_v1"),
			Filters: []pricingtypes.Filter{
				{Type: pricingtypes.FilterTypeTermMatch, Field: awssdk.String("regionCode"), Value: awssdk.String(region)},
			},
			MaxResults: awssdk.Int32(100),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return Fetched{}, fmt.Errorf("cannot get the %s prices of %s from the AWS Price List API: %w", code, region, err)
			}
			for i, doc := range page.PriceList {
				price, ok, err := parseProduct(code, region, doc)
				if err != nil {
					return Fetched{}, fmt.Errorf("%s price list item %d of %s: %w", code, i, region, err)
				}
				// Several products can map to one dimension; the
				// higher price errs on the safe side of a ceiling.
				if old, seen := found[cost.Dimension(price.Dimension)]; ok && (!seen || price.USD > old.USD) {
					found[cost.Dimension(price.Dimension)] = price
				}
			}
		}
	}
	var out Fetched
	for _, d := range slices.Sorted(maps.Keys(found)) {
		if p := found[d]; plausible(region, d, p.USD) {
			out.Prices = append(out.Prices, p)
		} else {
			out.Implausible = append(out.Implausible, p)
		}
	}
	return out, nil
}

// parseProduct reads one PriceList item of service code. ok is false for
// a product the estimator does not use.
func parseProduct(code, region, doc string) (store.Price, bool, error) {
	var item priceListItem
	if err := json.Unmarshal([]byte(doc), &item); err != nil {
		return store.Price{}, false, fmt.Errorf("not a price list product: %w", err)
	}
	attrs := item.Product.Attributes
	if rc, ok := attrs["regionCode"]; ok && rc != region {
		return store.Price{}, false, nil
	}
	usage := attrs["usagetype"]
	dim, ok := dimensionOf(code, usage)
	if size, isCache := attrs[cacheSizeAttribute]; code == "AmazonApiGateway" && isCache {
		dim, ok = cost.APIGatewayCache(size), slices.Contains(cost.Dimensions(), cost.APIGatewayCache(size))
	}
	if !ok {
		return store.Price{}, false, nil
	}
	usd, ok, err := listPrice(item)
	if err != nil || !ok {
		return store.Price{}, false, err
	}
	return store.Price{Region: region, Dimension: string(dim), USD: usd, UsageType: usage}, true, nil
}

// listPrice is the on-demand USD price of the lowest tier that is not free.
// Free tiers (DynamoDB's first 25 capacity units, its first 25 GB) belong
// to the account, not to a project, as in the built-in table; later, cheaper
// tiers are volumes no single project reaches.
func listPrice(item priceListItem) (float64, bool, error) {
	best, bestBegin, found := 0.0, 0.0, false
	for _, term := range item.Terms.OnDemand {
		for _, pd := range term.PriceDimensions {
			s, ok := pd.PricePerUnit["USD"]
			if !ok {
				continue
			}
			usd, err := strconv.ParseFloat(s, 64)
			if err != nil || usd < 0 {
				return 0, false, fmt.Errorf("price %q is not a USD amount", s)
			}
			begin, err := strconv.ParseFloat(pd.BeginRange, 64)
			if err != nil {
				begin = 0
			}
			if usd > 0 && (!found || begin < bestBegin) {
				best, bestBegin, found = usd, begin, true
			}
		}
	}
	return best, found, nil
}
