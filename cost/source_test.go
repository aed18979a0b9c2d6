package cost

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mapSource is a PriceSource of fixed prices for one region.
type mapSource struct {
	region string
	prices map[Dimension]float64
}

func (s mapSource) UnitPrice(region string, d Dimension) (float64, string, bool) {
	p, ok := s.prices[d]
	if region != s.region || !ok {
		return 0, "", false
	}
	return p, "aws-pricing-api (fetched 2026-11-30)", true
}

// TestSourcePricesFirstAndLinesSayWhichSource: a Source's prices win over
// the table, a dimension it lacks falls back to the table, and every line
// says where its prices came from.
func TestSourcePricesFirstAndLinesSayWhichSource(t *testing.T) {
	t.Parallel()
	src := mapSource{region: "eu-west-1", prices: map[Dimension]float64{
		DynamoDBReadCapacity:  0.0002,
		DynamoDBWriteCapacity: 0.001,
		DynamoDBStorage:       0.3,
		S3Storage:             0.024,
		S3Tier1Requests:       0.0000054,
		S3Tier2Requests:       0.00000043,
	}}
	e := NewEstimator()
	e.Source = src
	table := res("aws_dynamodb_table", map[string]any{"billing_mode": "PROVISIONED", "read_capacity": 5.0, "write_capacity": 5.0})

	// 5 × 730 × 0.0002 = 0.73; 5 × 730 × 0.001 = 3.65; + 0.3 = 4.68.
	got := estimateOne(t, e, "eu-west-1", table)
	want := Line{Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 4.68,
		Basis:  "provisioned: 5 RCU × 730 h × $0.0002 + 5 WCU × 730 h × $0.001 + 1 GB-month storage (assumed) × $0.3",
		Source: "aws-pricing-api (fetched 2026-11-30)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fetched prices (-want +got):\n%s", diff)
	}

	// PITR storage is not in the source: that term comes from the table
	// (0.2 × 1.1 in eu-west-1), and the line names both sources.
	pitr := res("aws_dynamodb_table", map[string]any{"billing_mode": "PROVISIONED", "read_capacity": 5.0, "write_capacity": 5.0,
		"point_in_time_recovery": []any{map[string]any{"enabled": true}}})
	got = estimateOne(t, e, "eu-west-1", pitr)
	if want := "aws-pricing-api (fetched 2026-11-30) + built-in table"; got.Source != want {
		t.Errorf("mixed line: Source = %q, want %q", got.Source, want)
	}
	if got.MonthlyUSD != 4.9 { // 4.68 + 0.22
		t.Errorf("mixed line: MonthlyUSD = %v, want 4.9", got.MonthlyUSD)
	}

	// A region the source has nothing for is priced from the table, and
	// says so; so are free and unknown types (no source at all).
	got = estimateOne(t, e, "us-east-1", table)
	if got.Source != BuiltInSource || got.MonthlyUSD != 3.10 {
		t.Errorf("fallback line: Source %q, MonthlyUSD %v; want %q, 3.1", got.Source, got.MonthlyUSD, BuiltInSource)
	}
	for _, r := range []string{"terraform_data", "aws_iam_role", "aws_unknown_thing"} {
		if got := estimateOne(t, e, "eu-west-1", res(r, nil)); got.Source != "" {
			t.Errorf("%s: Source = %q, want empty (no price used)", r, got.Source)
		}
	}

	// Without a Source lines carry no source, as before.
	if got := estimateOne(t, NewEstimator(), "eu-west-1", table); got.Source != "" {
		t.Errorf("no Source: line Source = %q, want empty", got.Source)
	}
}
