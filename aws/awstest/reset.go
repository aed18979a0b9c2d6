package awstest

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// reset deletes every bucket, table, function and log group kumo holds.
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
	return nil
}
