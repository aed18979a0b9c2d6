package cost

// Usage is what the estimator assumes about traffic and data, per resource
// and per month, for services that charge by use. A plan says how a Lambda
// function is configured, never how often it will run; pricing that as $0
// would let a project of usage-priced services slip under any cost ceiling,
// so each one is priced at a modest, configurable assumed load instead.
//
// Figures apply to every resource of the type separately: two functions are
// assumed to take LambdaRequests each. A zero Usage given to Estimate means
// DefaultUsage, so that a zero Estimator never prices usage at $0.
type Usage struct {
	// LambdaRequests is invocations per function per month.
	LambdaRequests float64 `json:"lambdaRequests"`
	// LambdaDurationMS is the average billed duration of one invocation in
	// milliseconds (capped at the function's timeout).
	LambdaDurationMS float64 `json:"lambdaDurationMs"`

	// APIGatewayRequests is requests (or WebSocket messages) per API per
	// month.
	APIGatewayRequests float64 `json:"apiGatewayRequests"`
	// APIGatewayConnectionMinutes is WebSocket connection-minutes per
	// WebSocket API per month.
	APIGatewayConnectionMinutes float64 `json:"apiGatewayConnectionMinutes"`

	// S3StorageGB is the data an application keeps in each bucket.
	S3StorageGB float64 `json:"s3StorageGb"`
	// S3Tier1Requests is PUT/COPY/POST/LIST requests per bucket per month.
	S3Tier1Requests float64 `json:"s3Tier1Requests"`
	// S3Tier2Requests is GET and other read requests per bucket per month.
	S3Tier2Requests float64 `json:"s3Tier2Requests"`
	// S3ObjectMB is the size assumed for an aws_s3_object whose content is
	// not in the plan (uploaded from a file, or computed).
	S3ObjectMB float64 `json:"s3ObjectMb"`

	// DynamoDBReads and DynamoDBWrites are request units per on-demand
	// table per month.
	DynamoDBReads  float64 `json:"dynamoDbReads"`
	DynamoDBWrites float64 `json:"dynamoDbWrites"`
	// DynamoDBStorageGB is the data in each table, either billing mode.
	DynamoDBStorageGB float64 `json:"dynamoDbStorageGb"`

	// LogsIngestGB is data written to each log group per month.
	LogsIngestGB float64 `json:"logsIngestGb"`
	// LogsNeverExpireMonths is how many months of logs a log group without
	// retention is assumed to hold: its storage grows without bound, and the
	// estimate has to stop somewhere.
	LogsNeverExpireMonths float64 `json:"logsNeverExpireMonths"`
}

// DefaultUsage returns the assumptions of a small but real application.
func DefaultUsage() Usage {
	return Usage{
		LambdaRequests:              1_000_000,
		LambdaDurationMS:            200,
		APIGatewayRequests:          1_000_000,
		APIGatewayConnectionMinutes: 1_000_000,
		S3StorageGB:                 5,
		S3Tier1Requests:             10_000,
		S3Tier2Requests:             90_000,
		S3ObjectMB:                  1,
		DynamoDBReads:               1_000_000,
		DynamoDBWrites:              1_000_000,
		DynamoDBStorageGB:           1,
		LogsIngestGB:                1,
		LogsNeverExpireMonths:       12,
	}
}
