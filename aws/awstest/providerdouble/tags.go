package providerdouble

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// allTags is the provider's default_tags overlaid with a resource's own
// tags, as the real provider computes tags_all.
func allTags(ctx context.Context, c *clients, tags types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	if c != nil {
		for k, v := range c.defaultTags {
			out[k] = v
		}
	}
	var own map[string]string
	var diags diag.Diagnostics
	if !tags.IsNull() && !tags.IsUnknown() {
		diags = tags.ElementsAs(ctx, &own, false)
	}
	for k, v := range own {
		out[k] = v
	}
	return out, diags
}

// planTagsAll sets tags_all in the plan, so that `terraform plan` shows
// every tag the resource will carry (tenantform's plan-time checks read
// it).
func planTagsAll(ctx context.Context, c *clients, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var tags types.Map
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("tags"), &tags)...)
	if tags.IsUnknown() || c == nil {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("tags_all"), types.MapUnknown(types.StringType))...)
		return
	}
	all, diags := allTags(ctx, c, tags)
	resp.Diagnostics.Append(diags...)
	v, diags := types.MapValueFrom(ctx, types.StringType, all)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("tags_all"), v)...)
}

// ownTags is what Read reports as a resource's tags: the live value of
// each key it already had in state (a key removed out of band disappears,
// a value changed shows the change).
func ownTags(ctx context.Context, state types.Map, live map[string]string) (types.Map, diag.Diagnostics) {
	if state.IsNull() || state.IsUnknown() {
		return state, nil
	}
	var had map[string]string
	diags := state.ElementsAs(ctx, &had, false)
	out := map[string]string{}
	for k := range had {
		if v, ok := live[k]; ok {
			out[k] = v
		}
	}
	m, d := types.MapValueFrom(ctx, types.StringType, out)
	diags.Append(d...)
	return m, diags
}

func configureClients(req resource.ConfigureRequest, resp *resource.ConfigureResponse) *clients {
	if req.ProviderData == nil {
		return nil
	}
	c, ok := req.ProviderData.(*clients)
	if !ok {
		resp.Diagnostics.AddError("unexpected provider data", "the test provider's resources need *clients")
	}
	return c
}
