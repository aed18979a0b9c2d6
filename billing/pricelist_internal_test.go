package billing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
)

// item builds a price list document with one on-demand term.
func item(t *testing.T, attrs map[string]string, dims ...map[string]any) string {
	t.Helper()
	pd := map[string]any{}
	for i, d := range dims {
		pd[string(rune('a'+i))] = d
	}
	b, err := json.Marshal(map[string]any{
		"product": map[string]any{"attributes": attrs},
		"terms":   map[string]any{"OnDemand": map[string]any{"T": map[string]any{"priceDimensions": pd}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func usd(begin, price string) map[string]any {
	return map[string]any{"beginRange": begin, "pricePerUnit": map[string]string{"USD": price}}
}

func TestParseProduct(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code, region string
		doc                string
		want               store.Price
		ok                 bool
		err                string
	}{{
		name: "us-east-1 without prefix", code: "AWSLambda", region: "us-east-1",
		doc:  item(t, map[string]string{"usagetype": "Request", "regionCode": "us-east-1"}, usd("0", "0.0000002000")),
		want: store.Price{Region: "us-east-1", Dimension: string(cost.LambdaRequests), USD: 0.0000002, UsageType: "Request"}, ok: true,
	}, {
		name: "USE1 prefix (CloudWatch writes it even in us-east-1)", code: "AmazonCloudWatch", region: "us-east-1",
		doc:  item(t, map[string]string{"usagetype": "USE1-DataProcessing-Bytes"}, usd("0", "0.50")),
		want: store.Price{Region: "us-east-1", Dimension: string(cost.LogsIngestStandard), USD: 0.5, UsageType: "USE1-DataProcessing-Bytes"}, ok: true,
	}, {
		name: "EU prefix, case differs", code: "AWSLambda", region: "eu-west-1",
		doc:  item(t, map[string]string{"usagetype": "EU-Lambda-Storage-Gb-Second"}, usd("0", "0.0000000309")),
		want: store.Price{Region: "eu-west-1", Dimension: string(cost.LambdaEphemeralStorage), USD: 0.0000000309, UsageType: "EU-Lambda-Storage-Gb-Second"}, ok: true,
	}, {
		name: "ARM duration is its own dimension", code: "AWSLambda", region: "us-east-2",
		doc:  item(t, map[string]string{"usagetype": "USE2-Lambda-GB-Second-ARM"}, usd("0", "0.0000133334")),
		want: store.Price{Region: "us-east-2", Dimension: string(cost.LambdaDurationARM), USD: 0.0000133334, UsageType: "USE2-Lambda-GB-Second-ARM"}, ok: true,
	}, {
		name: "free tier skipped, lowest paid tier taken", code: "AmazonDynamoDB", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "TimedStorage-ByteHrs"},
			usd("25", "0.25"), usd("0", "0.00"), usd("1000000", "0.1")),
		want: store.Price{Region: "us-east-1", Dimension: string(cost.DynamoDBStorage), USD: 0.25, UsageType: "TimedStorage-ByteHrs"}, ok: true,
	}, {
		name: "API Gateway cache by its size attribute", code: "AmazonApiGateway", region: "us-east-1",
		doc:  item(t, map[string]string{"usagetype": "ApiGatewayCacheUsage:0.5GB", "cacheMemorySizeGb": "0.5"}, usd("0", "0.02")),
		want: store.Price{Region: "us-east-1", Dimension: string(cost.APIGatewayCache("0.5")), USD: 0.02, UsageType: "ApiGatewayCacheUsage:0.5GB"}, ok: true,
	}, {
		name: "a cache size the estimator does not know", code: "AmazonApiGateway", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "ApiGatewayCacheUsage:999GB", "cacheMemorySizeGb": "999"}, usd("0", "9")),
	}, {
		name: "Lambda@Edge is not Request", code: "AWSLambda", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "Lambda-Edge-Request"}, usd("0", "0.0000006")),
	}, {
		name: "IA table storage is not Standard", code: "AmazonDynamoDB", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "IA-TimedStorage-ByteHrs"}, usd("0", "0.1")),
	}, {
		name: "another region's product", code: "AWSLambda", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "EU-Request", "regionCode": "eu-west-1"}, usd("0", "0.0000002")),
	}, {
		name: "only free tiers", code: "AmazonDynamoDB", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "ReadCapacityUnit-Hrs"}, usd("0", "0")),
	}, {
		name: "not JSON", code: "AWSLambda", region: "us-east-1", doc: "{", err: "not a price list product",
	}, {
		name: "not a number", code: "AWSLambda", region: "us-east-1",
		doc: item(t, map[string]string{"usagetype": "Request"}, usd("0", "cheap")), err: `price "cheap" is not a USD amount`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseProduct(tt.code, tt.region, tt.doc)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (got %+v)", ok, tt.ok, got)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("price (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlausible(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		region string
		d      cost.Dimension
		usd    float64
		want   bool
	}{
		{"us-east-1", cost.LambdaRequests, 0.0000002, true},
		{"sa-east-1", cost.LambdaRequests, 0.00000034, true},
		{"us-east-1", cost.LambdaRequests, 0.2, false},          // per million read as per request
		{"us-east-1", cost.S3Storage, 0.023 / 1e9, false},       // per byte read as per GB
		{"us-east-1", cost.DynamoDBReadRequests, 0.25e-6, true}, // the pre-2024 price, 2× today's
	} {
		if got := plausible(tt.region, tt.d, tt.usd); got != tt.want {
			t.Errorf("plausible(%s, %s, %g) = %v, want %v", tt.region, tt.d, tt.usd, got, tt.want)
		}
	}
}
