package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// serviceClients are the SDK clients of one region that deletions use.
type serviceClients struct {
	s3      *s3.Client
	ddb     *dynamodb.Client
	lambda  *lambda.Client
	logs    *cloudwatchlogs.Client
	iam     *iam.Client
	apigw   *apigateway.Client
	apigwv2 *apigatewayv2.Client
}

func (o *Orphans) clientsFor(region string) *serviceClients {
	o.clientsMu.Lock()
	defer o.clientsMu.Unlock()
	if c, ok := o.clients[region]; ok {
		return c
	}
	cfg := forRegion(o.cfg.Base, region)
	c := &serviceClients{
		s3: s3.NewFromConfig(cfg, func(s *s3.Options) {
			// One host for every bucket on an emulator.
			s.UsePathStyle = cfg.BaseEndpoint != nil
		}),
		ddb:     dynamodb.NewFromConfig(cfg),
		lambda:  lambda.NewFromConfig(cfg),
		logs:    cloudwatchlogs.NewFromConfig(cfg),
		iam:     iam.NewFromConfig(cfg),
		apigw:   apigateway.NewFromConfig(cfg),
		apigwv2: apigatewayv2.NewFromConfig(cfg),
	}
	o.clients[region] = c
	return c
}

// step is one deletion call, described for the report.
type step struct {
	what string
	do   func(ctx context.Context) error
}

// deleter knows one resource type: how to read its live tags and which
// calls, in order, delete it.
type deleter struct {
	tags func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error)
	plan func(ctx context.Context, c *serviceClients, a ARN) ([]step, error)
}

// deleteOrder is the dependency order of a sweep: what uses something is
// deleted before it (an API before the function it invokes, a function
// before its role and log group).
var deleteOrder = []string{
	"apigateway:stages", "apigateway:apis", "apigateway:restapis", "lambda:function", "logs:log-group",
	"dynamodb:table", "s3:bucket", "iam:role",
}

func deleteRank(typ string) int {
	for i, t := range deleteOrder {
		if t == typ {
			return i
		}
	}
	return len(deleteOrder)
}

var deleters = map[string]deleter{
	"s3:bucket": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: awssdk.String(a.name())})
			if hasCode(err, "NoSuchTagSet") {
				return map[string]string{}, nil
			}
			if err != nil {
				return nil, err
			}
			tags := map[string]string{}
			for _, t := range out.TagSet {
				tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
			}
			return tags, nil
		},
		plan: planBucket,
	},
	"dynamodb:table": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.ddb.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			tags := map[string]string{}
			for _, t := range out.Tags {
				tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
			}
			return tags, nil
		},
		plan: func(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
			name := a.name()
			return []step{{what: "delete DynamoDB table " + name, do: func(ctx context.Context) error {
				_, err := c.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: awssdk.String(name)})
				return err
			}}}, nil
		},
	},
	"lambda:function": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.lambda.ListTags(ctx, &lambda.ListTagsInput{Resource: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		plan: planFunction,
	},
	"logs:log-group": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		plan: func(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
			name := a.name()
			return []step{{what: "delete log group " + name, do: func(ctx context.Context) error {
				_, err := c.logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: awssdk.String(name)})
				return err
			}}}, nil
		},
	},
	"iam:role": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			return roleTags(ctx, c.iam, roleName(a))
		},
		plan: planRole,
	},
	"apigateway:restapis": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.apigw.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		plan: func(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
			id := a.name()
			return []step{{what: "delete REST API " + id, do: func(ctx context.Context) error {
				_, err := c.apigw.DeleteRestApi(ctx, &apigateway.DeleteRestApiInput{RestApiId: awssdk.String(id)})
				return err
			}}}, nil
		},
	},
	"apigateway:stages": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			if strings.HasPrefix(a.Resource, "/apis/") {
				out, err := c.apigwv2.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: awssdk.String(a.String())})
				if err != nil {
					return nil, err
				}
				return out.Tags, nil
			}
			out, err := c.apigw.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		plan: func(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
			api, stage, _ := a.apiStage()
			return []step{{what: fmt.Sprintf("delete stage %s of API %s", stage, api), do: func(ctx context.Context) error {
				if strings.HasPrefix(a.Resource, "/apis/") {
					_, err := c.apigwv2.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: awssdk.String(api), StageName: awssdk.String(stage)})
					return err
				}
				_, err := c.apigw.DeleteStage(ctx, &apigateway.DeleteStageInput{RestApiId: awssdk.String(api), StageName: awssdk.String(stage)})
				return err
			}}}, nil
		},
	},
	"apigateway:apis": {
		tags: func(ctx context.Context, c *serviceClients, a ARN) (map[string]string, error) {
			out, err := c.apigwv2.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: awssdk.String(a.String())})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		plan: func(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
			id := a.name()
			return []step{{what: "delete API " + id, do: func(ctx context.Context) error {
				_, err := c.apigwv2.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: awssdk.String(id)})
				return err
			}}}, nil
		},
	},
}

// planBucket empties a bucket (every object version and delete marker,
// then the current objects, 1,000 per call) and deletes it.
func planBucket(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
	bucket := a.name()
	var objects []s3types.ObjectIdentifier
	versions := s3.NewListObjectVersionsPaginator(c.s3, &s3.ListObjectVersionsInput{Bucket: awssdk.String(bucket)})
	for versions.HasMorePages() {
		page, err := versions.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			if id := awssdk.ToString(v.VersionId); id != "" && id != "null" {
				objects = append(objects, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
		}
		for _, m := range page.DeleteMarkers {
			if id := awssdk.ToString(m.VersionId); id != "" && id != "null" {
				objects = append(objects, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
		}
	}
	current := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: awssdk.String(bucket)})
	for current.HasMorePages() {
		page, err := current.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			objects = append(objects, s3types.ObjectIdentifier{Key: o.Key})
		}
	}
	var steps []step
	for start := 0; start < len(objects); start += 1000 {
		batch := objects[start:min(start+1000, len(objects))]
		steps = append(steps, step{
			what: fmt.Sprintf("delete %d object(s) from bucket %s: %s", len(batch), bucket, objectNames(batch)),
			do: func(ctx context.Context) error {
				out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
					Bucket: awssdk.String(bucket),
					Delete: &s3types.Delete{Objects: batch, Quiet: awssdk.Bool(true)},
				})
				if err != nil {
					return err
				}
				if len(out.Errors) > 0 {
					e := out.Errors[0]
					return fmt.Errorf("%d object(s) not deleted, first %s: %s", len(out.Errors), awssdk.ToString(e.Key), awssdk.ToString(e.Message))
				}
				return nil
			},
		})
	}
	steps = append(steps, step{what: "delete bucket " + bucket, do: func(ctx context.Context) error {
		_, err := c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: awssdk.String(bucket)})
		return err
	}})
	return steps, nil
}

// objectNames lists a batch's keys for the report, shortened past ten.
func objectNames(batch []s3types.ObjectIdentifier) string {
	var names []string
	for i, o := range batch {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(batch)-10))
			break
		}
		n := awssdk.ToString(o.Key)
		if o.VersionId != nil {
			n += "@" + awssdk.ToString(o.VersionId)
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// planFunction removes the function's resource-policy permissions, then
// deletes it.
func planFunction(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
	name := a.name()
	var steps []step
	pol, err := c.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: awssdk.String(name)})
	switch {
	case isGone(err):
		// No resource policy: nothing to remove.
	case err != nil:
		return nil, err
	default:
		var doc struct{ Statement []struct{ Sid string } }
		if err := json.Unmarshal([]byte(awssdk.ToString(pol.Policy)), &doc); err != nil {
			return nil, fmt.Errorf("reading the resource policy of function %s: %w", name, err)
		}
		for _, s := range doc.Statement {
			sid := s.Sid
			steps = append(steps, step{what: fmt.Sprintf("remove permission %s from function %s", sid, name), do: func(ctx context.Context) error {
				_, err := c.lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: awssdk.String(name), StatementId: awssdk.String(sid)})
				return err
			}})
		}
	}
	steps = append(steps, step{what: "delete function " + name, do: func(ctx context.Context) error {
		_, err := c.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: awssdk.String(name)})
		return err
	}})
	return steps, nil
}

// planRole detaches the role's managed policies, deletes its inline ones,
// takes it out of its instance profiles, then deletes it (IAM refuses to
// delete a role that still has any).
func planRole(ctx context.Context, c *serviceClients, a ARN) ([]step, error) {
	role := roleName(a)
	var steps []step
	attached := iam.NewListAttachedRolePoliciesPaginator(c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String(role)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.AttachedPolicies {
			arn := awssdk.ToString(p.PolicyArn)
			steps = append(steps, step{what: fmt.Sprintf("detach policy %s from role %s", arn, role), do: func(ctx context.Context) error {
				_, err := c.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String(role), PolicyArn: awssdk.String(arn)})
				return err
			}})
		}
	}
	inline := iam.NewListRolePoliciesPaginator(c.iam, &iam.ListRolePoliciesInput{RoleName: awssdk.String(role)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.PolicyNames {
			steps = append(steps, step{what: fmt.Sprintf("delete inline policy %s of role %s", p, role), do: func(ctx context.Context) error {
				_, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: awssdk.String(role), PolicyName: awssdk.String(p)})
				return err
			}})
		}
	}
	profiles, err := c.iam.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: awssdk.String(role)})
	if err != nil {
		return nil, err
	}
	for _, p := range profiles.InstanceProfiles {
		name := awssdk.ToString(p.InstanceProfileName)
		steps = append(steps, step{what: fmt.Sprintf("remove role %s from instance profile %s", role, name), do: func(ctx context.Context) error {
			_, err := c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{RoleName: awssdk.String(role), InstanceProfileName: awssdk.String(name)})
			return err
		}})
	}
	steps = append(steps, step{what: "delete role " + role, do: func(ctx context.Context) error {
		_, err := c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String(role)})
		return err
	}})
	return steps, nil
}

// roleName is the last path element of a role ARN (role/path/name).
func roleName(a ARN) string {
	name := a.name()
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// hasCode reports whether err is an AWS API error with one of codes.
func hasCode(err error, codes ...string) bool {
	if err == nil {
		return false
	}
	code := errorCode(err)
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}
