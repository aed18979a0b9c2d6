package awstest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
)

// The JSON 1.1 form of GetResources (older SDKs, the AWS CLI): filters,
// pages and errors. The CBOR form is what the aws package's tests use.
func TestGetResourcesOverJSON11(t *testing.T) {
	emu := New(t)
	ctx := context.Background()
	c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []struct{ name, managedBy string }{{"a", "chart-app-platform"}, {"b", "chart-app-platform"}, {"c", "other"}, {"d", ""}} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(b.name)}); err != nil {
			t.Fatal(err)
		}
		if b.managedBy == "" {
			continue
		}
		if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(b.name), Tagging: &s3types.Tagging{
			TagSet: []s3types.Tag{{Key: awssdk.String("ManagedBy"), Value: awssdk.String(b.managedBy)}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	call := func(body string) (int, getResourcesOutput, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, emu.URL, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "ResourceGroupsTaggingAPI_20170126.GetResources")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out getResourcesOutput
		var fail map[string]string
		if resp.StatusCode == http.StatusOK {
			json.NewDecoder(resp.Body).Decode(&out)
		} else {
			json.NewDecoder(resp.Body).Decode(&fail)
		}
		return resp.StatusCode, out, fail
	}
	filter := `"TagFilters":[{"Key":"ManagedBy","Values":["chart-app-platform"]}],"ResourcesPerPage":1`
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		status, out, _ := call(`{` + filter + `,"PaginationToken":"` + token + `"}`)
		if status != http.StatusOK || pages > 3 {
			t.Fatalf("status %d after %d pages", status, pages)
		}
		for _, m := range out.ResourceTagMappingList {
			got = append(got, m.ResourceARN)
		}
		if token = out.PaginationToken; token == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"arn:aws:s3:::a", "arn:aws:s3:::b"}, got); diff != "" {
		t.Fatalf("resources (-want +got):\n%s", diff)
	}
	if status, _, fail := call(`{"ResourcesPerPage":500}`); status != http.StatusBadRequest || fail["__type"] != "InvalidParameterException" {
		t.Fatalf("ResourcesPerPage 500: %d %v", status, fail)
	}
	// Two listings of a page each; the refused request lists nothing.
	if n := emu.TaggingCalls()[Region]; n != 2 {
		t.Fatalf("%d listings counted in %s, want 2", n, Region)
	}
}
