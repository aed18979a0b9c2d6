//go:build crash || crashshort

package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"

	"github.com/tenantform/tenantform/tf"
)

// The check lists the emulator itself, with the SDK's clients straight to
// it (not through the proxy, not through tenantform), and compares what
// exists with what the live projects declare and hold in their state.

// found is one resource that exists in the emulator.
type found struct {
	kind kind
	name string
	tags map[string]string
}

// key is how a state and a listing name the same resource.
func (f found) key() string { return stateKey(f.kind, f.name) }

func stateKey(k kind, name string) string {
	if k == bucketPrefix {
		k = bucket
	}
	return string(k) + ":" + name
}

func sdkConfig(endpoint string) awssdk.Config {
	return awssdk.Config{
		Region:           "us-east-1",
		BaseEndpoint:     awssdk.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDCRASHCHECK", "crash-check-secret", ""),
		RetryMaxAttempts: 3,
	}
}

func s3Client(endpoint string) *s3.Client {
	return s3.NewFromConfig(sdkConfig(endpoint), func(o *s3.Options) { o.UsePathStyle = true })
}

// listEmulator lists every bucket (with its tags), table, role (with its
// inline policies) and log group.
func listEmulator(ctx context.Context, endpoint string) ([]found, error) {
	cfg := sdkConfig(endpoint)
	var out []found
	s3c := s3Client(endpoint)
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, fmt.Errorf("ListBuckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		f := found{kind: bucket, name: awssdk.ToString(b.Name), tags: map[string]string{}}
		if t, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name}); err == nil {
			for _, tag := range t.TagSet {
				f.tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
		}
		out = append(out, f)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	tables := dynamodb.NewListTablesPaginator(ddb, &dynamodb.ListTablesInput{})
	for tables.HasMorePages() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListTables: %w", err)
		}
		for _, name := range page.TableNames {
			out = append(out, found{kind: table, name: name})
		}
	}
	ic := iam.NewFromConfig(cfg)
	roles, err := ic.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return nil, fmt.Errorf("ListRoles: %w", err)
	}
	for _, r := range roles.Roles {
		name := awssdk.ToString(r.RoleName)
		out = append(out, found{kind: role, name: name})
		pols, err := ic.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: r.RoleName})
		if err != nil {
			return nil, fmt.Errorf("ListRolePolicies %s: %w", name, err)
		}
		for _, p := range pols.PolicyNames {
			out = append(out, found{kind: rolePolicy, name: name + "/" + p})
		}
	}
	lc := cloudwatchlogs.NewFromConfig(cfg)
	groups := cloudwatchlogs.NewDescribeLogGroupsPaginator(lc, &cloudwatchlogs.DescribeLogGroupsInput{})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeLogGroups: %w", err)
		}
		for _, g := range page.LogGroups {
			out = append(out, found{kind: logGroup, name: awssdk.ToString(g.LogGroupName)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out, nil
}

// makeBucket creates a bucket with tags (none: untagged), as someone other
// than tenantform would.
func makeBucket(ctx context.Context, endpoint, name string, tags map[string]string) error {
	s3c := s3Client(endpoint)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(name)}); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	_, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(name), Tagging: &s3types.Tagging{TagSet: set}})
	return err
}

// states reads every project's terraform state (the pg backend's table)
// and returns, per workspace, the keys of what it holds.
func states(ctx context.Context, dbURL string) (map[string]map[string]bool, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT name, data FROM "+tf.DefaultPGSchema+".states")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var name, data string
		if err := rows.Scan(&name, &data); err != nil {
			return nil, err
		}
		var st struct {
			Resources []struct {
				Mode      string `json:"mode"`
				Type      string `json:"type"`
				Instances []struct {
					Attributes map[string]any `json:"attributes"`
				} `json:"instances"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			return nil, fmt.Errorf("state %s: %w", name, err)
		}
		keys := map[string]bool{}
		for _, r := range st.Resources {
			if r.Mode != "managed" {
				continue
			}
			for _, in := range r.Instances {
				s := func(k string) string { v, _ := in.Attributes[k].(string); return v }
				switch r.Type {
				case "aws_s3_bucket":
					keys[stateKey(bucket, s("bucket"))] = true
				case "aws_dynamodb_table":
					keys[stateKey(table, s("name"))] = true
				case "aws_iam_role":
					keys[stateKey(role, s("name"))] = true
				case "aws_iam_role_policy":
					keys[stateKey(rolePolicy, strings.Replace(s("id"), ":", "/", 1))] = true
				case "aws_cloudwatch_log_group":
					keys[stateKey(logGroup, s("name"))] = true
				}
			}
		}
		out[name] = keys
	}
	return out, rows.Err()
}

// verdict is what the check found.
type verdict struct {
	leaked, duplicated, missing []string
	resources                   int
}

// expectation is one project as the scenario left it.
type expectation struct {
	def     projectDef
	live    bool
	version int
}

// judge compares the emulator with the live projects' specs and states.
// Resources whose names the scenario does not use (keep-…) are not
// judged. A resource is leaked when no live project declares it, or when
// it is not in its project's state; a second bucket for one bucket_prefix
// is a duplicate; a declared resource that does not exist is missing.
func judge(all []found, exps []expectation, st map[string]map[string]bool) verdict {
	var v verdict
	type claim struct {
		project string
		w       want
	}
	claims := map[string][]found{} // project + want → what matches it
	var order []claim
	for _, e := range exps {
		if !e.live {
			continue
		}
		_, wants := e.def.spec(e.version)
		for _, w := range wants {
			order = append(order, claim{e.def.key(), w})
		}
	}
	claimKey := func(c claim) string { return c.project + " " + string(c.w.kind) + ":" + c.w.name }
	describe := func(f found) string {
		switch {
		case f.kind != bucket:
			return f.key()
		case len(f.tags) == 0:
			return f.key() + " (untagged)"
		default:
			return fmt.Sprintf("%s (tagged %s/%s)", f.key(), f.tags["UserId"], f.tags["ProjectId"])
		}
	}
	for _, f := range all {
		if !scenarioName(f.name) {
			continue
		}
		v.resources++
		matched := false
		for _, c := range order {
			ok := false
			switch {
			case c.w.kind == bucketPrefix:
				ok = f.kind == bucket && strings.HasPrefix(f.name, c.w.name) && !strings.ContainsAny(f.name[len(c.w.name):], "-")
			default:
				ok = f.kind == c.w.kind && f.name == c.w.name
			}
			if ok {
				claims[claimKey(c)] = append(claims[claimKey(c)], f)
				matched = true
				break
			}
		}
		if !matched {
			v.leaked = append(v.leaked, describe(f)+": no live project declares it")
		}
	}
	for _, c := range order {
		project := strings.Replace(c.project, "/", "_", 1)
		got := claims[claimKey(c)]
		if len(got) == 0 {
			v.missing = append(v.missing, c.project+" "+string(c.w.kind)+" "+c.w.name)
			continue
		}
		inState := 0
		for _, f := range got {
			if st[project][f.key()] {
				inState++
			}
		}
		for _, f := range got {
			if st[project][f.key()] {
				continue
			}
			if len(got) > 1 && inState > 0 {
				v.duplicated = append(v.duplicated, describe(f)+": a second one for "+c.project+" "+string(c.w.kind)+" "+c.w.name)
			} else {
				v.leaked = append(v.leaked, describe(f)+": not in "+c.project+"'s state")
			}
		}
		if inState > 1 {
			v.duplicated = append(v.duplicated, fmt.Sprintf("%s %s %s: %d in state", c.project, c.w.kind, c.w.name, inState))
		}
	}
	return v
}
