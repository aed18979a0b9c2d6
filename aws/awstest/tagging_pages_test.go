package awstest

import (
	"context"
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// The later pages of a GetResources listing come from what its first page
// listed: a bucket deleted between two pages is still on the second, and
// nothing is skipped. (Listing kumo again for every page made a listing of
// n resources cost n²/100 requests: minutes at 10,000.) A token the
// emulator does not know is refused as AWS refuses an expired one.
func TestGetResourcesPagesReadOneListing(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(name), Tagging: &s3types.Tagging{
			TagSet: []s3types.Tag{{Key: awssdk.String("ManagedBy"), Value: awssdk.String("chart-app-platform")}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	tc := tagging.NewFromConfig(emu.Config())
	in := &tagging.GetResourcesInput{ResourcesPerPage: awssdk.Int32(1)}
	var got []string
	for page := 0; ; page++ {
		out, err := tc.GetResources(ctx, in)
		if err != nil || page > 3 {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, m := range out.ResourceTagMappingList {
			got = append(got, awssdk.ToString(m.ResourceARN))
		}
		if page == 0 {
			if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: awssdk.String("a")}); err != nil {
				t.Fatal(err)
			}
		}
		if awssdk.ToString(out.PaginationToken) == "" {
			break
		}
		in.PaginationToken = out.PaginationToken
	}
	if diff := cmp.Diff([]string{"arn:aws:s3:::a", "arn:aws:s3:::b", "arn:aws:s3:::c"}, got); diff != "" {
		t.Fatalf("one listing's pages (-want +got):\n%s", diff)
	}
	if n := emu.TaggingCalls()[Region]; n != 3 {
		t.Fatalf("%d calls counted, want 3 (one per page)", n)
	}
	_, err := tc.GetResources(ctx, &tagging.GetResourcesInput{PaginationToken: awssdk.String("999/1")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "PaginationTokenExpiredException" {
		t.Fatalf("an unknown token: %v, want PaginationTokenExpiredException", err)
	}
}
