// Package cost estimates the monthly cost of a planned project, resource by
// resource, so that the reconciler can refuse a plan over the project's cost
// ceiling before anything is applied.
//
// The estimate has two parts per resource. Fixed parts follow from the
// configuration alone: DynamoDB provisioned capacity, an API Gateway stage
// cache, stored objects. Usage parts (Lambda invocations, API requests, S3
// traffic, on-demand DynamoDB, log ingestion) cannot be known from a plan,
// so they are priced at the assumptions in Usage rather than as $0. Prices
// come from a PriceTable: built-in us-east-1 list prices with region
// multipliers, which the AWS Pricing API client can override with real
// figures. docs/cost.md documents every price, assumption and formula.
//
// Estimates are always produced: a resource type without a price becomes a
// $0 line whose Basis says so, because refusing every plan that contains
// one would make the estimator, not the policy allow-list, decide which
// resources tenants may create.
package cost

import "github.com/tenantform/tenantform/tf"

// hoursPerMonth is AWS's billing month for hourly prices (8760 h / 12).
const hoursPerMonth = 730

// daysPerMonth turns retention in days into months on the same calendar.
const daysPerMonth = hoursPerMonth / 24.0

// Line is the estimate for one planned resource.
type Line struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// MonthlyUSD is rounded up to whole cents.
	MonthlyUSD float64 `json:"monthlyUSD"`
	// Basis explains the figure in words and numbers, e.g. "provisioned:
	// 5 RCU × 730 h × $0.00013 + 5 WCU × 730 h × $0.00065 + …".
	Basis string `json:"basis"`
	// Source says where the line's unit prices came from: the
	// PriceSource's description, BuiltInSource, or both joined by " + ".
	// It is set only when the Estimator has a Source, and empty on lines
	// without a price.
	Source string `json:"source,omitempty"`
}

// Estimate is the monthly cost of a whole plan.
type Estimate struct {
	// Lines has one entry per planned resource, in plan order; never nil.
	Lines []Line `json:"lines"`
	// MonthlyUSD is the sum of the lines, added in whole cents so that it
	// equals exactly what anyone re-adding the stored lines gets.
	MonthlyUSD float64 `json:"monthlyUSD"`
}

// Estimator prices plans. The zero Estimator is ready to use and equals
// NewEstimator(): the zero PriceTable holds the built-in prices and a zero
// Usage stands for DefaultUsage.
type Estimator struct {
	Prices PriceTable
	Usage  Usage
	// Source, when set, is asked for each price before Prices (see
	// PriceSource). Nil prices from Prices alone.
	Source PriceSource
}

// NewEstimator returns an estimator with the built-in prices and
// DefaultUsage.
func NewEstimator() Estimator {
	return Estimator{Usage: DefaultUsage()}
}

// Estimate prices resources, the resources that exist once a plan is
// applied, in region (empty means BaseRegion).
func (e Estimator) Estimate(region string, resources []tf.PlannedResource) Estimate {
	if e.Usage == (Usage{}) {
		e.Usage = DefaultUsage()
	}
	if region == "" {
		region = BaseRegion
	}
	est := Estimate{Lines: make([]Line, 0, len(resources))}
	var total int64
	for _, r := range resources {
		c, basis, source := e.line(region, r)
		total += c
		est.Lines = append(est.Lines, Line{
			Address:    r.Address,
			Type:       r.Type,
			MonthlyUSD: float64(c) / 100,
			Basis:      basis,
			Source:     source,
		})
	}
	est.MonthlyUSD = float64(total) / 100
	return est
}
