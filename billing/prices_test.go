package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/billing"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func tier(usd, unit string) awstest.PriceTier {
	return awstest.PriceTier{BeginRange: "0", USD: usd, Unit: unit}
}

// addPriceList fills fake with a small but realistic price list: us-east-1
// usage types without a prefix, eu-west-1's with "EU-", DynamoDB's free
// tiers before the paid ones, an API Gateway cache size, and products the
// estimator does not use (Lambda@Edge, Glacier, 150 S3 data-transfer
// products so that S3 takes two pages).
func addPriceList(fake *awstest.Billing) {
	for _, r := range []struct{ region, prefix, rcu string }{{"us-east-1", "", "0.00013"}, {"eu-west-1", "EU-", "0.000147"}} {
		fake.AddProduct("AmazonDynamoDB", r.region, r.prefix+"ReadCapacityUnit-Hrs", nil,
			awstest.PriceTier{BeginRange: "0", EndRange: "18600", USD: "0.0000000000", Unit: "ReadCapacityUnit-Hrs"},
			awstest.PriceTier{BeginRange: "18600", USD: r.rcu, Unit: "ReadCapacityUnit-Hrs"})
		fake.AddProduct("AmazonDynamoDB", r.region, r.prefix+"WriteCapacityUnit-Hrs", nil,
			awstest.PriceTier{BeginRange: "0", EndRange: "18600", USD: "0.0000000000", Unit: "WriteCapacityUnit-Hrs"},
			awstest.PriceTier{BeginRange: "18600", USD: "0.000735", Unit: "WriteCapacityUnit-Hrs"})
		fake.AddProduct("AmazonDynamoDB", r.region, r.prefix+"TimedStorage-ByteHrs", nil,
			awstest.PriceTier{BeginRange: "0", EndRange: "25", USD: "0", Unit: "GB-Mo"},
			awstest.PriceTier{BeginRange: "25", USD: "0.2830000000", Unit: "GB-Mo"})
		fake.AddProduct("AmazonDynamoDB", r.region, r.prefix+"IA-TimedStorage-ByteHrs", nil, tier("0.1", "GB-Mo"))
		fake.AddProduct("AWSLambda", r.region, r.prefix+"Request", nil, tier("0.0000002000", "Requests"))
		fake.AddProduct("AWSLambda", r.region, r.prefix+"Lambda-Edge-Request", nil, tier("0.0000006000", "Requests"))
		fake.AddProduct("AmazonApiGateway", r.region, r.prefix+"ApiGatewayCacheUsage:1.6GB", map[string]string{"cacheMemorySizeGb": "1.6"}, tier("0.0420000000", "Hrs"))
		fake.AddProduct("AmazonS3", r.region, r.prefix+"TimedStorage-ByteHrs", nil,
			awstest.PriceTier{BeginRange: "0", EndRange: "51200", USD: "0.0240000000", Unit: "GB-Mo"},
			awstest.PriceTier{BeginRange: "51200", USD: "0.0230000000", Unit: "GB-Mo"})
		fake.AddProduct("AmazonS3", r.region, r.prefix+"TimedStorage-GlacierByteHrs", nil, tier("0.004", "GB-Mo"))
		for i := range 150 {
			fake.AddProduct("AmazonS3", r.region, fmt.Sprintf("%sDataTransfer-Out-%d", r.prefix, i), nil, tier("0.09", "GB"))
		}
	}
}

func newService(t *testing.T, fake *awstest.Billing, st billing.Store, clock *fakeClock, regions ...string) *billing.Service {
	t.Helper()
	svc, err := billing.New(billing.Config{Base: fake.Config("eu-central-1"), Regions: regions, Store: st,
		ActualCostInterval: -1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestPricesAreFetchedPerServiceAndRegionAndCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	addPriceList(fake)
	// Priced per 1,000 requests where the estimator expects per request:
	// 1,000× the built-in price, so it is not used.
	fake.AddProduct("AmazonS3", "us-east-1", "Requests-Tier1", nil, tier("0.005", "Requests"))
	st := openStore(t)
	clock := &fakeClock{now: time.Now()}
	svc := newService(t, fake, st, clock, "us-east-1", "eu-west-1")

	if err := svc.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Prices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Price{
		{Region: "eu-west-1", Dimension: "apigateway.cache-hours.1.6", USD: 0.042, UsageType: "EU-ApiGatewayCacheUsage:1.6GB"},
		{Region: "eu-west-1", Dimension: "dynamodb.rcu-hours", USD: 0.000147, UsageType: "EU-ReadCapacityUnit-Hrs"},
		{Region: "eu-west-1", Dimension: "dynamodb.storage", USD: 0.283, UsageType: "EU-TimedStorage-ByteHrs"},
		{Region: "eu-west-1", Dimension: "dynamodb.wcu-hours", USD: 0.000735, UsageType: "EU-WriteCapacityUnit-Hrs"},
		{Region: "eu-west-1", Dimension: "lambda.requests", USD: 0.0000002, UsageType: "EU-Request"},
		{Region: "eu-west-1", Dimension: "s3.storage", USD: 0.024, UsageType: "EU-TimedStorage-ByteHrs"},
		{Region: "us-east-1", Dimension: "apigateway.cache-hours.1.6", USD: 0.042, UsageType: "ApiGatewayCacheUsage:1.6GB"},
		{Region: "us-east-1", Dimension: "dynamodb.rcu-hours", USD: 0.00013, UsageType: "ReadCapacityUnit-Hrs"},
		{Region: "us-east-1", Dimension: "dynamodb.storage", USD: 0.283, UsageType: "TimedStorage-ByteHrs"},
		{Region: "us-east-1", Dimension: "dynamodb.wcu-hours", USD: 0.000735, UsageType: "WriteCapacityUnit-Hrs"},
		{Region: "us-east-1", Dimension: "lambda.requests", USD: 0.0000002, UsageType: "Request"},
		{Region: "us-east-1", Dimension: "s3.storage", USD: 0.024, UsageType: "TimedStorage-ByteHrs"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.Price{}, "FetchedAt")); diff != "" {
		t.Errorf("stored prices (-want +got):\n%s", diff)
	}
	if _, _, ok := svc.Prices().UnitPrice("us-east-1", cost.S3Tier1Requests); ok {
		t.Error("an implausible price (1,000× the built-in one) is used")
	}

	// One query per service and region, plus S3's second page; all to the
	// Price List API in us-east-1 whatever the client's region, filtered
	// on the service code and the region code.
	calls := fake.Calls("GetProducts")
	if len(calls) != 2*(len(billing.ServiceCodes())+1) {
		t.Errorf("%d GetProducts calls, want %d (5 services × 2 regions + 2 second pages)", len(calls), 2*(len(billing.ServiceCodes())+1))
	}
	pages := map[string]int{}
	for _, c := range calls {
		if c.Attempts > 1 {
			// The SDK sent the same call again after a broken connection
			// (awstest.Billing.Config): still one call.
			t.Logf("GetProducts %s took %d HTTP attempts", c.Body, c.Attempts)
		}
		if c.Service != "pricing" || c.Region != billing.PricingRegion {
			t.Errorf("GetProducts signed for %s in %s, want pricing in us-east-1", c.Service, c.Region)
		}
		var in struct {
			ServiceCode, NextToken string
			Filters                []struct{ Type, Field, Value string }
		}
		if err := json.Unmarshal(c.Body, &in); err != nil {
			t.Fatal(err)
		}
		if len(in.Filters) != 1 || in.Filters[0].Type != "TERM_MATCH" || in.Filters[0].Field != "regionCode" {
			t.Errorf("GetProducts filters = %+v, want one TERM_MATCH on regionCode", in.Filters)
		}
		pages[in.ServiceCode+"/"+in.Filters[0].Value]++
	}
	if pages["AmazonS3/eu-west-1"] != 2 || pages["AWSLambda/us-east-1"] != 1 {
		t.Errorf("pages per service and region = %v; want 2 for S3 (151 products), 1 for the others", pages)
	}

	// The cache answers as the estimator's source.
	usd, source, ok := svc.Prices().UnitPrice("eu-west-1", cost.DynamoDBReadCapacity)
	if !ok || usd != 0.000147 || source != billing.SourceName(got[0].FetchedAt) {
		t.Errorf("cache: %v %q %v; want 0.000147 from %q", usd, source, ok, billing.SourceName(got[0].FetchedAt))
	}
	if !strings.HasPrefix(source, "aws-pricing-api (fetched 20") {
		t.Errorf("source %q does not name the API and the fetch date", source)
	}

	// Another replica within the interval fetches nothing: it loads what
	// the first stored.
	other := newService(t, fake, st, clock, "us-east-1", "eu-west-1")
	if err := other.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Calls("GetProducts")); n != len(calls) {
		t.Errorf("a second replica made %d more GetProducts calls, want 0", n-len(calls))
	}
	if other.Prices().Len() != len(want) {
		t.Errorf("second replica's cache holds %d prices, want %d", other.Prices().Len(), len(want))
	}
}

// dynamoTable is a provisioned table of 5 RCU and 5 WCU.
var dynamoTable = tf.PlannedResource{Address: "aws_dynamodb_table.t", Type: "aws_dynamodb_table",
	Values: map[string]any{"billing_mode": "PROVISIONED", "read_capacity": 5.0, "write_capacity": 5.0}}

func TestEstimateLineSaysItsSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	addPriceList(fake)
	st := openStore(t)
	svc := newService(t, fake, st, &fakeClock{now: time.Now()}, "eu-west-1")
	est := cost.NewEstimator()
	est.Source = svc.Prices()

	// Before any fetch: the built-in table, and the line says so.
	// 5 × 730 × 0.00013 × 1.1 + 5 × 730 × 0.00065 × 1.1 + 0.25 × 1.1 → 3.41.
	before := est.Estimate("eu-west-1", []tf.PlannedResource{dynamoTable}).Lines[0]
	if before.Source != cost.BuiltInSource || before.MonthlyUSD != 3.41 {
		t.Errorf("before fetching: %v USD from %q, want 3.41 from %q", before.MonthlyUSD, before.Source, cost.BuiltInSource)
	}
	if err := svc.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	// 5 × 730 × 0.000147 = 0.53655; 5 × 730 × 0.000735 = 2.68275;
	// 1 GB × 0.283: 3.5023 → 3.51.
	after := est.Estimate("eu-west-1", []tf.PlannedResource{dynamoTable}).Lines[0]
	prices, _ := st.Prices(ctx)
	want := cost.Line{Address: "aws_dynamodb_table.t", Type: "aws_dynamodb_table", MonthlyUSD: 3.51,
		Basis:  "provisioned: 5 RCU × 730 h × $0.000147 + 5 WCU × 730 h × $0.000735 + 1 GB-month storage (assumed) × $0.283",
		Source: billing.SourceName(prices[0].FetchedAt)}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("after fetching (-want +got):\n%s", diff)
	}
}

func TestPricesFallBackWhenTheAPIFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := awstest.NewBilling(t)
	addPriceList(fake)
	st := openStore(t)
	clock := &fakeClock{now: time.Now()}
	svc := newService(t, fake, st, clock, "us-east-1")
	est := cost.NewEstimator()
	est.Source = svc.Prices()

	// No permission for the Price List API: an error, nothing stored, and
	// estimates from the built-in table.
	fake.FailNext("GetProducts", "AccessDeniedException", "User is not authorized to perform: pricing:GetProducts", http.StatusBadRequest)
	err := svc.RefreshDue(ctx)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("RefreshDue with GetProducts denied = %v, want the AccessDenied error", err)
	}
	line := est.Estimate("us-east-1", []tf.PlannedResource{dynamoTable}).Lines[0]
	if line.Source != cost.BuiltInSource || line.MonthlyUSD != 3.1 {
		t.Errorf("after a failed fetch: %v USD from %q, want 3.1 from the built-in table", line.MonthlyUSD, line.Source)
	}

	// The failure is not retried at every wake-up, but after an hour.
	calls := len(fake.Calls("GetProducts"))
	clock.now = clock.now.Add(59 * time.Minute)
	if err := svc.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Calls("GetProducts")); n != calls {
		t.Errorf("%d GetProducts calls within the hour after a failure, want 0", n-calls)
	}
	clock.now = clock.now.Add(2 * time.Minute)
	if err := svc.RefreshDue(ctx); err != nil {
		t.Fatal(err)
	}
	line = est.Estimate("us-east-1", []tf.PlannedResource{dynamoTable}).Lines[0]
	if !strings.HasPrefix(line.Source, "aws-pricing-api") {
		t.Errorf("after the retry: Source %q, want the API's", line.Source)
	}

	// A later failure keeps the prices fetched before.
	fake.FailNext("GetProducts", "InternalErrorException", "boom", http.StatusInternalServerError)
	if err := svc.RefreshPrices(ctx); err == nil {
		t.Fatal("RefreshPrices with GetProducts failing returned nil")
	}
	if again := est.Estimate("us-east-1", []tf.PlannedResource{dynamoTable}).Lines[0]; again != line {
		t.Errorf("after a failed refresh the line changed:\n%+v\nwas\n%+v", again, line)
	}
}
