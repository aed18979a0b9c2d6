package awstest

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"
)

// What the real provider calls when it updates a function with
// `publish = true`: PublishVersion, the version's configuration by its
// number, and the latest version from ListVersionsByFunction. Versions
// are numbered per function and go with it.
func TestLambdaPublishedVersions(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := lambda.NewFromConfig(emu.Config())
	var code bytes.Buffer
	zw := zip.NewWriter(&code)
	f, _ := zw.Create("index.js")
	f.Write([]byte("exports.handler = async () => 'ok'"))
	zw.Close()
	create := func() string {
		out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: awssdk.String("fn"), Runtime: lambdatypes.RuntimeNodejs20x,
			Handler: awssdk.String("index.handler"), Role: awssdk.String("arn:aws:iam::123456789012:role/fn"),
			Code: &lambdatypes.FunctionCode{ZipFile: code.Bytes()}, MemorySize: awssdk.Int32(128)})
		if err != nil {
			t.Fatal(err)
		}
		return awssdk.ToString(out.FunctionArn)
	}
	arn := create()
	for i, memory := range []int32{256, 512} {
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: awssdk.String("fn"), MemorySize: awssdk.Int32(memory)}); err != nil {
			t.Fatal(err)
		}
		pub, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: awssdk.String("fn")})
		if err != nil {
			t.Fatalf("PublishVersion: %v", err)
		}
		want := []string{string(rune('1' + i)), arn + ":" + string(rune('1'+i))}
		if diff := cmp.Diff(want, []string{awssdk.ToString(pub.Version), awssdk.ToString(pub.FunctionArn)}); diff != "" {
			t.Fatalf("published (-want +got):\n%s", diff)
		}
	}
	v1, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: awssdk.String("fn"), Qualifier: awssdk.String("1")})
	if err != nil || awssdk.ToInt32(v1.MemorySize) != 256 || awssdk.ToString(v1.Version) != "1" {
		t.Fatalf("version 1: %+v %v", v1, err)
	}
	whole, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: awssdk.String(arn), Qualifier: awssdk.String("2")})
	if err != nil || awssdk.ToInt32(whole.Configuration.MemorySize) != 512 {
		t.Fatalf("GetFunction of version 2: %+v %v", whole, err)
	}
	if _, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: awssdk.String("fn"), Qualifier: awssdk.String("3")}); err == nil {
		t.Fatal("version 3 was never published")
	}
	versions := func() []string {
		out, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: awssdk.String("fn")})
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, v := range out.Versions {
			vs = append(vs, awssdk.ToString(v.Version))
		}
		return vs
	}
	if diff := cmp.Diff([]string{"$LATEST", "1", "2"}, versions()); diff != "" {
		t.Fatalf("versions (-want +got):\n%s", diff)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: awssdk.String("fn")}); err != nil {
		t.Fatal(err)
	}
	create()
	if diff := cmp.Diff([]string{"$LATEST"}, versions()); diff != "" {
		t.Fatalf("versions of a new function of the same name (-want +got):\n%s", diff)
	}
}

// What the real provider calls when read_capacity or write_capacity of a
// provisioned table changes: UpdateTable, then DescribeTable shows the new
// capacity (kumo alone keeps the old one). A table created again starts
// from its own.
func TestDynamoDBCapacityUpdates(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	create := func(capacity int64) {
		if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: awssdk.String("jobs"), BillingMode: ddbtypes.BillingModeProvisioned,
			ProvisionedThroughput: &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: awssdk.Int64(capacity), WriteCapacityUnits: awssdk.Int64(capacity)},
			AttributeDefinitions:  []ddbtypes.AttributeDefinition{{AttributeName: awssdk.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:             []ddbtypes.KeySchemaElement{{AttributeName: awssdk.String("id"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
			t.Fatal(err)
		}
	}
	capacity := func() [2]int64 {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: awssdk.String("jobs")})
		if err != nil {
			t.Fatal(err)
		}
		pt := out.Table.ProvisionedThroughput
		return [2]int64{awssdk.ToInt64(pt.ReadCapacityUnits), awssdk.ToInt64(pt.WriteCapacityUnits)}
	}
	create(5)
	up, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: awssdk.String("jobs"),
		ProvisionedThroughput: &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: awssdk.Int64(10), WriteCapacityUnits: awssdk.Int64(7)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := awssdk.ToInt64(up.TableDescription.ProvisionedThroughput.ReadCapacityUnits); got != 10 {
		t.Errorf("UpdateTable answered read capacity %d, want 10", got)
	}
	if got := capacity(); got != [2]int64{10, 7} {
		t.Fatalf("capacity after UpdateTable: %v, want [10 7]", got)
	}
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: awssdk.String("jobs")}); err != nil {
		t.Fatal(err)
	}
	create(3)
	if got := capacity(); got != [2]int64{3, 3} {
		t.Fatalf("capacity of the table created again: %v, want [3 3]", got)
	}
}
