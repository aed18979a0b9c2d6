//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf"
)

// The world TestSteadyStateProcess seeds: n Ready projects of n/10 users
// (u00000…, ten projects each), each with one S3 bucket in its terraform
// state (the pg backend's row, as terraform writes it), the same bucket
// in the emulator with the platform's tags, and the tagged inventory a
// previous listing stored, so that a reconciler finds nothing to do.

// seedEnvironment is the ENVIRONMENT of the reconciler and the Environment
// tag of every bucket.
const seedEnvironment = "bench"

// steadyMainTF is every project's configuration (never planned: nothing
// drifts).
const steadyMainTF = `variable "bucket" {
  type = string
}
resource "aws_s3_bucket" "site" {
  bucket = var.bucket
}
`

// seeded is one project as seeded.
type seeded struct {
	user, project, bucket string
}

func seededProject(i int) seeded {
	s := seeded{user: fmt.Sprintf("u%05d", (i-1)/10), project: fmt.Sprintf("p%06d", i)}
	s.bucket = "b-" + s.user + "-" + s.project
	return s
}

// platformTags are the tags tenantform renders into the provider's
// default_tags (tf.PlatformTags) for a project created at created.
func (s seeded) platformTags(created time.Time) map[string]string {
	return tf.PlatformTags(tf.Project{UserID: s.user, ProjectID: s.project, CreatedAt: created}, seedEnvironment)
}

// seedBatch bounds one seeding transaction: each inserted project takes an
// advisory lock (the projects_lock_key trigger), and a transaction holds
// at most max_locks_per_transaction × max_connections of them.
const seedBatch = 5000

// seedProjects inserts n Ready projects, created at created, verified by
// a plan at verified, due for their resync at a random time within the
// next resync (as a reconciler that has run for a while leaves them), and
// their terraform states. It returns the latest due time seeded.
func seedProjects(ctx context.Context, t *testing.T, st *store.Store, db *pgxpool.Pool, n int, created, verified time.Time, resync time.Duration) time.Time {
	t.Helper()
	tmpl := store.Key{UserID: "seed", ProjectID: "template"}
	if _, _, err := st.PutSpec(ctx, tmpl, store.Spec{Region: "us-east-1", Files: map[string]string{"main.tf": steadyMainTF},
		Variables: map[string]json.RawMessage{"bucket": json.RawMessage(`"x"`)}, TTLMinutes: 60, MaxMonthlyCostUSD: 10}, nil, created); err != nil {
		t.Fatal(err)
	}
	ready, err := json.Marshal([]store.Condition{{Type: "Ready", Status: "True", Reason: "Applied",
		Message: "applied", LastTransitionTime: verified, ObservedGeneration: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var cols string
	if err := db.QueryRow(ctx, `SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position)
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'projects' AND is_generated = 'NEVER'`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	states := pgx.Identifier{tf.DefaultPGSchema, "states"}.Sanitize()
	now := time.Now()
	for from := 1; from <= n; from += seedBatch {
		to := min(from+seedBatch-1, n)
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			for _, s := range []struct {
				sql  string
				args []any
			}{
				{`CREATE TEMP TABLE seed ON COMMIT DROP AS SELECT p.*, g AS i FROM projects p, generate_series($1::int, $2::int) g
					WHERE p.user_id = 'seed' AND p.project_id = 'template'`, []any{from, to}},
				{`UPDATE seed SET user_id = 'u' || lpad(((i - 1) / 10)::text, 5, '0'), project_id = 'p' || lpad(i::text, 6, '0'),
					uid = gen_random_uuid()`, nil},
				{`UPDATE seed SET spec = jsonb_set(spec, '{variables,bucket}', to_jsonb('b-' || user_id || '-' || project_id)),
					created_at = $1::timestamptz, updated_at = $1::timestamptz, expires_at = $1::timestamptz + interval '30 days',
					phase = 'Ready', observed_generation = generation, conditions = $2::jsonb,
					resource_count = 1, reserved_resources = 1, planned_resources = 1,
					status_message = 'applied', last_applied_at = $3::timestamptz, last_verified_at = $3::timestamptz,
					due_at = $4::timestamptz + random() * make_interval(secs => $5)`,
					[]any{created, string(ready), verified, now, resync.Seconds()}},
				{`INSERT INTO projects (` + cols + `) SELECT ` + cols + ` FROM seed`, nil},
				// The state terraform writes after applying the bucket.
				{`INSERT INTO ` + states + ` (name, data)
					SELECT user_id || '_' || project_id, jsonb_build_object(
						'version', 4, 'terraform_version', '1.11.4', 'serial', 2, 'lineage', gen_random_uuid()::text,
						'outputs', '{}'::jsonb, 'check_results', null,
						'resources', jsonb_build_array(jsonb_build_object(
							'mode', 'managed', 'type', 'aws_s3_bucket', 'name', 'site',
							'provider', 'provider["registry.terraform.io/hashicorp/aws"]',
							'instances', jsonb_build_array(jsonb_build_object('schema_version', 0, 'attributes', jsonb_build_object(
								'arn', 'arn:aws:s3:::' || (spec->'variables'->>'bucket'), 'bucket', spec->'variables'->>'bucket',
								'id', spec->'variables'->>'bucket', 'force_destroy', false, 'region', 'us-east-1',
								'tags', null, 'tags_all', jsonb_build_object(
									'Project', 'chart-app-' || user_id || '-' || project_id, 'Environment', $1::text,
									'ManagedBy', $2::text, 'UserId', user_id, 'ProjectId', project_id,
									'CreatedAt', $3::text)))))))::text
					FROM seed`, []any{seedEnvironment, tf.ManagedByTag, created.UTC().Format(time.RFC3339)}},
			} {
				if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
					return fmt.Errorf("%s: %w", s.sql, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM projects WHERE user_id = 'seed'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	var count int
	var maxDue time.Time
	if err := db.QueryRow(ctx, `SELECT count(*), max(due_at) FROM projects`).Scan(&count, &maxDue); err != nil || count != n {
		t.Fatalf("%d projects seeded, want %d: %v", count, n, err)
	}
	return maxDue
}

// seedBuckets creates every project's bucket in the emulator with the
// platform's tags, through the real S3 client, concurrently.
func seedBuckets(ctx context.Context, t *testing.T, emuURL string, n int, created time.Time) {
	t.Helper()
	c := s3.NewFromConfig(awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(emuURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCHSEED", "bench-seed-secret", "")},
		func(o *s3.Options) { o.UsePathStyle = true })
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				s := seededProject(i)
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(s.bucket)}); err != nil {
					errs <- fmt.Errorf("creating bucket %s: %w", s.bucket, err)
					return
				}
				var tags []s3types.Tag
				for k, v := range s.platformTags(created) {
					tags = append(tags, s3types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
				}
				if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(s.bucket),
					Tagging: &s3types.Tagging{TagSet: tags}}); err != nil {
					errs <- fmt.Errorf("tagging bucket %s: %w", s.bucket, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// seedInventory stores the listing a reconciler made before: every bucket
// with its tags, as GetResources lists them.
func seedInventory(ctx context.Context, t *testing.T, st *store.Store, db *pgxpool.Pool, n int, created time.Time) {
	t.Helper()
	items := make([]store.InventoryItem, n)
	for i := range items {
		s := seededProject(i + 1)
		items[i] = store.InventoryItem{ARN: "arn:aws:s3:::" + s.bucket, Type: "s3:bucket", Region: "us-east-1", Tags: s.platformTags(created)}
	}
	if _, err := st.ReplaceInventory(ctx, "us-east-1", items); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ANALYZE aws_inventory`); err != nil {
		t.Fatal(err)
	}
}
