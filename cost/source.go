package cost

// PriceSource supplies unit prices from outside the built-in table, such as
// the AWS Price List API's (package billing keeps them). An Estimator with
// a Source asks it first and falls back to its PriceTable per dimension, so
// that a price the source lacks, or a source that never loaded, still gets
// a figure — and each Line says which source its prices came from.
type PriceSource interface {
	// UnitPrice returns the price of d in region in USD per unit, and a
	// description of where it came from, such as
	// "aws-pricing-api (fetched 2026-11-30)". ok is false when the source
	// has no price for d in region.
	UnitPrice(region string, d Dimension) (usd float64, source string, ok bool)
}

// BuiltInSource is Line.Source of prices from the PriceTable (the built-in
// list prices and their overrides).
const BuiltInSource = "built-in table"
