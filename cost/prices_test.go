package cost

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var approx = cmpopts.EquateApprox(1e-12, 0)

func TestPriceLookup(t *testing.T) {
	var p PriceTable
	got, ok := p.Price("us-east-1", LambdaRequests)
	if !ok || got != 0.0000002 {
		t.Errorf("built-in us-east-1 Lambda request price = %v, %v", got, ok)
	}
	got, _ = p.Price("us-west-1", LambdaRequests)
	if diff := cmp.Diff(0.0000002*1.15, got, approx); diff != "" {
		t.Errorf("us-west-1 price (-want +got):\n%s", diff)
	}
	if _, ok := p.Price("us-east-1", Dimension("no.such.dimension")); ok {
		t.Error("a dimension the table does not know has a price")
	}
	for _, d := range Dimensions() {
		if v, ok := p.Price(BaseRegion, d); !ok || v <= 0 {
			t.Errorf("%s: built-in price %v, %v", d, v, ok)
		}
	}
}

// TestOverrides is how the Pricing API client will feed real prices in.
func TestOverrides(t *testing.T) {
	e := NewEstimator()
	fn := res("aws_api_gateway_rest_api", nil)

	// A new us-east-1 price moves every derived region with it.
	if err := e.Prices.Set(APIGatewayRESTRequests, 0.000004); err != nil {
		t.Fatal(err)
	}
	if got := estimateOne(t, e, "us-east-1", fn).MonthlyUSD; got != 4.00 {
		t.Errorf("us-east-1 after Set: $%v, want $4.00", got)
	}
	if got := estimateOne(t, e, "us-west-1", fn).MonthlyUSD; got != 4.60 {
		t.Errorf("us-west-1 after Set: $%v, want 4.00 × 1.15 = $4.60", got)
	}

	// An exact regional price is used as is, without the multiplier.
	if err := e.Prices.SetRegional("us-west-1", APIGatewayRESTRequests, 0.0000037); err != nil {
		t.Fatal(err)
	}
	line := estimateOne(t, e, "us-west-1", fn)
	if diff := cmp.Diff(Line{
		Address: "aws_api_gateway_rest_api.x", Type: "aws_api_gateway_rest_api", MonthlyUSD: 3.70,
		Basis: "assumed 1,000,000 requests/month: 1,000,000 requests × $0.0000037",
	}, line); diff != "" {
		t.Errorf("line with a regional price (-want +got):\n%s", diff)
	}

	// A multiplier for a region the built-in list lacks.
	if err := e.Prices.SetRegionMultiplier("me-central-1", 2); err != nil {
		t.Fatal(err)
	}
	if got := estimateOne(t, e, "me-central-1", fn).MonthlyUSD; got != 8.00 {
		t.Errorf("me-central-1 × 2: $%v, want $8.00", got)
	}

	// Nonsense from a price feed is refused, and leaves the table alone.
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := e.Prices.Set(APIGatewayRESTRequests, bad); err == nil {
			t.Errorf("Set(%v) accepted", bad)
		}
		if err := e.Prices.SetRegional("us-west-1", APIGatewayRESTRequests, bad); err == nil {
			t.Errorf("SetRegional(%v) accepted", bad)
		}
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := e.Prices.SetRegionMultiplier("us-west-1", bad); err == nil {
			t.Errorf("SetRegionMultiplier(%v) accepted", bad)
		}
	}
	if got, _ := e.Prices.Price("us-east-1", APIGatewayRESTRequests); got != 0.000004 {
		t.Errorf("price after refused updates = %v", got)
	}
}

func TestClone(t *testing.T) {
	var a PriceTable
	if err := a.Set(S3Storage, 0.03); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRegional("eu-west-1", S3Storage, 0.024); err != nil {
		t.Fatal(err)
	}
	b := a.Clone()
	if err := b.Set(S3Storage, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRegional("eu-west-1", S3Storage, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRegionMultiplier("us-east-2", 3); err != nil {
		t.Fatal(err)
	}
	got := []float64{}
	for _, r := range []string{"us-east-1", "eu-west-1", "us-east-2"} {
		v, _ := a.Price(r, S3Storage)
		got = append(got, v)
	}
	if diff := cmp.Diff([]float64{0.03, 0.024, 0.03}, got, approx); diff != "" {
		t.Errorf("original after changing the clone (-want +got):\n%s", diff)
	}
}
