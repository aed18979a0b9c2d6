package providerdouble

import (
	"context"
	"net"
	"net/url"
	"os"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// endpointServices are the endpoint keys tenantform's engine renders.
var endpointServices = []string{"apigateway", "apigatewayv2", "cloudwatchlogs", "dynamodb", "iam", "lambda", "s3", "sts"}

type awsProvider struct{ opts Options }

type providerModel struct {
	Region                    types.String       `tfsdk:"region"`
	S3UsePathStyle            types.Bool         `tfsdk:"s3_use_path_style"`
	SkipCredentialsValidation types.Bool         `tfsdk:"skip_credentials_validation"`
	SkipRequestingAccountID   types.Bool         `tfsdk:"skip_requesting_account_id"`
	SkipMetadataAPICheck      types.String       `tfsdk:"skip_metadata_api_check"`
	SkipRegionValidation      types.Bool         `tfsdk:"skip_region_validation"`
	DefaultTags               []defaultTagsModel `tfsdk:"default_tags"`
	Endpoints                 []types.Object     `tfsdk:"endpoints"`
}

type defaultTagsModel struct {
	Tags types.Map `tfsdk:"tags"`
}

// clients is what resources get from the configured provider.
type clients struct {
	s3          *s3.Client
	dynamodb    *dynamodb.Client
	region      string
	defaultTags map[string]string
}

func (p *awsProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "aws"
	resp.Version = "test-double"
}

func (p *awsProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	endpoints := map[string]schema.Attribute{}
	for _, svc := range endpointServices {
		endpoints[svc] = schema.StringAttribute{Optional: true}
	}
	resp.Schema = schema.Schema{
		Description: "TEST DOUBLE of hashicorp/aws for tenantform's tests: talks only to an emulator.",
		Attributes: map[string]schema.Attribute{
			"region":                      schema.StringAttribute{Optional: true},
			"s3_use_path_style":           schema.BoolAttribute{Optional: true},
			"skip_credentials_validation": schema.BoolAttribute{Optional: true},
			"skip_requesting_account_id":  schema.BoolAttribute{Optional: true},
			"skip_metadata_api_check":     schema.StringAttribute{Optional: true},
			"skip_region_validation":      schema.BoolAttribute{Optional: true},
		},
		Blocks: map[string]schema.Block{
			"default_tags": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{
				Attributes: map[string]schema.Attribute{
					"tags": schema.MapAttribute{ElementType: types.StringType, Optional: true},
				},
			}},
			"endpoints": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: endpoints}},
		},
	}
}

func (p *awsProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if p.opts.Warning != "" {
		resp.Diagnostics.AddWarning(p.opts.Warning, p.opts.WarningDetail)
	}
	region := m.Region.ValueString()
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	endpoints := map[string]string{}
	for _, o := range m.Endpoints {
		for k, v := range o.Attributes() {
			if s, ok := v.(types.String); ok && s.ValueString() != "" {
				endpoints[k] = s.ValueString()
			}
		}
	}
	for _, svc := range []string{"s3", "dynamodb"} {
		if endpoints[svc] == "" {
			resp.Diagnostics.AddError("test provider needs an emulator",
				"this is tenantform's TEST DOUBLE of hashicorp/aws; it only talks to an emulator and needs endpoints { "+svc+" = ... }")
			return
		}
	}
	if p.opts.LoopbackOnly {
		for svc, e := range endpoints {
			if !loopback(e) {
				resp.Diagnostics.AddError("test provider needs an emulator on this machine",
					"this is tenantform's TEST DOUBLE of hashicorp/aws; it only talks to an emulator on the loopback interface, and endpoints."+svc+" is "+e)
				return
			}
		}
	}
	tags := map[string]string{}
	for _, d := range m.DefaultTags {
		if !d.Tags.IsNull() && !d.Tags.IsUnknown() {
			resp.Diagnostics.Append(d.Tags.ElementsAs(ctx, &tags, false)...)
		}
	}

	// The credentials tenantform hands to this process, else dummies
	// (the emulator checks none).
	var creds awssdk.CredentialsProvider = credentials.NewStaticCredentialsProvider("AKIDTESTDOUBLE", "test-double", "")
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		creds = credentials.NewStaticCredentialsProvider(id, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	cfg := awssdk.Config{Region: region, Credentials: creds, RetryMaxAttempts: 3}
	c := &clients{
		region:      region,
		defaultTags: tags,
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = awssdk.String(endpoints["s3"])
			o.UsePathStyle = m.S3UsePathStyle.ValueBool()
		}),
		dynamodb: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			o.BaseEndpoint = awssdk.String(endpoints["dynamodb"])
		}),
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func (p *awsProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newBucket, newTable}
}

func (p *awsProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// loopback says whether the endpoint URL e names this machine's loopback
// interface.
func loopback(e string) bool {
	u, err := url.Parse(e)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
