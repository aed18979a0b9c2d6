package providerdouble

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type tableResource struct{ c *clients }

func newTable() resource.Resource { return &tableResource{} }

type tableModel struct {
	ID            types.String     `tfsdk:"id"`
	Name          types.String     `tfsdk:"name"`
	BillingMode   types.String     `tfsdk:"billing_mode"`
	HashKey       types.String     `tfsdk:"hash_key"`
	RangeKey      types.String     `tfsdk:"range_key"`
	ReadCapacity  types.Int64      `tfsdk:"read_capacity"`
	WriteCapacity types.Int64      `tfsdk:"write_capacity"`
	Arn           types.String     `tfsdk:"arn"`
	Tags          types.Map        `tfsdk:"tags"`
	TagsAll       types.Map        `tfsdk:"tags_all"`
	Attributes    []attributeModel `tfsdk:"attribute"`
}

type attributeModel struct {
	Name types.String `tfsdk:"name"`
	Type types.String `tfsdk:"type"`
}

func (r *tableResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_dynamodb_table"
}

// Schema: everything but the tags replaces the table (the real provider
// updates billing and capacity in place; the tests do not need it).
func (r *tableResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceInt := []planmodifier.Int64{int64planmodifier.RequiresReplace(), int64planmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Attributes: map[string]schema.Attribute{
			"id":   schema.StringAttribute{Computed: true, PlanModifiers: keep},
			"name": schema.StringAttribute{Required: true, PlanModifiers: replace},
			"billing_mode": schema.StringAttribute{Optional: true, Computed: true,
				Default: stringdefault.StaticString(string(ddbtypes.BillingModeProvisioned)), PlanModifiers: replace},
			"hash_key":       schema.StringAttribute{Required: true, PlanModifiers: replace},
			"range_key":      schema.StringAttribute{Optional: true, PlanModifiers: replace},
			"read_capacity":  schema.Int64Attribute{Optional: true, Computed: true, PlanModifiers: replaceInt},
			"write_capacity": schema.Int64Attribute{Optional: true, Computed: true, PlanModifiers: replaceInt},
			"arn":            schema.StringAttribute{Computed: true, PlanModifiers: keep},
			"tags":           schema.MapAttribute{ElementType: types.StringType, Optional: true},
			"tags_all":       schema.MapAttribute{ElementType: types.StringType, Computed: true},
		},
		Blocks: map[string]schema.Block{
			"attribute": schema.SetNestedBlock{
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Required: true},
					"type": schema.StringAttribute{Required: true},
				}},
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *tableResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configureClients(req, resp)
}

func (r *tableResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planTagsAll(ctx, r.c, req, resp)
}

func (r *tableResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

func (r *tableResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m tableModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.Name.ValueString()
	in := &dynamodb.CreateTableInput{
		TableName:   awssdk.String(name),
		BillingMode: ddbtypes.BillingMode(m.BillingMode.ValueString()),
		KeySchema:   []ddbtypes.KeySchemaElement{{AttributeName: awssdk.String(m.HashKey.ValueString()), KeyType: ddbtypes.KeyTypeHash}},
	}
	if m.RangeKey.ValueString() != "" {
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{AttributeName: awssdk.String(m.RangeKey.ValueString()), KeyType: ddbtypes.KeyTypeRange})
	}
	for _, a := range m.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: awssdk.String(a.Name.ValueString()), AttributeType: ddbtypes.ScalarAttributeType(a.Type.ValueString()),
		})
	}
	if in.BillingMode == ddbtypes.BillingModeProvisioned {
		if m.ReadCapacity.IsUnknown() || m.ReadCapacity.IsNull() {
			m.ReadCapacity = types.Int64Value(1)
		}
		if m.WriteCapacity.IsUnknown() || m.WriteCapacity.IsNull() {
			m.WriteCapacity = types.Int64Value(1)
		}
		in.ProvisionedThroughput = &ddbtypes.ProvisionedThroughput{
			ReadCapacityUnits: awssdk.Int64(m.ReadCapacity.ValueInt64()), WriteCapacityUnits: awssdk.Int64(m.WriteCapacity.ValueInt64()),
		}
	} else {
		m.ReadCapacity, m.WriteCapacity = types.Int64Value(0), types.Int64Value(0)
	}
	all, diags := allTags(ctx, r.c, m.Tags)
	resp.Diagnostics.Append(diags...)
	for k, v := range all {
		in.Tags = append(in.Tags, ddbtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	out, err := r.c.dynamodb.CreateTable(ctx, in)
	if err != nil {
		resp.Diagnostics.AddError("creating DynamoDB table "+name, err.Error())
		return
	}
	m.ID = types.StringValue(name)
	m.Arn = types.StringValue(awssdk.ToString(out.TableDescription.TableArn))
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, all)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *tableResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m tableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	out, err := r.c.dynamodb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: awssdk.String(name)})
	if notFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("reading DynamoDB table "+name, err.Error())
		return
	}
	t := out.Table
	m.Name, m.Arn = types.StringValue(name), types.StringValue(awssdk.ToString(t.TableArn))
	if m.BillingMode.IsNull() || m.BillingMode.IsUnknown() {
		m.BillingMode = types.StringValue(string(ddbtypes.BillingModeProvisioned))
		if t.BillingModeSummary != nil {
			m.BillingMode = types.StringValue(string(t.BillingModeSummary.BillingMode))
		}
	}
	for _, k := range t.KeySchema {
		switch k.KeyType {
		case ddbtypes.KeyTypeHash:
			m.HashKey = types.StringValue(awssdk.ToString(k.AttributeName))
		case ddbtypes.KeyTypeRange:
			m.RangeKey = types.StringValue(awssdk.ToString(k.AttributeName))
		}
	}
	if len(m.Attributes) == 0 {
		for _, a := range t.AttributeDefinitions {
			m.Attributes = append(m.Attributes, attributeModel{Name: types.StringValue(awssdk.ToString(a.AttributeName)), Type: types.StringValue(string(a.AttributeType))})
		}
	}
	if m.ReadCapacity.IsNull() || m.ReadCapacity.IsUnknown() {
		m.ReadCapacity, m.WriteCapacity = types.Int64Value(0), types.Int64Value(0)
	}
	tags, err := r.c.dynamodb.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: t.TableArn})
	if err != nil {
		resp.Diagnostics.AddError("reading the tags of DynamoDB table "+name, err.Error())
		return
	}
	live := map[string]string{}
	for _, tag := range tags.Tags {
		live[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
	}
	var diags diag.Diagnostics
	m.Tags, diags = ownTags(ctx, m.Tags, live)
	resp.Diagnostics.Append(diags...)
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, live)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update changes only tags (everything else replaces the table).
func (r *tableResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, old tableModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &old)...)
	if resp.Diagnostics.HasError() {
		return
	}
	all, diags := allTags(ctx, r.c, m.Tags)
	resp.Diagnostics.Append(diags...)
	var before map[string]string
	if !old.TagsAll.IsNull() {
		resp.Diagnostics.Append(old.TagsAll.ElementsAs(ctx, &before, false)...)
	}
	arn := awssdk.String(old.Arn.ValueString())
	var gone []string
	for k := range before {
		if _, ok := all[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		if _, err := r.c.dynamodb.UntagResource(ctx, &dynamodb.UntagResourceInput{ResourceArn: arn, TagKeys: gone}); err != nil {
			resp.Diagnostics.AddError("untagging DynamoDB table", err.Error())
			return
		}
	}
	var tags []ddbtypes.Tag
	for k, v := range all {
		tags = append(tags, ddbtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	if len(tags) > 0 {
		if _, err := r.c.dynamodb.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: arn, Tags: tags}); err != nil {
			resp.Diagnostics.AddError("tagging DynamoDB table", err.Error())
			return
		}
	}
	m.TagsAll, diags = types.MapValueFrom(ctx, types.StringType, all)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *tableResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m tableModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.c.dynamodb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: awssdk.String(m.ID.ValueString())}); err != nil && !notFound(err) {
		resp.Diagnostics.AddError("deleting DynamoDB table "+m.ID.ValueString(), err.Error())
	}
}
