package cost

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/tf"
)

// estimateOne prices a single resource and returns its line.
func estimateOne(t *testing.T, e Estimator, region string, r tf.PlannedResource) Line {
	t.Helper()
	est := e.Estimate(region, []tf.PlannedResource{r})
	if len(est.Lines) != 1 {
		t.Fatalf("Estimate returned %d lines for one resource", len(est.Lines))
	}
	if est.MonthlyUSD != est.Lines[0].MonthlyUSD {
		t.Errorf("total %v != the only line's %v", est.MonthlyUSD, est.Lines[0].MonthlyUSD)
	}
	return est.Lines[0]
}

func res(typ string, values map[string]any) tf.PlannedResource {
	return tf.PlannedResource{Address: typ + ".x", Type: typ, Values: values}
}

// TestProvisionedDynamoDB checks the fixed monthly part against figures
// worked out by hand from the us-east-1 list prices ($0.00013 per RCU-hour,
// $0.00065 per WCU-hour, $0.25 per GB-month, $0.20 per GB-month of PITR).
func TestProvisionedDynamoDB(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   Line
	}{{
		// 5 × 730 × 0.00013 = 0.4745; 5 × 730 × 0.00065 = 2.3725;
		// + 1 GB × 0.25 = 3.097 → rounded up to 3.10.
		name:   "5 RCU, 5 WCU",
		values: map[string]any{"billing_mode": "PROVISIONED", "read_capacity": 5.0, "write_capacity": 5.0},
		want: Line{
			Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 3.10,
			Basis: "provisioned: 5 RCU × 730 h × $0.00013 + 5 WCU × 730 h × $0.00065 + 1 GB-month storage (assumed) × $0.25",
		},
	}, {
		// billing_mode left out is PROVISIONED, the provider's default.
		// 20 × 730 × 0.00013 = 1.898; 2 × 730 × 0.00065 = 0.949;
		// + 0.25 = 3.097 → 3.10.
		name:   "default billing mode, read-heavy",
		values: map[string]any{"read_capacity": json.Number("20"), "write_capacity": json.Number("2")},
		want: Line{
			Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 3.10,
			Basis: "provisioned: 20 RCU × 730 h × $0.00013 + 2 WCU × 730 h × $0.00065 + 1 GB-month storage (assumed) × $0.25",
		},
	}, {
		// GSI capacity is billed like the table's: (10 + 5) × 730 × 0.00013
		// = 1.4235; (10 + 5) × 730 × 0.00065 = 7.1175; + 0.25 = 8.791 → 8.80.
		name: "with a provisioned GSI",
		values: map[string]any{
			"billing_mode": "PROVISIONED", "read_capacity": 10.0, "write_capacity": 10.0,
			"global_secondary_index": []any{map[string]any{"name": "byUser", "read_capacity": 5.0, "write_capacity": 5.0}},
		},
		want: Line{
			Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 8.80,
			Basis: "provisioned: 15 RCU (table 10 + GSIs 5) × 730 h × $0.00013 + 15 WCU (table 10 + GSIs 5) × 730 h × $0.00065 + 1 GB-month storage (assumed) × $0.25",
		},
	}, {
		// (3.097 + 1 GB × 0.20 PITR) × 2 for one replica = 6.594 → 6.60.
		name: "global table with PITR",
		values: map[string]any{
			"read_capacity": 5.0, "write_capacity": 5.0,
			"point_in_time_recovery": []any{map[string]any{"enabled": true}},
			"replica":                []any{map[string]any{"region_name": "us-west-2"}},
		},
		want: Line{
			Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 6.60,
			Basis: "provisioned: (5 RCU × 730 h × $0.00013 + 5 WCU × 730 h × $0.00065 + 1 GB-month storage (assumed) × $0.25 + 1 GB-month point-in-time backup × $0.2) × 2 (table + 1 replica)",
		},
	}, {
		// Capacity unknown at plan time: the console default of 5 stands in,
		// and the basis says so.
		name:   "capacity not in plan",
		values: map[string]any{"billing_mode": "PROVISIONED"},
		want: Line{
			Address: "aws_dynamodb_table.x", Type: "aws_dynamodb_table", MonthlyUSD: 3.10,
			Basis: "provisioned: 5 RCU × 730 h × $0.00013 + 5 WCU × 730 h × $0.00065 + 1 GB-month storage (assumed) × $0.25; read_capacity not in plan: assumed 5; write_capacity not in plan: assumed 5",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := estimateOne(t, NewEstimator(), "us-east-1", res("aws_dynamodb_table", tt.values))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUsagePriced checks that every usage-priced service costs what the
// default assumptions say, worked out by hand, and so never $0.
func TestUsagePriced(t *testing.T) {
	tests := []struct {
		name     string
		resource tf.PlannedResource
		want     float64
	}{
		// 1M × 0.125/M + 1M × 0.625/M + 1 GB × 0.25 = 1.00.
		{"on-demand DynamoDB", res("aws_dynamodb_table", map[string]any{"billing_mode": "PAY_PER_REQUEST"}), 1.00},
		// Each write also writes the GSI: 0.125 + 2 × 0.625 + 0.25 = 1.625 → 1.63.
		{"on-demand DynamoDB with GSI", res("aws_dynamodb_table", map[string]any{
			"billing_mode":           "PAY_PER_REQUEST",
			"global_secondary_index": []any{map[string]any{"name": "g", "read_capacity": 0.0, "write_capacity": 0.0}},
		}), 1.63},
		// 1M × 0.20/M + 1M × 0.2 s × 0.125 GB × 0.0000166667 = 0.6166675 → 0.62.
		{"Lambda 128 MB", res("aws_lambda_function", map[string]any{"memory_size": 128.0}), 0.62},
		// 0.2 + 200,000 GB-s × 0.0000166667 = 3.53334 → 3.54.
		{"Lambda 1024 MB", res("aws_lambda_function", map[string]any{"memory_size": 1024.0}), 3.54},
		// 0.2 + 200,000 × 0.0000133334 = 2.86668 → 2.87.
		{"Lambda 1024 MB arm64", res("aws_lambda_function", map[string]any{"memory_size": 1024.0, "architectures": []any{"arm64"}}), 2.87},
		// 0.6166675 + 200,000 s × 9.5 GB × 0.0000000309 = 0.6753775 → 0.68.
		{"Lambda with 10 GB /tmp", res("aws_lambda_function", map[string]any{
			"memory_size": 128.0, "ephemeral_storage": []any{map[string]any{"size": 10240.0}},
		}), 0.68},
		{"REST API", res("aws_api_gateway_rest_api", nil), 3.50},
		{"HTTP API", res("aws_apigatewayv2_api", map[string]any{"protocol_type": "HTTP"}), 1.00},
		// 1M messages × 1.00/M + 1M minutes × 0.25/M.
		{"WebSocket API", res("aws_apigatewayv2_api", map[string]any{"protocol_type": "WEBSOCKET"}), 1.25},
		// 5 × 0.023 + 10,000 × 0.000005 + 90,000 × 0.0000004 = 0.201 → 0.21.
		{"S3 bucket", res("aws_s3_bucket", map[string]any{"bucket": "b"}), 0.21},
		// Stored logs: 1 GB × 12 months × 0.03 = 0.36, + 0.50 ingestion.
		{"log group, never expires", res("aws_cloudwatch_log_group", map[string]any{"retention_in_days": 0.0}), 0.86},
		// 0.50 + 14 / 30.4167 GB × 0.03 = 0.5138 → 0.52.
		{"log group, 14 days", res("aws_cloudwatch_log_group", map[string]any{"retention_in_days": 14.0}), 0.52},
		// 0.25 + 0.0138 → 0.27.
		{"log group, infrequent access", res("aws_cloudwatch_log_group", map[string]any{
			"retention_in_days": 14.0, "log_group_class": "INFREQUENT_ACCESS",
		}), 0.27},
		// A stage cache is billed every hour: 730 × 0.038 = 27.74.
		{"REST stage with cache", res("aws_api_gateway_stage", map[string]any{
			"cache_cluster_enabled": true, "cache_cluster_size": "1.6",
		}), 27.74},
		// 1 MB assumed: 0.0009766 GB × 0.023 = 0.0000225 → one cent.
		{"S3 object from a file", res("aws_s3_object", map[string]any{"source": "build/app.zip"}), 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := estimateOne(t, NewEstimator(), "us-east-1", tt.resource)
			if diff := cmp.Diff(tt.want, got.MonthlyUSD); diff != "" {
				t.Errorf("monthly USD (-want +got):\n%s\nbasis: %s", diff, got.Basis)
			}
			if got.MonthlyUSD <= 0 {
				t.Errorf("a usage-priced resource costs $%v", got.MonthlyUSD)
			}
		})
	}
}

func TestLambdaMemoryRaisesCost(t *testing.T) {
	e := NewEstimator()
	small := estimateOne(t, e, "", res("aws_lambda_function", map[string]any{"memory_size": 128.0}))
	large := estimateOne(t, e, "", res("aws_lambda_function", map[string]any{"memory_size": 1024.0}))
	if !(large.MonthlyUSD > small.MonthlyUSD) {
		t.Errorf("1024 MB costs $%v, not more than 128 MB at $%v", large.MonthlyUSD, small.MonthlyUSD)
	}
}

// TestUsageAssumptionsDriveCost makes sure the Usage fields are what the
// usage-priced lines follow, so that overriding them works.
func TestUsageAssumptionsDriveCost(t *testing.T) {
	e := NewEstimator()
	e.Usage.LambdaRequests = 10_000_000
	e.Usage.LambdaDurationMS = 50
	// 10M × 0.20/M = 2.00 + 10M × 0.05 s × 0.125 GB × 0.0000166667 = 1.0416688 → 3.05.
	got := estimateOne(t, e, "", res("aws_lambda_function", map[string]any{"memory_size": 128.0}))
	if diff := cmp.Diff(3.05, got.MonthlyUSD); diff != "" {
		t.Errorf("monthly USD (-want +got):\n%s\nbasis: %s", diff, got.Basis)
	}

	// A duration above the timeout is capped: 1M × 3 s × 0.125 GB ×
	// 0.0000166667 = 6.2500125 + 0.20 = 6.4500125 → 6.46.
	e = NewEstimator()
	e.Usage.LambdaDurationMS = 60_000
	got = estimateOne(t, e, "", res("aws_lambda_function", map[string]any{"memory_size": 128.0, "timeout": 3.0}))
	if diff := cmp.Diff(6.46, got.MonthlyUSD); diff != "" {
		t.Errorf("monthly USD (-want +got):\n%s\nbasis: %s", diff, got.Basis)
	}
	if !strings.Contains(got.Basis, "capped at the 3 s timeout") {
		t.Errorf("basis does not mention the timeout cap: %s", got.Basis)
	}
}

func TestFreeAndUnknownTypes(t *testing.T) {
	tests := []struct {
		resource tf.PlannedResource
		want     Line
	}{{
		resource: tf.PlannedResource{Address: "terraform_data.marker", Type: "terraform_data", Values: map[string]any{"input": "x"}},
		want:     Line{Address: "terraform_data.marker", Type: "terraform_data", Basis: "free: exists only in Terraform state"},
	}, {
		resource: tf.PlannedResource{Address: "random_id.suffix", Type: "random_id"},
		want:     Line{Address: "random_id.suffix", Type: "random_id", Basis: "free: exists only in Terraform state"},
	}, {
		resource: tf.PlannedResource{Address: "aws_iam_role.fn", Type: "aws_iam_role"},
		want:     Line{Address: "aws_iam_role.fn", Type: "aws_iam_role", Basis: "free: IAM has no charge"},
	}, {
		resource: tf.PlannedResource{Address: "aws_lambda_permission.api", Type: "aws_lambda_permission"},
		want: Line{Address: "aws_lambda_permission.api", Type: "aws_lambda_permission",
			Basis: "free: no charge of its own; invocations are priced on the function"},
	}, {
		resource: tf.PlannedResource{Address: "aws_apigatewayv2_route.get", Type: "aws_apigatewayv2_route"},
		want: Line{Address: "aws_apigatewayv2_route.get", Type: "aws_apigatewayv2_route",
			Basis: "free: no charge of its own; requests are priced on the API"},
	}, {
		resource: tf.PlannedResource{Address: "aws_api_gateway_stage.prod", Type: "aws_api_gateway_stage", Values: map[string]any{"cache_cluster_enabled": false}},
		want: Line{Address: "aws_api_gateway_stage.prod", Type: "aws_api_gateway_stage",
			Basis: "free: stage without cache; no charge of its own; requests are priced on the API"},
	}, {
		resource: tf.PlannedResource{Address: "aws_sqs_queue.jobs", Type: "aws_sqs_queue", Values: map[string]any{"name": "jobs"}},
		want: Line{Address: "aws_sqs_queue.jobs", Type: "aws_sqs_queue",
			Basis: "no price known for aws_sqs_queue: counted as $0"},
	}}
	for _, tt := range tests {
		t.Run(tt.resource.Type, func(t *testing.T) {
			got := estimateOne(t, NewEstimator(), "us-east-1", tt.resource)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
		})
	}
}

// projectPlan is a typical tenant project: an API in front of a function
// that writes to a table and logs.
func projectPlan() []tf.PlannedResource {
	return []tf.PlannedResource{
		{Address: "terraform_data.marker", Type: "terraform_data"},
		{Address: "aws_iam_role.fn", Type: "aws_iam_role"},
		{Address: "aws_lambda_function.api", Type: "aws_lambda_function", Values: map[string]any{"memory_size": 256.0}},
		{Address: "aws_apigatewayv2_api.http", Type: "aws_apigatewayv2_api", Values: map[string]any{"protocol_type": "HTTP"}},
		{Address: "aws_apigatewayv2_stage.default", Type: "aws_apigatewayv2_stage"},
		{Address: "aws_dynamodb_table.orders", Type: "aws_dynamodb_table", Values: map[string]any{"read_capacity": 5.0, "write_capacity": 5.0}},
		{Address: "aws_dynamodb_table.events", Type: "aws_dynamodb_table", Values: map[string]any{"billing_mode": "PAY_PER_REQUEST"}},
		{Address: "aws_s3_bucket.assets", Type: "aws_s3_bucket"},
		{Address: "aws_s3_object.index", Type: "aws_s3_object", Values: map[string]any{"content": "<h1>hi</h1>"}},
		{Address: "aws_cloudwatch_log_group.fn", Type: "aws_cloudwatch_log_group", Values: map[string]any{"retention_in_days": 7.0}},
		{Address: "aws_sqs_queue.unknown", Type: "aws_sqs_queue"},
	}
}

func TestTotalIsSumOfLines(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-central-1", "sa-east-1"} {
		t.Run(region, func(t *testing.T) {
			plan := projectPlan()
			est := NewEstimator().Estimate(region, plan)
			if len(est.Lines) != len(plan) {
				t.Fatalf("%d lines for %d resources", len(est.Lines), len(plan))
			}
			var sum int64
			for i, l := range est.Lines {
				if l.Address != plan[i].Address || l.Type != plan[i].Type {
					t.Errorf("line %d is %s (%s), want %s (%s): lines must follow plan order",
						i, l.Address, l.Type, plan[i].Address, plan[i].Type)
				}
				c := math.Round(l.MonthlyUSD * 100)
				if math.Abs(l.MonthlyUSD*100-c) > 1e-6 {
					t.Errorf("%s: $%v is not whole cents", l.Address, l.MonthlyUSD)
				}
				sum += int64(c)
			}
			if diff := cmp.Diff(sum, int64(math.Round(est.MonthlyUSD*100))); diff != "" {
				t.Errorf("total in cents (-sum of lines +total):\n%s", diff)
			}
			if est.MonthlyUSD <= 0 {
				t.Errorf("total $%v for a project with priced resources", est.MonthlyUSD)
			}
		})
	}
}

func TestEmptyPlan(t *testing.T) {
	got := NewEstimator().Estimate("us-east-1", nil)
	if diff := cmp.Diff(Estimate{Lines: []Line{}}, got); diff != "" {
		t.Errorf("estimate (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	// Clients read "lines" as an array; null would break them.
	if diff := cmp.Diff(`{"lines":[],"monthlyUSD":0}`, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// TestJSON pins the field names stored in run history and served by the API.
func TestJSON(t *testing.T) {
	est := NewEstimator().Estimate("us-east-1", []tf.PlannedResource{res("aws_api_gateway_rest_api", nil)})
	b, err := json.Marshal(est)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"lines":[{"address":"aws_api_gateway_rest_api.x","type":"aws_api_gateway_rest_api",` +
		`"monthlyUSD":3.5,"basis":"assumed 1,000,000 requests/month: 1,000,000 requests × $0.0000035"}],"monthlyUSD":3.5}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	var back Estimate
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(est, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestRegionMultiplier(t *testing.T) {
	lambda := res("aws_lambda_function", map[string]any{"memory_size": 128.0})
	table := res("aws_dynamodb_table", map[string]any{"read_capacity": 5.0, "write_capacity": 5.0})
	tests := []struct {
		region   string
		resource tf.PlannedResource
		want     float64
		basis    string // a fragment the basis must contain
	}{
		{"us-east-1", lambda, 0.62, "× $0.0000002 +"},
		{"", lambda, 0.62, "× $0.0000002 +"},
		{"us-west-2", lambda, 0.62, "× $0.0000002 +"},
		// 0.6166675 × 1.15 = 0.70916763 → 0.71.
		{"us-west-1", lambda, 0.71, "us-west-1 prices = us-east-1 × 1.15"},
		// 3.097 × 1.5 = 4.6455 → 4.65.
		{"sa-east-1", table, 4.65, "5 RCU × 730 h × $0.000195 +"},
		// A region the table does not know is priced as us-east-1, and said so.
		{"xx-nowhere-1", table, 3.10, "no prices for region xx-nowhere-1: us-east-1 prices used"},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.resource.Type, func(t *testing.T) {
			got := estimateOne(t, NewEstimator(), tt.region, tt.resource)
			if diff := cmp.Diff(tt.want, got.MonthlyUSD); diff != "" {
				t.Errorf("monthly USD (-want +got):\n%s\nbasis: %s", diff, got.Basis)
			}
			if !strings.Contains(got.Basis, tt.basis) {
				t.Errorf("basis %q lacks %q", got.Basis, tt.basis)
			}
		})
	}
}

// TestNumberForms feeds the same attributes in every shape a decoded plan
// may have them in; all must price the same as float64.
func TestNumberForms(t *testing.T) {
	forms := map[string]func(float64) any{
		"float64":     func(f float64) any { return f },
		"json.Number": func(f float64) any { return json.Number(jsonNumber(f)) },
		"int":         func(f float64) any { return int(f) },
		"int64":       func(f float64) any { return int64(f) },
		"string":      func(f float64) any { return jsonNumber(f) },
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			lambda := estimateOne(t, NewEstimator(), "", res("aws_lambda_function", map[string]any{
				"memory_size": form(1024), "timeout": form(30),
			}))
			if diff := cmp.Diff(3.54, lambda.MonthlyUSD); diff != "" {
				t.Errorf("Lambda monthly USD (-want +got):\n%s\nbasis: %s", diff, lambda.Basis)
			}
			table := estimateOne(t, NewEstimator(), "", res("aws_dynamodb_table", map[string]any{
				"read_capacity": form(10), "write_capacity": form(10),
				"global_secondary_index": []any{map[string]any{"read_capacity": form(5), "write_capacity": form(5)}},
			}))
			if diff := cmp.Diff(8.80, table.MonthlyUSD); diff != "" {
				t.Errorf("table monthly USD (-want +got):\n%s\nbasis: %s", diff, table.Basis)
			}
		})
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestDecodedPlanJSON decodes plan values the two ways callers do, with and
// without UseNumber, and expects the same estimate.
func TestDecodedPlanJSON(t *testing.T) {
	const values = `[
		{"address":"aws_lambda_function.api","type":"aws_lambda_function","values":{"memory_size":512,"timeout":10,"architectures":["x86_64"],"ephemeral_storage":[{"size":512}]}},
		{"address":"aws_dynamodb_table.t","type":"aws_dynamodb_table","values":{"billing_mode":"PROVISIONED","read_capacity":5,"write_capacity":5,"global_secondary_index":[],"replica":[],"point_in_time_recovery":[{"enabled":false}]}},
		{"address":"aws_cloudwatch_log_group.l","type":"aws_cloudwatch_log_group","values":{"retention_in_days":30,"log_group_class":"STANDARD"}}
	]`
	var floats, numbers []tf.PlannedResource
	if err := json.Unmarshal([]byte(values), &floats); err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader([]byte(values)))
	d.UseNumber()
	if err := d.Decode(&numbers); err != nil {
		t.Fatal(err)
	}
	if _, ok := numbers[0].Values["memory_size"].(json.Number); !ok {
		t.Fatalf("UseNumber decoded memory_size as %T", numbers[0].Values["memory_size"])
	}
	e := NewEstimator()
	want, got := e.Estimate("us-east-1", floats), e.Estimate("us-east-1", numbers)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("estimate (-float64 +json.Number):\n%s", diff)
	}
	// 0.2 + 1M × 0.2 s × 0.5 GB × 0.0000166667 = 1.866667 → 1.87;
	// 3.097 → 3.10; 0.50 + 30 / 30.4167 × 0.03 = 0.5296 → 0.53.
	if diff := cmp.Diff([]float64{1.87, 3.10, 0.53}, []float64{
		got.Lines[0].MonthlyUSD, got.Lines[1].MonthlyUSD, got.Lines[2].MonthlyUSD,
	}); diff != "" {
		t.Errorf("line figures (-want +got):\n%s", diff)
	}
}

// TestMissingAttributesUseAWSDefaults prices resources whose plan lacks the
// attributes (unknown until apply) exactly like ones that spell out AWS's
// default, and says so in the basis.
func TestMissingAttributesUseAWSDefaults(t *testing.T) {
	tests := []struct {
		name       string
		missing    tf.PlannedResource
		explicit   tf.PlannedResource
		basisNotes string
	}{{
		name:       "Lambda memory 128 MB",
		missing:    res("aws_lambda_function", map[string]any{"function_name": "f", "memory_size": nil}),
		explicit:   res("aws_lambda_function", map[string]any{"memory_size": 128.0, "timeout": 3.0, "architectures": []any{"x86_64"}}),
		basisNotes: "memory_size not in plan: AWS default 128 MB",
	}, {
		name:     "Lambda with no values at all",
		missing:  res("aws_lambda_function", nil),
		explicit: res("aws_lambda_function", map[string]any{"memory_size": 128.0}),
	}, {
		name:       "DynamoDB billing mode PROVISIONED",
		missing:    res("aws_dynamodb_table", map[string]any{"read_capacity": 5.0, "write_capacity": 5.0}),
		explicit:   res("aws_dynamodb_table", map[string]any{"billing_mode": "PROVISIONED", "read_capacity": 5.0, "write_capacity": 5.0}),
		basisNotes: "",
	}, {
		name:       "stage cache size 0.5 GB",
		missing:    res("aws_api_gateway_stage", map[string]any{"cache_cluster_enabled": true}),
		explicit:   res("aws_api_gateway_stage", map[string]any{"cache_cluster_enabled": true, "cache_cluster_size": "0.5"}),
		basisNotes: "cache_cluster_size not in plan: AWS default 0.5 GB",
	}, {
		name:       "HTTP API protocol",
		missing:    res("aws_apigatewayv2_api", nil),
		explicit:   res("aws_apigatewayv2_api", map[string]any{"protocol_type": "HTTP"}),
		basisNotes: "protocol_type not in plan: HTTP assumed",
	}, {
		name:     "log group retention never expires",
		missing:  res("aws_cloudwatch_log_group", nil),
		explicit: res("aws_cloudwatch_log_group", map[string]any{"retention_in_days": 0.0, "log_group_class": "STANDARD"}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator()
			missing := estimateOne(t, e, "", tt.missing)
			explicit := estimateOne(t, e, "", tt.explicit)
			if diff := cmp.Diff(explicit.MonthlyUSD, missing.MonthlyUSD); diff != "" {
				t.Errorf("monthly USD (-explicit +missing):\n%s\nbasis: %s", diff, missing.Basis)
			}
			if missing.MonthlyUSD <= 0 {
				t.Errorf("$%v with defaults", missing.MonthlyUSD)
			}
			if !strings.Contains(missing.Basis, tt.basisNotes) {
				t.Errorf("basis %q lacks %q", missing.Basis, tt.basisNotes)
			}
		})
	}
}

func TestS3ObjectSize(t *testing.T) {
	// Inline content: the size is read from it, not assumed.
	got := estimateOne(t, NewEstimator(), "", res("aws_s3_object", map[string]any{"content": "hello"}))
	want := Line{Address: "aws_s3_object.x", Type: "aws_s3_object", Basis: "5 bytes stored: 0.000000004657 GB-month × $0.023"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
	got = estimateOne(t, NewEstimator(), "", res("aws_s3_object", map[string]any{"content_base64": "aGVsbG8="}))
	if !strings.HasPrefix(got.Basis, "5 bytes stored") {
		t.Errorf("base64 content of 5 bytes: basis %q", got.Basis)
	}
	// An assumed size large enough to see: 2048 MB × 0.023 = 0.046 → 0.05.
	e := NewEstimator()
	e.Usage.S3ObjectMB = 2048
	got = estimateOne(t, e, "", res("aws_s3_bucket_object", map[string]any{"source": "big.bin"}))
	if diff := cmp.Diff(0.05, got.MonthlyUSD); diff != "" {
		t.Errorf("monthly USD (-want +got):\n%s\nbasis: %s", diff, got.Basis)
	}
}

// TestZeroEstimator checks that forgetting NewEstimator cannot make usage
// free.
func TestZeroEstimator(t *testing.T) {
	plan := projectPlan()
	if diff := cmp.Diff(NewEstimator().Estimate("eu-west-1", plan), Estimator{}.Estimate("eu-west-1", plan)); diff != "" {
		t.Errorf("zero Estimator differs from NewEstimator (-new +zero):\n%s", diff)
	}
}

func TestCents(t *testing.T) {
	tests := []struct {
		usd  float64
		want int64
	}{
		{0, 0},
		{-1, 0},
		{0.0000000001, 0}, // float noise, not money
		{0.0000225, 1},    // a cheap usage-priced resource still shows a cent
		{0.6166675, 62},
		{3.1000000000000005, 310},
		{3.097, 310},
		{27.74, 2774},
	}
	for _, tt := range tests {
		if got := cents(tt.usd); got != tt.want {
			t.Errorf("cents(%v) = %d, want %d", tt.usd, got, tt.want)
		}
	}
}
