package providerdouble

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type bucketResource struct{ c *clients }

func newBucket() resource.Resource { return &bucketResource{} }

type bucketModel struct {
	ID           types.String `tfsdk:"id"`
	Bucket       types.String `tfsdk:"bucket"`
	BucketPrefix types.String `tfsdk:"bucket_prefix"`
	ForceDestroy types.Bool   `tfsdk:"force_destroy"`
	Arn          types.String `tfsdk:"arn"`
	Tags         types.Map    `tfsdk:"tags"`
	TagsAll      types.Map    `tfsdk:"tags_all"`
}

func (r *bucketResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_s3_bucket"
}

func (r *bucketResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplaceIfConfigured(), stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Attributes: map[string]schema.Attribute{
			"id":            schema.StringAttribute{Computed: true, PlanModifiers: keep},
			"bucket":        schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: replace},
			"bucket_prefix": schema.StringAttribute{Optional: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"force_destroy": schema.BoolAttribute{Optional: true},
			"arn":           schema.StringAttribute{Computed: true, PlanModifiers: keep},
			"tags":          schema.MapAttribute{ElementType: types.StringType, Optional: true},
			"tags_all":      schema.MapAttribute{ElementType: types.StringType, Computed: true},
		},
	}
}

func (r *bucketResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configureClients(req, resp)
}

func (r *bucketResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planTagsAll(ctx, r.c, req, resp)
}

func (r *bucketResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("bucket"), req.ID)...)
	// Like the real provider (create.NamePrefixFromName): a generated
	// name gives back its prefix, so that adopting a bucket made from a
	// bucket_prefix plans no replacement.
	if prefix, ok := namePrefixFromName(req.ID); ok {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("bucket_prefix"), prefix)...)
	}
}

func (r *bucketResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.Bucket.ValueString()
	if m.Bucket.IsUnknown() || name == "" {
		prefix := m.BucketPrefix.ValueString()
		if prefix == "" {
			prefix = "terraform-"
		}
		name = prefixedUniqueID(prefix)
	}
	if _, err := r.c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(name)}); err != nil {
		resp.Diagnostics.AddError("creating S3 bucket "+name, err.Error())
		return
	}
	// From here the bucket exists: save it before anything else can fail.
	m.ID, m.Bucket, m.Arn = types.StringValue(name), types.StringValue(name), types.StringValue("arn:aws:s3:::"+name)
	all, diags := allTags(ctx, r.c, m.Tags)
	resp.Diagnostics.Append(diags...)
	if err := r.putTags(ctx, name, all); err != nil {
		resp.Diagnostics.AddError("tagging S3 bucket "+name, err.Error())
	}
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, all)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// idCounter and prefixedUniqueID name a bucket as the real provider does
// (terraform-plugin-sdk's id.PrefixedUniqueId): the prefix, the UTC time
// to 1/10000 s, then an 8-digit hex counter. Crash recovery recognises a
// generated name by that suffix (aws.GeneratedAt): a double naming
// otherwise would measure a recovery the real provider never meets.
var idCounter atomic.Uint32

func prefixedUniqueID(prefix string) string {
	ts := strings.Replace(time.Now().UTC().Format("20060102150405.0000"), ".", "", 1)
	return fmt.Sprintf("%s%s%08x", prefix, ts, idCounter.Add(1))
}

// generatedSuffix is the 26 characters prefixedUniqueID appends.
var generatedSuffix = regexp.MustCompile(`^[0-9]{18}[0-9a-f]{8}$`)

// namePrefixFromName is the prefix of a generated name (the real
// provider's create.NamePrefixFromName).
func namePrefixFromName(name string) (string, bool) {
	const n = 26
	if len(name) <= n || !generatedSuffix.MatchString(name[len(name)-n:]) {
		return "", false
	}
	return name[:len(name)-n], true
}

func (r *bucketResource) putTags(ctx context.Context, name string, tags map[string]string) error {
	if len(tags) == 0 {
		_, err := r.c.s3.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: awssdk.String(name)})
		return err
	}
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	_, err := r.c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: awssdk.String(name), Tagging: &s3types.Tagging{TagSet: set}})
	return err
}

func (r *bucketResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	if _, err := r.c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: awssdk.String(name)}); err != nil {
		if notFound(err) {
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.AddError("reading S3 bucket "+name, err.Error())
		return
	}
	live := map[string]string{}
	out, err := r.c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: awssdk.String(name)})
	switch {
	case hasCode(err, "NoSuchTagSet"):
	case err != nil:
		resp.Diagnostics.AddError("reading the tags of S3 bucket "+name, err.Error())
		return
	default:
		for _, t := range out.TagSet {
			live[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	m.Bucket, m.Arn = types.StringValue(name), types.StringValue("arn:aws:s3:::"+name)
	var diags diag.Diagnostics
	m.Tags, diags = ownTags(ctx, m.Tags, live)
	resp.Diagnostics.Append(diags...)
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, live)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *bucketResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	all, diags := allTags(ctx, r.c, m.Tags)
	resp.Diagnostics.Append(diags...)
	if err := r.putTags(ctx, m.ID.ValueString(), all); err != nil {
		resp.Diagnostics.AddError("tagging S3 bucket "+m.ID.ValueString(), err.Error())
		return
	}
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, all)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *bucketResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m bucketModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	if m.ForceDestroy.ValueBool() {
		objects := s3.NewListObjectsV2Paginator(r.c.s3, &s3.ListObjectsV2Input{Bucket: awssdk.String(name)})
		for objects.HasMorePages() {
			page, err := objects.NextPage(ctx)
			if err != nil {
				resp.Diagnostics.AddError("emptying S3 bucket "+name, err.Error())
				return
			}
			for _, o := range page.Contents {
				if _, err := r.c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: awssdk.String(name), Key: o.Key}); err != nil {
					resp.Diagnostics.AddError("emptying S3 bucket "+name, err.Error())
					return
				}
			}
		}
	}
	if _, err := r.c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: awssdk.String(name)}); err != nil && !notFound(err) {
		resp.Diagnostics.AddError("deleting S3 bucket "+name, err.Error())
	}
}

func hasCode(err error, codes ...string) bool {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) {
		return false
	}
	for _, c := range codes {
		if api.ErrorCode() == c {
			return true
		}
	}
	return false
}

// notFound covers S3's codes (HeadBucket answers a bare 404, "NotFound")
// and DynamoDB's.
func notFound(err error) bool {
	return hasCode(err, "NoSuchBucket", "NotFound", "ResourceNotFoundException") ||
		err != nil && strings.Contains(err.Error(), "StatusCode: 404")
}
