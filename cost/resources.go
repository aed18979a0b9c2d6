package cost

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantform/tenantform/tf"
)

// pricers price the resource types that cost money. Each reads the planned
// values, falls back to AWS's own default for what the plan leaves out, and
// records every term of its sum in the calc so the Basis shows the working.
var pricers = map[string]func(*calc, attrs, Usage){
	"aws_lambda_function":      priceLambdaFunction,
	"aws_api_gateway_rest_api": priceRESTAPI,
	"aws_api_gateway_stage":    priceRESTStage,
	"aws_apigatewayv2_api":     priceV2API,
	"aws_s3_bucket":            priceBucket,
	"aws_s3_object":            priceObject,
	"aws_s3_bucket_object":     priceObject, // the provider's older name for aws_s3_object
	"aws_dynamodb_table":       priceDynamoDBTable,
	"aws_cloudwatch_log_group": priceLogGroup,
}

const (
	stateOnly   = "exists only in Terraform state"
	onFunction  = "no charge of its own; invocations are priced on the function"
	onAPI       = "no charge of its own; requests are priced on the API"
	onBucket    = "no charge of its own; storage and requests are priced on the bucket"
	onTable     = "no charge of its own; items fall within the table's assumed storage"
	onLogGroup  = "no charge of its own; ingestion and storage are priced on the log group"
	iamNoCharge = "IAM has no charge"
)

// freeTypes are resource types that cost nothing by themselves. Listing them
// (rather than treating every unpriced type as free) keeps "free" a claim
// someone checked, and leaves "no price known" for the rest.
var freeTypes = map[string]string{
	"terraform_data": stateOnly,
	"null_resource":  stateOnly,

	"aws_lambda_permission":                   onFunction,
	"aws_lambda_alias":                        onFunction,
	"aws_lambda_function_url":                 onFunction,
	"aws_lambda_function_event_invoke_config": onFunction,
	"aws_lambda_event_source_mapping":         onFunction,
	"aws_lambda_layer_version":                onFunction,
	"aws_lambda_layer_version_permission":     onFunction,

	"aws_api_gateway_resource":              onAPI,
	"aws_api_gateway_method":                onAPI,
	"aws_api_gateway_method_response":       onAPI,
	"aws_api_gateway_method_settings":       onAPI,
	"aws_api_gateway_integration":           onAPI,
	"aws_api_gateway_integration_response":  onAPI,
	"aws_api_gateway_deployment":            onAPI,
	"aws_api_gateway_authorizer":            onAPI,
	"aws_api_gateway_model":                 onAPI,
	"aws_api_gateway_request_validator":     onAPI,
	"aws_api_gateway_gateway_response":      onAPI,
	"aws_api_gateway_rest_api_policy":       onAPI,
	"aws_api_gateway_api_key":               onAPI,
	"aws_api_gateway_usage_plan":            onAPI,
	"aws_api_gateway_usage_plan_key":        onAPI,
	"aws_api_gateway_base_path_mapping":     onAPI,
	"aws_apigatewayv2_stage":                onAPI,
	"aws_apigatewayv2_route":                onAPI,
	"aws_apigatewayv2_route_response":       onAPI,
	"aws_apigatewayv2_integration":          onAPI,
	"aws_apigatewayv2_integration_response": onAPI,
	"aws_apigatewayv2_deployment":           onAPI,
	"aws_apigatewayv2_authorizer":           onAPI,
	"aws_apigatewayv2_model":                onAPI,
	"aws_apigatewayv2_api_mapping":          onAPI,

	"aws_s3_bucket_policy":                               onBucket,
	"aws_s3_bucket_versioning":                           onBucket,
	"aws_s3_bucket_public_access_block":                  onBucket,
	"aws_s3_bucket_server_side_encryption_configuration": onBucket,
	"aws_s3_bucket_cors_configuration":                   onBucket,
	"aws_s3_bucket_ownership_controls":                   onBucket,
	"aws_s3_bucket_website_configuration":                onBucket,
	"aws_s3_bucket_lifecycle_configuration":              onBucket,
	"aws_s3_bucket_notification":                         onBucket,
	"aws_s3_bucket_acl":                                  onBucket,

	"aws_dynamodb_table_item":      onTable,
	"aws_dynamodb_tag":             onTable,
	"aws_dynamodb_resource_policy": onTable,

	"aws_cloudwatch_log_stream":              onLogGroup,
	"aws_cloudwatch_log_metric_filter":       onLogGroup,
	"aws_cloudwatch_log_subscription_filter": onLogGroup,
	"aws_cloudwatch_log_resource_policy":     onLogGroup,
}

// freePrefixes cover whole providers or services that never charge.
var freePrefixes = []struct{ prefix, reason string }{
	{"random_", stateOnly},
	{"time_", stateOnly},
	{"aws_iam_", iamNoCharge},
}

// line prices one resource: its monthly cost in cents, the Basis and the
// source of its prices (see Line.Source).
func (e Estimator) line(region string, r tf.PlannedResource) (int64, string, string) {
	if price, ok := pricers[r.Type]; ok {
		c := &calc{prices: e.Prices, source: e.Source, region: region, factor: 1}
		price(c, attrs(r.Values), e.Usage)
		cents, basis := c.result()
		return cents, basis, c.sourceText()
	}
	if reason, ok := freeTypes[r.Type]; ok {
		return 0, "free: " + reason, ""
	}
	for _, f := range freePrefixes {
		if strings.HasPrefix(r.Type, f.prefix) {
			return 0, "free: " + f.reason, ""
		}
	}
	return 0, fmt.Sprintf("no price known for %s: counted as $0", r.Type), ""
}

// calc accumulates one resource's sum and the words that explain it.
type calc struct {
	prices PriceTable
	source PriceSource // nil: prices alone
	region string

	head  string   // what the figure rests on, e.g. "provisioned"
	terms []string // one "quantity × $price" per priced dimension
	notes []string // defaults assumed and caps applied
	usd   float64

	factor    float64 // a multiple of the whole sum, e.g. global table replicas
	factorWhy string
	free      string // set when the configuration turns out to cost nothing

	// scaled is set when any term used a us-east-1 price times the region
	// multiplier, so the Basis says so.
	scaled bool
	// sources are where the terms' prices came from, in order of first
	// use, when the Estimator has a Source.
	sources []string
}

// add prices qty units of d; what describes qty ("5 RCU × 730 h").
func (c *calc) add(qty float64, what string, d Dimension) {
	if c.source != nil {
		if p, src, ok := c.source.UnitPrice(c.region, d); ok && checkPrice(p) == nil {
			c.used(src)
			c.usd += qty * p
			c.terms = append(c.terms, fmt.Sprintf("%s × $%s", what, money(p)))
			return
		}
		c.used(BuiltInSource)
	}
	p, m, ok := c.prices.price(c.region, d)
	if !ok {
		c.terms = append(c.terms, fmt.Sprintf("%s × no price for %s ($0)", what, d))
		return
	}
	if m != 0 {
		c.scaled = true
	}
	c.usd += qty * p
	c.terms = append(c.terms, fmt.Sprintf("%s × $%s", what, money(p)))
}

// used records that a term was priced from source.
func (c *calc) used(source string) {
	if !slices.Contains(c.sources, source) {
		c.sources = append(c.sources, source)
	}
}

// sourceText is Line.Source: "" without a PriceSource or when nothing was
// priced (a free stage).
func (c *calc) sourceText() string {
	if c.free != "" {
		return ""
	}
	return strings.Join(c.sources, " + ")
}

func (c *calc) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func (c *calc) result() (int64, string) {
	if c.free != "" {
		return 0, "free: " + c.free
	}
	var b strings.Builder
	if c.head != "" {
		b.WriteString(c.head + ": ")
	}
	sum := strings.Join(c.terms, " + ")
	if c.factor != 1 {
		fmt.Fprintf(&b, "(%s) × %s (%s)", sum, num(c.factor), c.factorWhy)
	} else {
		b.WriteString(sum)
	}
	notes := c.notes
	if c.scaled && c.region != BaseRegion {
		if m, known := c.prices.RegionMultiplier(c.region); !known {
			notes = append(notes, fmt.Sprintf("no prices for region %s: us-east-1 prices used", c.region))
		} else if m != 1 {
			notes = append(notes, fmt.Sprintf("%s prices = us-east-1 × %s", c.region, num(m)))
		}
	}
	for _, n := range notes {
		b.WriteString("; " + n)
	}
	return cents(c.usd * c.factor), b.String()
}

// positive returns a numeric attribute that is > 0, else def, noting the
// fallback: the plan lacks a value when it is unknown until apply or left
// to AWS's default.
func (c *calc) positive(a attrs, key string, def float64, label, fallback string) float64 {
	if v, ok := a.number(key); ok && v > 0 {
		return v
	}
	c.note("%s not in plan: %s", label, fallback)
	return def
}

// priceLambdaFunction: requests × price + GB-seconds × price, where
// GB-seconds = requests × duration × memory, plus /tmp above 512 MB.
func priceLambdaFunction(c *calc, a attrs, u Usage) {
	memMB := c.positive(a, "memory_size", 128, "memory_size", "AWS default 128 MB")
	timeoutS := 3.0 // AWS default; a function is never billed beyond it
	if v, ok := a.number("timeout"); ok && v > 0 {
		timeoutS = v
	}
	durMS := u.LambdaDurationMS
	if durMS > timeoutS*1000 {
		durMS = timeoutS * 1000
		c.note("duration capped at the %s s timeout", num(timeoutS))
	}
	arch, dim := "x86_64", LambdaDurationX86
	if slices.Contains(a.strings("architectures"), "arm64") {
		arch, dim = "arm64", LambdaDurationARM
	}
	tmpMB := 512.0
	if eph := a.blocks("ephemeral_storage"); len(eph) > 0 {
		if v, ok := eph[0].number("size"); ok && v > 0 {
			tmpMB = v
		}
	}

	reqs := u.LambdaRequests
	seconds := reqs * durMS / 1000
	c.head = fmt.Sprintf("assumed %s invocations/month of %s ms", num(reqs), num(durMS))
	c.add(reqs, num(reqs)+" requests", LambdaRequests)
	gbs := seconds * memMB / 1024
	c.add(gbs, fmt.Sprintf("%s GB-s (%s MB, %s)", num(gbs), num(memMB), arch), dim)
	if tmpMB > 512 {
		tmp := seconds * (tmpMB - 512) / 1024
		c.add(tmp, fmt.Sprintf("%s GB-s of /tmp above 512 MB", num(tmp)), LambdaEphemeralStorage)
	}
}

// priceRESTAPI: assumed requests × the REST API request price.
func priceRESTAPI(c *calc, _ attrs, u Usage) {
	c.head = fmt.Sprintf("assumed %s requests/month", num(u.APIGatewayRequests))
	c.add(u.APIGatewayRequests, num(u.APIGatewayRequests)+" requests", APIGatewayRESTRequests)
}

// priceRESTStage: a stage is free unless it runs a cache cluster, which is
// billed by the hour whether used or not — a fixed monthly part.
func priceRESTStage(c *calc, a attrs, _ Usage) {
	if on, _ := a.boolean("cache_cluster_enabled"); !on {
		c.free = "stage without cache; " + onAPI
		return
	}
	size, ok := a.str("cache_cluster_size")
	if !ok {
		size = apiGatewayCacheSizes[0]
		c.note("cache_cluster_size not in plan: AWS default %s GB", size)
	}
	c.head = "cache cluster"
	c.add(hoursPerMonth, fmt.Sprintf("%s GB cache × %d h", size, hoursPerMonth), APIGatewayCache(size))
}

// priceV2API: HTTP APIs pay per request; WebSocket APIs per message and per
// connection-minute.
func priceV2API(c *calc, a attrs, u Usage) {
	proto, ok := a.str("protocol_type")
	if !ok {
		proto = "HTTP"
		c.note("protocol_type not in plan: HTTP assumed")
	}
	if strings.EqualFold(proto, "WEBSOCKET") {
		c.head = fmt.Sprintf("WebSocket, assumed %s messages + %s connection-minutes/month",
			num(u.APIGatewayRequests), num(u.APIGatewayConnectionMinutes))
		c.add(u.APIGatewayRequests, num(u.APIGatewayRequests)+" messages", APIGatewayWebSocketMessages)
		c.add(u.APIGatewayConnectionMinutes, num(u.APIGatewayConnectionMinutes)+" connection-minutes", APIGatewayWebSocketMinutes)
		return
	}
	c.head = fmt.Sprintf("HTTP API, assumed %s requests/month", num(u.APIGatewayRequests))
	c.add(u.APIGatewayRequests, num(u.APIGatewayRequests)+" requests", APIGatewayHTTPRequests)
}

// priceBucket: assumed stored GB and requests at S3 Standard prices.
func priceBucket(c *calc, _ attrs, u Usage) {
	c.head = "assumed usage"
	c.add(u.S3StorageGB, num(u.S3StorageGB)+" GB-month", S3Storage)
	c.add(u.S3Tier1Requests, num(u.S3Tier1Requests)+" PUT/COPY/POST/LIST", S3Tier1Requests)
	c.add(u.S3Tier2Requests, num(u.S3Tier2Requests)+" GET", S3Tier2Requests)
}

// priceObject: the object's own storage. Its size is known when the content
// is inline; an upload from a file (source) or computed content is not in
// the plan, so the assumed size stands in.
func priceObject(c *calc, a attrs, u Usage) {
	var bytes float64
	if s, ok := a["content"].(string); ok {
		bytes = float64(len(s))
	} else if s, ok := a["content_base64"].(string); ok {
		n, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			bytes = float64(base64.StdEncoding.DecodedLen(len(s)))
		} else {
			bytes = float64(len(n))
		}
	} else {
		bytes = u.S3ObjectMB * (1 << 20)
		c.note("content not in plan: assumed %s MB", num(u.S3ObjectMB))
	}
	gb := bytes / (1 << 30)
	c.head = fmt.Sprintf("%s bytes stored", num(bytes))
	c.add(gb, num(gb)+" GB-month", S3Storage)
}

// defaultCapacity stands in for a provisioned table's capacity when the plan
// does not show it: it is the console's default, and the provider refuses a
// PROVISIONED table without capacity, so this only covers values unknown
// until apply.
const defaultCapacity = 5

var assumedCapacity = "assumed " + num(defaultCapacity)

// priceDynamoDBTable: PROVISIONED tables pay for table and GSI capacity
// every hour, used or not (a fixed part); PAY_PER_REQUEST tables pay per
// assumed request unit, and every write also writes each GSI. Both pay for
// storage, and point-in-time recovery doubles as backup storage. Each
// replica of a global table repeats the whole cost.
func priceDynamoDBTable(c *calc, a attrs, u Usage) {
	mode, ok := a.str("billing_mode")
	if !ok {
		mode = "PROVISIONED" // the provider's default
	}
	gsis := a.blocks("global_secondary_index")

	if strings.EqualFold(mode, "PAY_PER_REQUEST") {
		c.head = fmt.Sprintf("on-demand, assumed %s reads + %s writes/month", num(u.DynamoDBReads), num(u.DynamoDBWrites))
		c.add(u.DynamoDBReads, num(u.DynamoDBReads)+" read units", DynamoDBReadRequests)
		writes := u.DynamoDBWrites * float64(1+len(gsis))
		what := num(writes) + " write units"
		if len(gsis) > 0 {
			what = fmt.Sprintf("%s write units (%s × %d: table + %d GSI)", num(writes), num(u.DynamoDBWrites), 1+len(gsis), len(gsis))
		}
		c.add(writes, what, DynamoDBWriteRequests)
	} else {
		c.head = "provisioned"
		rcu := c.positive(a, "read_capacity", defaultCapacity, "read_capacity", assumedCapacity)
		wcu := c.positive(a, "write_capacity", defaultCapacity, "write_capacity", assumedCapacity)
		var gsiRCU, gsiWCU float64
		for i, g := range gsis {
			name, _ := g.str("name")
			if name == "" {
				name = fmt.Sprint(i)
			}
			gsiRCU += c.positive(g, "read_capacity", defaultCapacity, "GSI "+name+" read_capacity", assumedCapacity)
			gsiWCU += c.positive(g, "write_capacity", defaultCapacity, "GSI "+name+" write_capacity", assumedCapacity)
		}
		c.add((rcu+gsiRCU)*hoursPerMonth, capacity(rcu, gsiRCU, "RCU"), DynamoDBReadCapacity)
		c.add((wcu+gsiWCU)*hoursPerMonth, capacity(wcu, gsiWCU, "WCU"), DynamoDBWriteCapacity)
	}

	c.add(u.DynamoDBStorageGB, num(u.DynamoDBStorageGB)+" GB-month storage (assumed)", DynamoDBStorage)
	if pitr := a.blocks("point_in_time_recovery"); len(pitr) > 0 {
		if on, _ := pitr[0].boolean("enabled"); on {
			c.add(u.DynamoDBStorageGB, num(u.DynamoDBStorageGB)+" GB-month point-in-time backup", DynamoDBPITRStorage)
		}
	}
	if n := len(a.blocks("replica")); n > 0 {
		c.factor = float64(1 + n)
		c.factorWhy = fmt.Sprintf("table + %d replica", n)
		if n > 1 {
			c.factorWhy += "s"
		}
	}
}

// capacity describes provisioned units held for a month, showing the GSIs'
// share when there is one.
func capacity(table, gsi float64, unit string) string {
	if gsi == 0 {
		return fmt.Sprintf("%s %s × %d h", num(table), unit, hoursPerMonth)
	}
	return fmt.Sprintf("%s %s (table %s + GSIs %s) × %d h", num(table+gsi), unit, num(table), num(gsi), hoursPerMonth)
}

// priceLogGroup: assumed ingestion, plus storage of what retention keeps —
// in steady state, retention (in months) times the monthly ingestion. A
// group that never expires, or keeps logs longer than the horizon, is
// counted at Usage.LogsNeverExpireMonths.
func priceLogGroup(c *calc, a attrs, u Usage) {
	dim, class := LogsIngestStandard, "Standard"
	if cl, _ := a.str("log_group_class"); strings.EqualFold(cl, "INFREQUENT_ACCESS") {
		dim, class = LogsIngestInfrequent, "Infrequent Access"
	}
	c.head = fmt.Sprintf("%s class, assumed %s GB ingested/month", class, num(u.LogsIngestGB))
	c.add(u.LogsIngestGB, num(u.LogsIngestGB)+" GB ingested", dim)

	months := u.LogsNeverExpireMonths
	held := fmt.Sprintf("never expires, %s months held", num(months))
	if days, ok := a.number("retention_in_days"); ok && days > 0 {
		if m := days / daysPerMonth; m < months {
			months = m
			held = fmt.Sprintf("%s days retention", num(days))
		} else {
			held = fmt.Sprintf("%s days retention, counted as %s months", num(days), num(months))
		}
	}
	stored := u.LogsIngestGB * months
	c.add(stored, fmt.Sprintf("%s GB-month stored (%s)", num(stored), held), LogsStorage)
}
