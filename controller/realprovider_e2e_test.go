//go:build e2e

package controller

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/cost"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// awsHarness is the reconciler with everything production gives it for
// AWS: the real terraform with the real hashicorp/aws provider (the test
// double where its mirror is missing, see awstest.AWSProviderMirror)
// against the emulator, per-project STS credentials, the tagged inventory
// and the orphan sweep.
type awsHarness struct {
	*harness
	emu       *awstest.Emulator
	real      bool
	refresher *tfaws.Refresher
	orphans   *tfaws.Orphans
}

func newAWSHarness(t *testing.T) *awsHarness {
	t.Helper()
	emu := awstest.New(t)
	creds, err := tfaws.NewCredentials(tfaws.CredentialsConfig{Base: emu.Config(),
		RoleARN: "arn:aws:iam::000000000000:role/ChartAppHerokuRole", ExternalID: "xid"})
	if err != nil {
		t.Fatal(err)
	}
	h := newStoreHarness(t, []func(*Config){func(c *Config) {
		c.Credentials = creds
		c.Environment = "test"
		c.MaxResourcesPerUser = 200
		c.MaxCostPerProjectUSD = 100
		c.MaxWorkersPerUser = len(corpusProjects)
		c.Concurrency = len(corpusProjects)
		// Only the tagged inventory finds drift here: the slow re-plan
		// would hide a comparison that misses it.
		c.DriftCheckInterval = -1
		c.OperationTimeout = 45 * time.Minute
		// The harness's clock stands still while a pass runs (it moves
		// only when the test advances it), so the reconciler, which
		// renews on that clock, never renews; the lease runs out on the
		// database's clock all the same. A real-provider plan takes
		// minutes under load: the lease must outlast a whole pass (two
		// plans, an apply and the outputs at most), or the apply finds it
		// lapsed ("cannot lock the project's state for apply: lease
		// lost"). TestASlowPlanKeepsItsLeaseAndApplies shows the real
		// renewals keeping a plan's lease across many lease durations.
		c.LeaseDuration = 4 * c.OperationTimeout
	}})
	h.cfg.Inventory = h.st
	mirror, real := awstest.AWSProviderMirror(t)
	h.engine, err = tf.New(tf.Config{
		BinaryPath: terraformBinary(t), WorkRoot: t.TempDir(), PGConnStr: h.dbURL,
		FilesystemMirror: mirror, ProviderLock: awstest.MirrorLock(real), AWSEndpointURL: emu.URL, Policy: corpusRules(),
		Environment: "test", StopGrace: 5 * time.Second, LockTimeout: 30 * time.Second,
		OperationTimeout: 45 * time.Minute, Logger: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.tf = h.engine
	h.c = New(h.cfg, h.st, h.tf)
	refresher, err := tfaws.NewRefresher(tfaws.InventoryConfig{Base: emu.Config(), Regions: []string{"us-east-1", "us-west-2"}, Store: h.st})
	if err != nil {
		t.Fatal(err)
	}
	orphans, err := tfaws.NewOrphans(tfaws.OrphanConfig{Base: emu.Config(), Store: h.st, Mode: tfaws.CleanupDelete, Grace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return &awsHarness{harness: h, emu: emu, real: real, refresher: refresher, orphans: orphans}
}

const corpusUser = "corpus"

// The guide's whole resource set through its whole life, with the real
// aws provider: the corpus's four projects (a static site, an HTTP API, a
// worker and a module used in two regions) between them hold every type
// of the guide. Each is applied by the reconciler and carries the six
// platform tags in the emulator; the estimate of the real plan is the
// documented price table's; an in-place update; drift (a table deleted
// out of band is re-created, a platform tag changed out of band is
// restored) found by the tagged inventory; TTL expiry leaves nothing; and
// with the rows gone the orphan sweep deletes what is left, in dependency
// order.
func TestCorpusThroughItsWholeLifeWithTheRealProvider(t *testing.T) {
	h := newAWSHarness(t)
	if !h.real {
		t.Skip("the corpus needs the real aws provider: the test double implements only buckets and tables")
	}
	ctx := context.Background()
	ttl := map[string]int{"static-site": 60, "module-alias": 60, "http-api": 24 * 60, "worker": 24 * 60}
	files := map[string]map[string]string{}
	for _, name := range corpusProjects {
		files[name] = corpusProject(t, name)
		h.put(corpusUser, name, store.Spec{Region: "us-east-1", Files: files[name], TTLMinutes: ttl[name], MaxMonthlyCostUSD: 50})
	}
	start := time.Now()
	h.reconcileAllDue()
	t.Logf("four projects applied in %s", time.Since(start).Round(time.Second))
	for _, name := range corpusProjects {
		h.requirePhase(name, store.PhaseReady)
	}

	// Tags, read from the emulator, on every taggable resource.
	taggable := map[string]bool{}
	for _, name := range corpusProjects {
		p := h.get(corpusUser, name)
		want := tf.PlatformTags(tf.Project{UserID: corpusUser, ProjectID: name, CreatedAt: p.CreatedAt}, "test")
		for _, r := range h.state(name) {
			read, ok := tagReaders[r.Type]
			if !ok {
				continue
			}
			taggable[r.Type] = true
			got := read(t, h.emu, r.ARN)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s %s: tag %s = %q, want %q (all: %v)", name, r.Address, k, got[k], v, got)
				}
			}
		}
	}
	var types []string
	for typ := range taggable {
		types = append(types, typ)
	}
	sort.Strings(types)
	if diff := cmp.Diff([]string{"aws_apigatewayv2_api", "aws_apigatewayv2_stage", "aws_cloudwatch_log_group", "aws_dynamodb_table",
		"aws_iam_role", "aws_lambda_function", "aws_s3_bucket", "aws_s3_object"}, types); diff != "" {
		t.Errorf("taggable types checked (-want +got):\n%s", diff)
	}

	// The estimate of each real plan, line by line, against docs/cost.md.
	for _, name := range corpusProjects {
		got := h.lastEstimate(name)
		if diff := cmp.Diff(documentedCost[name], linesByAddress(got)); diff != "" {
			t.Errorf("%s: estimate of the real plan (-docs/cost.md +estimator):\n%s", name, diff)
		}
	}

	// The inventory sees exactly what each state holds: every ARN the real
	// provider wrote parses, round-trips, and is found (or is of a type
	// the Tagging API does not list).
	h.refresh()
	for _, name := range corpusProjects {
		for _, r := range h.state(name) {
			if r.ARN == "" {
				continue
			}
			a, ok := tfaws.ParseARN(r.ARN)
			if !ok || a.String() != r.ARN {
				t.Errorf("%s %s: ARN %q does not round-trip (%+v)", name, r.Address, r.ARN, a)
			}
		}
		if c := h.compare(name); !c.InSync() {
			t.Errorf("%s after apply: %+v", name, c)
		}
	}

	// An in-place update of every type that has one: the API's function
	// memory, log retention, role (session duration), inline policy (one
	// more action), HTTP API (description), integration (timeout), route
	// (key) and stage (a tag); the worker's table capacity and code
	// bucket (a tag); the site's page (an object) and bucket policy.
	// Nothing is replaced. (A Lambda permission has no argument that
	// changes in place; an attachment is only its two names.)
	apiBefore := arnsOf(h.state("http-api"))
	siteBefore := arnsOf(h.state("static-site"))
	for _, edit := range []struct{ project, file, old, new string }{
		{"http-api", "main.tf", "memory_size   = 128", "memory_size   = 256"},
		{"http-api", "main.tf", "retention_in_days = 7", "retention_in_days = 14"},
		{"http-api", "main.tf", "path = \"/corpus/\"\n", "path = \"/corpus/\"\n  max_session_duration = 7200\n"},
		{"http-api", "main.tf", `"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"`, `"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query"`},
		{"http-api", "main.tf", "protocol_type = \"HTTP\"\n", "protocol_type = \"HTTP\"\n  description   = \"the corpus HTTP API\"\n"},
		{"http-api", "main.tf", "payload_format_version = \"2.0\"\n", "payload_format_version = \"2.0\"\n  timeout_milliseconds   = 15000\n"},
		{"http-api", "main.tf", `route_key = "GET /"`, `route_key = "GET /items"`},
		{"http-api", "main.tf", "auto_deploy = true\n", "auto_deploy = true\n  tags        = { Tier = \"public\" }\n"},
		{"worker", "main.tf", "read_capacity  = 5", "read_capacity  = 10"},
		{"worker", "main.tf", "bucket = \"${local.name}-code\"\n", "bucket = \"${local.name}-code\"\n  tags   = { Purpose = \"code\" }\n"},
		{"static-site", "site/index.html", "<p>Served from S3.</p>", "<p>Served from S3, updated.</p>"},
		{"static-site", "main.tf", `Sid       = "PublicRead"`, `Sid       = "PublicReadOfTheSite"`},
	} {
		files[edit.project][edit.file] = replaceOnce(t, files[edit.project][edit.file], edit.old, edit.new)
	}
	for _, name := range []string{"http-api", "worker", "static-site"} {
		h.put(corpusUser, name, store.Spec{Region: "us-east-1", Files: files[name], TTLMinutes: ttl[name], MaxMonthlyCostUSD: 50})
	}
	h.reconcileAllDue()
	for _, name := range []string{"http-api", "worker", "static-site"} {
		h.requirePhase(name, store.PhaseReady)
		if add, change, destroy := lastPlanCounts(h, name); add != 0 || destroy != 0 || change == 0 {
			t.Errorf("%s's update planned %d to add, %d to change, %d to destroy; want changes in place only", name, add, change, destroy)
		}
	}
	if diff := cmp.Diff(apiBefore, arnsOf(h.state("http-api"))); diff != "" {
		t.Errorf("the update replaced resources (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(siteBefore, arnsOf(h.state("static-site"))); diff != "" {
		t.Errorf("the update replaced resources (-before +after):\n%s", diff)
	}
	fn, err := lambda.NewFromConfig(h.emu.Config()).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: awssdk.String("corpus-http-api")})
	if err != nil || awssdk.ToInt32(fn.MemorySize) != 256 {
		t.Errorf("function after the update: %v %v", fn, err)
	}
	if got := logRetention(t, h.emu, "/aws/lambda/corpus-http-api"); got != 14 {
		t.Errorf("log retention after the update: %d", got)
	}
	if d := describeTable(t, h.emu, "corpus-worker-jobs"); awssdk.ToInt64(d.ProvisionedThroughput.ReadCapacityUnits) != 10 {
		t.Errorf("read capacity after the update: %+v", d.ProvisionedThroughput)
	}
	iamc := iam.NewFromConfig(h.emu.Config())
	if role, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("corpus-http-api-fn")}); err != nil || awssdk.ToInt32(role.Role.MaxSessionDuration) != 7200 {
		t.Errorf("role after the update: %v %v", role, err)
	}
	if pol, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: awssdk.String("corpus-http-api-fn"), PolicyName: awssdk.String("own-table-and-logs")}); err != nil || !strings.Contains(awssdk.ToString(pol.PolicyDocument), "dynamodb:Query") {
		t.Errorf("inline policy after the update: %v %v", pol, err)
	}
	apigw := apigatewayv2.NewFromConfig(h.emu.Config())
	apiID := h.stateAttr("http-api", "aws_apigatewayv2_api.http", "id")
	if api, err := apigw.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: awssdk.String(apiID)}); err != nil || awssdk.ToString(api.Description) != "the corpus HTTP API" {
		t.Errorf("HTTP API after the update: %v %v", api, err)
	}
	if in, err := apigw.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: awssdk.String(apiID),
		IntegrationId: awssdk.String(h.stateAttr("http-api", "aws_apigatewayv2_integration.fn", "id"))}); err != nil || awssdk.ToInt32(in.TimeoutInMillis) != 15000 {
		t.Errorf("integration after the update: %v %v", in, err)
	}
	if r, err := apigw.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: awssdk.String(apiID),
		RouteId: awssdk.String(h.stateAttr("http-api", "aws_apigatewayv2_route.get", "id"))}); err != nil || awssdk.ToString(r.RouteKey) != "GET /items" {
		t.Errorf("route after the update: %v %v", r, err)
	}
	stageARN := h.stateAttr("http-api", "aws_apigatewayv2_stage.default", "arn")
	if tags := apiTags(t, h.emu, stageARN); tags["Tier"] != "public" || tags["ProjectId"] != "http-api" {
		t.Errorf("stage tags after the update: %v", tags)
	}
	if tags := tagReaders["aws_s3_bucket"](t, h.emu, "arn:aws:s3:::corpus-worker-code"); tags["Purpose"] != "code" || tags["ProjectId"] != "worker" {
		t.Errorf("code bucket tags after the update: %v", tags)
	}
	if page := objectBody(t, h.emu, "corpus-static-site", "index.html"); !strings.Contains(page, "updated") {
		t.Errorf("index.html after the update: %q", page)
	}
	if pol, err := s3Client(h.emu).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: awssdk.String("corpus-static-site")}); err != nil || !strings.Contains(awssdk.ToString(pol.Policy), "PublicReadOfTheSite") {
		t.Errorf("bucket policy after the update: %v %v", pol, err)
	}

	// Drift: the API's table deleted out of band, and the worker's log
	// group re-tagged as another environment. The inventory finds both; the
	// next passes re-create the table and restore the tag.
	ddb := dynamodb.NewFromConfig(h.emu.Config())
	if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: awssdk.String("corpus-http-api-items")}); err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(h.emu.Config())
	group := logGroupARN(t, h.emu, "/aws/lambda/corpus-worker")
	if _, err := logs.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: awssdk.String(group), Tags: map[string]string{"Environment": "tampered"}}); err != nil {
		t.Fatal(err)
	}
	// And the worker's function deleted, and the API's stage re-tagged.
	if _, err := lambda.NewFromConfig(h.emu.Config()).DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: awssdk.String("corpus-worker")}); err != nil {
		t.Fatal(err)
	}
	if _, err := apigatewayv2.NewFromConfig(h.emu.Config()).TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: awssdk.String(stageARN),
		Tags: map[string]string{"Environment": "tampered"}}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	for name, drifted := range map[string]bool{"http-api": true, "worker": true, "static-site": false} {
		if c := h.compare(name); c.Drifted() != drifted {
			t.Errorf("%s after the out-of-band changes: drifted %v, want %v (%+v)", name, c.Drifted(), drifted, c)
		}
	}
	h.clock.Advance(h.cfg.ResyncInterval + time.Minute)
	h.reconcileAllDue()
	h.requirePhase("http-api", store.PhaseReady)
	h.requirePhase("worker", store.PhaseReady)
	if tags := tagReaders["aws_dynamodb_table"](t, h.emu, tableARN(t, h.emu, "corpus-http-api-items")); tags["ProjectId"] != "http-api" {
		t.Errorf("the re-created table's tags: %v", tags)
	}
	if tags := tagReaders["aws_cloudwatch_log_group"](t, h.emu, group); tags["Environment"] != "test" {
		t.Errorf("the log group's Environment tag was not restored: %v", tags)
	}
	workerFn, err := lambda.NewFromConfig(h.emu.Config()).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: awssdk.String("corpus-worker")})
	if err != nil {
		t.Errorf("the worker's function was not re-created: %v", err)
	} else if workerFn.Tags["ProjectId"] != "worker" {
		t.Errorf("the re-created function's tags: %v", workerFn.Tags)
	}
	if tags := apiTags(t, h.emu, stageARN); tags["Environment"] != "test" {
		t.Errorf("the stage's Environment tag was not restored: %v", tags)
	}
	h.refresh()
	for _, name := range []string{"http-api", "worker"} {
		if c := h.compare(name); !c.InSync() {
			t.Errorf("%s after the drift was corrected: %+v", name, c)
		}
	}

	// TTL expiry: the static site and the module project (in two regions)
	// are destroyed, and nothing of theirs is left in the emulator.
	h.clock.Advance(time.Hour)
	h.reconcileAllDue()
	for _, name := range []string{"static-site", "module-alias"} {
		if p, err := h.st.GetProject(ctx, store.Key{UserID: corpusUser, ProjectID: name}); err == nil {
			t.Errorf("%s outlived its TTL: %s %s", name, p.Status.Phase, p.Status.LastError)
		}
	}
	if bucketExists(t, h.emu, "corpus-static-site") {
		t.Error("the expired static site's bucket is still there")
	}
	for _, table := range []string{"corpus-modalias-east", "corpus-modalias-west"} {
		if tableExists(t, h.emu, table) {
			t.Errorf("the expired project's table %s is still there", table)
		}
	}
	for _, g := range []string{"/corpus/corpus-modalias-east", "/corpus/corpus-modalias-west"} {
		if logGroupExists(t, h.emu, g) {
			t.Errorf("the expired project's log group %s is still there", g)
		}
	}

	// The rows of the API and the worker gone (their resources are not):
	// the sweep deletes every tagged resource of theirs, in dependency
	// order.
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DELETE FROM projects WHERE user_id = $1 AND project_id IN ('http-api', 'worker')`, corpusUser); err != nil {
		t.Fatal(err)
	}
	// With their states: a forced removal drops the state whatever the
	// destroy left, and the sweep never deletes what a state holds.
	if _, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{tf.DefaultPGSchema, "states"}.Sanitize()+` WHERE name = ANY($1)`,
		[]string{tf.WorkspaceName(corpusUser, "http-api"), tf.WorkspaceName(corpusUser, "worker")}); err != nil {
		t.Fatal(err)
	}
	// An orphan is deleted once two listings (a grace period apart, 1 ns
	// here) show it: the first sweep only marks them.
	h.refresh()
	if _, err := h.orphans.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	removals, err := h.orphans.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range removals {
		if !r.Deleted {
			t.Errorf("sweep left %s: %s%s", r.ARN, r.Skipped, r.Error)
		}
		if len(order) == 0 || order[len(order)-1] != r.Type {
			order = append(order, r.Type)
		}
	}
	if diff := cmp.Diff([]string{"apigateway:stages", "apigateway:apis", "lambda:function", "logs:log-group", "dynamodb:table", "s3:bucket", "iam:role"}, order); diff != "" {
		t.Errorf("sweep order by type (-want +got):\n%s", diff)
	}
	if left := h.taggedLeft(); len(left) != 0 {
		t.Errorf("after the sweep the emulator still holds tagged resources: %v", left)
	}
	// IAM roles are not in the Tagging API's GetResources (AWS documents
	// it): the inventory lists them through IAM, and the sweep removes
	// them last, with their inline policies and attachments.
	for _, role := range []string{"corpus-http-api-fn", "corpus-worker-fn"} {
		if _, err := iam.NewFromConfig(h.emu.Config()).GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(role)}); err == nil {
			t.Errorf("role %s is still there after the sweep", role)
		}
	}
	// Nothing of the four projects is left, tagged or not.
	if left := emulatorHolds(t, h.emu); len(left) != 0 {
		t.Errorf("the emulator still holds: %v", left)
	}
}

// documentedCost is each corpus project's estimate worked out by hand
// from docs/cost.md's price table and usage assumptions (us-east-1 and
// us-west-2 have multiplier 1), rounded up to cents per line:
//
//   - on-demand table: 1M reads × $0.000000125 + 1M writes × $0.000000625
//   - 1 GB × $0.25 = $1.00
//   - provisioned 5/5: 5 × 730 × $0.00013 + 5 × 730 × $0.00065 + $0.25 = $3.097
//   - log group: 1 GB × $0.50 + 1 GB × retention/30.42 months × $0.03
//   - bucket: 5 GB × $0.023 + 10,000 × $0.000005 + 90,000 × $0.0000004 = $0.201
//   - object: its size in GB × $0.023, under a cent
//   - function: 1M × $0.0000002 + 1M × 0.2 s × memory GB × $0.0000166667
//     (x86_64) or $0.0000133334 (arm64)
//   - HTTP API: 1M × $0.000001 = $1.00
//   - IAM, permissions, integrations, routes, stages and bucket
//     configurations: free
var documentedCost = map[string]map[string]float64{
	"static-site": {
		"aws_s3_bucket.site": 0.21, "aws_s3_object.index": 0.01, "aws_s3_object.not_found": 0.01, "aws_s3_object.style": 0.01,
		"aws_s3_bucket_website_configuration.site": 0, "aws_s3_bucket_public_access_block.site": 0, "aws_s3_bucket_policy.public_read": 0,
	},
	"http-api": {
		"aws_dynamodb_table.items": 1.00, "aws_cloudwatch_log_group.fn": 0.51, // 0.5 + 7/30.42 × 0.03
		"aws_s3_bucket.code": 0.21, "aws_s3_object.code": 0.01,
		"aws_iam_role.fn": 0, "aws_iam_role_policy.own_table_and_logs": 0, "aws_iam_role_policy_attachment.basic": 0,
		"aws_lambda_function.api":         0.62, // 0.2 + 25,000 GB-s × 0.0000166667
		"aws_apigatewayv2_api.http":       1.00,
		"aws_apigatewayv2_integration.fn": 0, "aws_apigatewayv2_route.get": 0, "aws_apigatewayv2_route.post": 0,
		"aws_apigatewayv2_stage.default": 0, "aws_lambda_permission.api": 0,
	},
	"worker": {
		"aws_dynamodb_table.jobs": 3.10, "aws_cloudwatch_log_group.fn": 0.52, // 0.5 + 14/30.42 × 0.03
		"aws_s3_bucket.code": 0.21, "aws_s3_object.code": 0.01,
		"aws_iam_role.fn": 0, "aws_iam_role_policy.jobs": 0,
		"aws_lambda_function.worker": 0.87, // 0.2 + 50,000 GB-s × 0.0000133334
	},
	"module-alias": {
		"module.east.aws_dynamodb_table.jobs": 1.00, "module.west.aws_dynamodb_table.jobs": 1.00,
		"module.east.aws_cloudwatch_log_group.consumers": 0.51, "module.west.aws_cloudwatch_log_group.consumers": 0.51, // 0.5 + 3/30.42 × 0.03
	},
}

func (h *awsHarness) requirePhase(name string, want store.Phase) {
	h.t.Helper()
	p := h.get(corpusUser, name)
	if p.Status.Phase != want {
		h.t.Fatalf("%s is %s, want %s: %s (runs %v)", name, p.Status.Phase, want, p.Status.LastError, h.runOps(corpusUser, name))
	}
}

// state is what the project's state holds, read from the pg backend as
// the reconciler's inventory check reads it (no terraform process).
func (h *awsHarness) state(name string) []tf.StateResource {
	h.t.Helper()
	raw, exists, err := h.st.TerraformState(context.Background(), tf.DefaultPGSchema, tf.WorkspaceName(corpusUser, name))
	if err != nil || !exists {
		h.t.Fatalf("state of %s: exists %v, %v", name, exists, err)
	}
	rs, err := tf.ParseState(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

// reconcileAllDue is reconcileDue with the due projects reconciled at
// once, as a reconciler with that much concurrency does: each terraform
// run of the real provider takes seconds to minutes, mostly starting it.
func (h *awsHarness) reconcileAllDue() {
	h.t.Helper()
	ctx := context.Background()
	for range 10 {
		var wg sync.WaitGroup
		n := 0
		for {
			p, ok, err := h.c.claim(ctx)
			if err != nil {
				h.t.Fatal(err)
			}
			if !ok {
				break
			}
			h.c.track(p) // before the next claim looks at in-flight keys
			n++
			wg.Go(func() { h.c.reconcileClaimed(ctx, ctx, p) })
		}
		wg.Wait()
		if n == 0 {
			return
		}
	}
	h.t.Fatal("projects stay due forever")
}

func (h *awsHarness) refresh() {
	h.t.Helper()
	if err := h.refresher.Refresh(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// compare is the inventory check the reconciler makes.
func (h *awsHarness) compare(name string) tfaws.Comparison {
	h.t.Helper()
	p := h.get(corpusUser, name)
	inv, err := h.st.Inventory(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	facts := tfaws.ProjectFacts{UserID: corpusUser, ProjectID: name, Region: "us-east-1",
		PlatformTags: tf.PlatformTags(tf.Project{UserID: corpusUser, ProjectID: name, CreatedAt: p.CreatedAt}, "test"),
		StateARNs:    arnsOf(h.state(name)), SettledAt: time.Now().Add(-time.Second)}
	return tfaws.CompareProject(facts, inv)
}

// lastEstimate is the cost estimate of the project's latest plan run.
func (h *awsHarness) lastEstimate(name string) cost.Estimate {
	h.t.Helper()
	runs, err := h.st.ListRuns(context.Background(), store.Key{UserID: corpusUser, ProjectID: name}, 100, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range runs {
		if r.Operation == store.OpPlan && len(r.CostEstimate) > 0 {
			var e cost.Estimate
			if err := json.Unmarshal(r.CostEstimate, &e); err != nil {
				h.t.Fatal(err)
			}
			return e
		}
	}
	h.t.Fatalf("%s has no priced plan run", name)
	return cost.Estimate{}
}

// taggedLeft lists what the emulator still holds with the platform's
// ManagedBy tag, in both regions.
func (h *awsHarness) taggedLeft() []string {
	h.t.Helper()
	h.refresh()
	inv, err := h.st.Inventory(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var left []string
	for _, it := range inv.Items {
		left = append(left, it.ARN)
	}
	return left
}

// lastPlanCounts is the add/change/destroy counts of the project's
// latest plan.
func lastPlanCounts(h *awsHarness, name string) (add, change, destroy int) {
	h.t.Helper()
	runs, err := h.st.ListRuns(context.Background(), store.Key{UserID: corpusUser, ProjectID: name}, 100, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range runs {
		if r.Operation == store.OpPlan && len(r.PlanSummary) > 0 {
			var s struct{ Add, Change, Destroy int }
			if err := json.Unmarshal(r.PlanSummary, &s); err != nil {
				h.t.Fatal(err)
			}
			return s.Add, s.Change, s.Destroy
		}
	}
	h.t.Fatalf("%s has no plan summary", name)
	return
}

func linesByAddress(e cost.Estimate) map[string]float64 {
	out := map[string]float64{}
	for _, l := range e.Lines {
		out[l.Address] = l.MonthlyUSD
	}
	return out
}

func arnsOf(rs []tf.StateResource) []string {
	var out []string
	for _, r := range rs {
		if r.ARN != "" {
			out = append(out, r.ARN)
		}
	}
	sort.Strings(out)
	return out
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q is not in the file exactly once", old)
	}
	return strings.Replace(s, old, new, 1)
}

// tagReaders read a resource's live tags from the emulator by its ARN,
// for every taggable type of the corpus.
var tagReaders = map[string]func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string{
	"aws_s3_bucket": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		out, err := s3Client(emu).GetBucketTagging(context.Background(), &s3.GetBucketTaggingInput{Bucket: awssdk.String(strings.TrimPrefix(arn, "arn:aws:s3:::"))})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		tags := map[string]string{}
		for _, tag := range out.TagSet {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		return tags
	},
	"aws_s3_object": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(arn, "arn:aws:s3:::"), "/")
		out, err := s3Client(emu).GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: awssdk.String(bucket), Key: awssdk.String(key)})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		tags := map[string]string{}
		for _, tag := range out.TagSet {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		return tags
	},
	"aws_dynamodb_table": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		out, err := dynamodb.NewFromConfig(emu.Config()).ListTagsOfResource(context.Background(), &dynamodb.ListTagsOfResourceInput{ResourceArn: awssdk.String(arn)})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		tags := map[string]string{}
		for _, tag := range out.Tags {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		return tags
	},
	"aws_iam_role": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		name := arn[strings.LastIndex(arn, "/")+1:]
		out, err := iam.NewFromConfig(emu.Config()).ListRoleTags(context.Background(), &iam.ListRoleTagsInput{RoleName: awssdk.String(name)})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		tags := map[string]string{}
		for _, tag := range out.Tags {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		return tags
	},
	"aws_lambda_function": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		out, err := lambda.NewFromConfig(emu.Config()).ListTags(context.Background(), &lambda.ListTagsInput{Resource: awssdk.String(arn)})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		return out.Tags
	},
	"aws_cloudwatch_log_group": func(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
		out, err := cloudwatchlogs.NewFromConfig(emu.Config()).ListTagsForResource(context.Background(), &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: awssdk.String(strings.TrimSuffix(arn, ":*"))})
		if err != nil {
			t.Fatalf("tags of %s: %v", arn, err)
		}
		return out.Tags
	},
	"aws_apigatewayv2_api":   apiTags,
	"aws_apigatewayv2_stage": apiTags,
}

func apiTags(t *testing.T, emu *awstest.Emulator, arn string) map[string]string {
	out, err := apigatewayv2.NewFromConfig(emu.Config()).GetTags(context.Background(), &apigatewayv2.GetTagsInput{ResourceArn: awssdk.String(arn)})
	if err != nil {
		t.Fatalf("tags of %s: %v", arn, err)
	}
	return out.Tags
}

func s3Client(emu *awstest.Emulator) *s3.Client {
	return s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

func bucketExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	_, err := s3Client(emu).HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: awssdk.String(name)})
	return err == nil
}

func describeTable(t *testing.T, emu *awstest.Emulator, name string) *ddbtypes.TableDescription {
	t.Helper()
	out, err := dynamodb.NewFromConfig(emu.Config()).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: awssdk.String(name)})
	if err != nil {
		t.Fatalf("table %s: %v", name, err)
	}
	return out.Table
}

func tableExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	_, err := dynamodb.NewFromConfig(emu.Config()).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: awssdk.String(name)})
	return err == nil
}

func tableARN(t *testing.T, emu *awstest.Emulator, name string) string {
	return awssdk.ToString(describeTable(t, emu, name).TableArn)
}

func logGroup(t *testing.T, emu *awstest.Emulator, name string) (retention int32, arn string, found bool) {
	t.Helper()
	out, err := cloudwatchlogs.NewFromConfig(emu.Config()).DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: awssdk.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range out.LogGroups {
		if awssdk.ToString(g.LogGroupName) == name {
			return awssdk.ToInt32(g.RetentionInDays), strings.TrimSuffix(awssdk.ToString(g.Arn), ":*"), true
		}
	}
	return 0, "", false
}

func logRetention(t *testing.T, emu *awstest.Emulator, name string) int32 {
	r, _, _ := logGroup(t, emu, name)
	return r
}

func logGroupARN(t *testing.T, emu *awstest.Emulator, name string) string {
	_, arn, ok := logGroup(t, emu, name)
	if !ok {
		t.Fatalf("no log group %s", name)
	}
	return arn
}

func logGroupExists(t *testing.T, emu *awstest.Emulator, name string) bool {
	_, _, ok := logGroup(t, emu, name)
	return ok
}

// emulatorHolds lists every bucket, table, function, log group, HTTP API
// and IAM role the emulator holds, tagged or not.
func emulatorHolds(t *testing.T, emu *awstest.Emulator) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	buckets, err := s3Client(emu).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets.Buckets {
		out = append(out, "bucket "+awssdk.ToString(b.Name))
	}
	tables, err := dynamodb.NewFromConfig(emu.Config()).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables.TableNames {
		out = append(out, "table "+name)
	}
	fns, err := lambda.NewFromConfig(emu.Config()).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns.Functions {
		out = append(out, "function "+awssdk.ToString(f.FunctionName))
	}
	groups, err := cloudwatchlogs.NewFromConfig(emu.Config()).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.LogGroups {
		out = append(out, "log group "+awssdk.ToString(g.LogGroupName))
	}
	apis, err := apigatewayv2.NewFromConfig(emu.Config()).GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apis.Items {
		out = append(out, "API "+awssdk.ToString(a.Name))
	}
	roles, err := iam.NewFromConfig(emu.Config()).ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Roles {
		out = append(out, "role "+awssdk.ToString(r.Arn))
	}
	return out
}

// stateAttr is one attribute of a root module resource of the project's
// state (type.name), read from the pg backend.
func (h *awsHarness) stateAttr(name, address, attr string) string {
	h.t.Helper()
	raw, exists, err := h.st.TerraformState(context.Background(), tf.DefaultPGSchema, tf.WorkspaceName(corpusUser, name))
	if err != nil || !exists {
		h.t.Fatalf("state of %s: exists %v, %v", name, exists, err)
	}
	var state struct {
		Resources []struct {
			Module, Type, Name string
			Instances          []struct {
				Attributes map[string]any `json:"attributes"`
			}
		}
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		h.t.Fatal(err)
	}
	for _, r := range state.Resources {
		if r.Module == "" && r.Type+"."+r.Name == address && len(r.Instances) == 1 {
			if v, _ := r.Instances[0].Attributes[attr].(string); v != "" {
				return v
			}
		}
	}
	h.t.Fatalf("%s's state has no %s with a %s", name, address, attr)
	return ""
}

func objectBody(t *testing.T, emu *awstest.Emulator, bucket, key string) string {
	t.Helper()
	out, err := s3Client(emu).GetObject(context.Background(), &s3.GetObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String(key)})
	if err != nil {
		t.Fatalf("object %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
