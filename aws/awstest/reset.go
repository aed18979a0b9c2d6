package awstest

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// reset deletes every bucket, table, function, log group, HTTP API and IAM
// role kumo holds.
// kumo keeps its services' state in package-level singletons, so every
// kumo.NewServer of a process shares one state: without this, an emulator
// would see what an earlier test left behind. It also means one process
// must not use two emulators at once (tests with emulators do not run in
// parallel).
func (e *Emulator) reset(ctx context.Context) error {
	cfg := e.kumoConfig(Region)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return fmt.Errorf("listing buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		objects := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: b.Name})
		for objects.HasMorePages() {
			page, err := objects.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("listing objects of %s: %w", awssdk.ToString(b.Name), err)
			}
			for _, o := range page.Contents {
				if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b.Name, Key: o.Key}); err != nil {
					return err
				}
			}
		}
		if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b.Name}); err != nil {
			return fmt.Errorf("deleting bucket %s: %w", awssdk.ToString(b.Name), err)
		}
	}
	ddb := dynamodb.NewFromConfig(cfg)
	for {
		tables, err := ddb.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err != nil {
			return fmt.Errorf("listing tables: %w", err)
		}
		if len(tables.TableNames) == 0 {
			break
		}
		for _, name := range tables.TableNames {
			if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: awssdk.String(name)}); err != nil {
				return fmt.Errorf("deleting table %s: %w", name, err)
			}
		}
	}
	lc := lambda.NewFromConfig(cfg)
	fns, err := lc.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil {
		return fmt.Errorf("listing functions: %w", err)
	}
	for _, f := range fns.Functions {
		if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: f.FunctionName}); err != nil {
			return err
		}
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	groups, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		return fmt.Errorf("listing log groups: %w", err)
	}
	for _, g := range groups.LogGroups {
		if _, err := logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: g.LogGroupName}); err != nil {
			return err
		}
	}
	apis := apigatewayv2.NewFromConfig(cfg)
	list, err := apis.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		return fmt.Errorf("listing APIs: %w", err)
	}
	for _, a := range list.Items {
		if _, err := apis.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: a.ApiId}); err != nil {
			return fmt.Errorf("deleting API %s: %w", awssdk.ToString(a.ApiId), err)
		}
	}
	ic := iam.NewFromConfig(cfg)
	roles, err := ic.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return fmt.Errorf("listing roles: %w", err)
	}
	for _, role := range roles.Roles {
		attached, err := ic.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: role.RoleName})
		if err != nil {
			return fmt.Errorf("policies of role %s: %w", awssdk.ToString(role.RoleName), err)
		}
		for _, p := range attached.AttachedPolicies {
			if _, err := ic.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: role.RoleName, PolicyArn: p.PolicyArn}); err != nil {
				return err
			}
		}
		inline, err := ic.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: role.RoleName})
		if err != nil {
			return fmt.Errorf("inline policies of role %s: %w", awssdk.ToString(role.RoleName), err)
		}
		for _, name := range inline.PolicyNames {
			if _, err := ic.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: role.RoleName, PolicyName: awssdk.String(name)}); err != nil {
				return err
			}
		}
		if _, err := ic.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: role.RoleName}); err != nil {
			return fmt.Errorf("deleting role %s: %w", awssdk.ToString(role.RoleName), err)
		}
	}
	return nil
}
