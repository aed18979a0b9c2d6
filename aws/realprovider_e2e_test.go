//go:build e2e

package aws_test

import (
	"errors"
	"os"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	tfaws "github.com/tenantform/tenantform/aws"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf"
)

// The smallest real-provider test: an on-demand DynamoDB table applied
// through the engine with the real hashicorp/aws against the emulator,
// carrying the six platform tags, then destroyed. It is behind e2e with
// the rest: each of its four terraform processes loads the provider's
// 400 MB schema, 80 s of the quick suite's 2-core budget.
func TestRealProviderAppliesAndDestroysATable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform with the aws provider")
	}
	ctx := t.Context()
	emu, _, engine, creds := newE2E(t, 0)
	createdAt := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := tf.Project{UserID: "quick", ProjectID: "table", Region: "us-east-1", CreatedAt: createdAt, Files: map[string]string{
		"main.tf": `
resource "aws_dynamodb_table" "items" {
  name         = "quick-table-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}
`}}
	c, err := creds.ForProject(ctx, p.UserID, p.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	plan, err := engine.Plan(ctx, p, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Apply(ctx, p, plan, c); err != nil {
		t.Fatal(err)
	}
	want := tf.PlatformTags(p, "test")
	if diff := cmp.Diff(want, tableTags(t, emu, "quick-table-items")); diff != "" {
		t.Errorf("tags of the table (-want +got):\n%s", diff)
	}
	if _, err := engine.Destroy(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, emu, "quick-table-items") {
		t.Fatal("destroy left the table")
	}
	t.Logf("planned, applied and destroyed in %s", time.Since(start).Round(time.Millisecond))
}

func tableTags(t *testing.T, emu *awstest.Emulator, name string) map[string]string {
	t.Helper()
	ddb := dynamodb.NewFromConfig(emu.Config())
	d, err := ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: awssdk.String(name)})
	if err != nil {
		t.Fatalf("table %s: %v", name, err)
	}
	out, err := ddb.ListTagsOfResource(t.Context(), &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tag := range out.Tags {
		tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
	}
	return tags
}

// newE2E is an emulator, a store and an engine running real terraform with
// the real aws provider (awstest.AWSProviderMirror: the test double where
// the real one is missing), sharing one database; stopGrace 0 keeps the
// default.
func newE2E(t *testing.T, stopGrace time.Duration) (*awstest.Emulator, *store.Store, *tf.Engine, *tfaws.Credentials) {
	t.Helper()
	ctx := t.Context()
	emu := awstest.New(t)
	// One database for tenantform's tables and terraform's pg backend, as
	// in production.
	dbURL := storetest.NewDatabase(t)
	st, err := store.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mirror, real := awstest.AWSProviderMirror(t)
	bin, _, err := tf.FindBinary(ctx, tf.FindOptions{TFPath: os.Getenv("TF_PATH")})
	if errors.Is(err, tf.ErrBinaryNotFound) {
		t.Skip("no terraform binary")
	}
	if err != nil {
		t.Fatal(err)
	}
	engine, err := tf.New(tf.Config{
		BinaryPath:       bin,
		WorkRoot:         t.TempDir(),
		PGConnStr:        dbURL,
		FilesystemMirror: mirror,
		ProviderLock:     awstest.MirrorLock(real),
		AWSEndpointURL:   emu.URL,
		Environment:      "test",
		StopGrace:        stopGrace,
		// The real provider takes seconds to start, minutes on a loaded
		// machine: the default 10-minute limit is for tenants, not tests.
		OperationTimeout: 30 * time.Minute,
		Logger:           zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := tfaws.NewCredentials(tfaws.CredentialsConfig{Base: emu.Config(), RoleARN: testRole, ExternalID: "xid"})
	if err != nil {
		t.Fatal(err)
	}
	return emu, st, engine, creds
}
