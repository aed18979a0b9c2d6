// Package billing is what AWS charges, next to what package cost
// estimates:
//
//   - pricelist.go: unit prices of the estimator's dimensions from the AWS
//     Price List API (GetProducts), one paginated query per service and
//     allowed region;
//   - cache.go: those prices kept in memory as a cost.PriceSource, loaded
//     from PostgreSQL so every replica prices plans alike;
//   - actual.go: month-to-date actual cost per Project tag from Cost
//     Explorer (GetCostAndUsage grouped by the Project tag), one query for
//     all projects;
//   - service.go: the service that refreshes both on their intervals
//     (PRICING_REFRESH_INTERVAL, COST_EXPLORER_INTERVAL) and stores them.
//
// Nothing here is needed for an estimate: without the APIs, estimates use
// the built-in price table and say so.
package billing
