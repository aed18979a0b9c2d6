package tf

import (
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// PlannedCreate is a managed resource a saved plan will create (a create,
// or the create half of a replacement): what the crash-safe creation
// record keeps before the apply starts, so that a resource the provider
// created but terraform never recorded can be found afterwards.
type PlannedCreate struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Region is the region of the provider configuration the resource
	// uses: the constant region of its (aliased) provider block, else the
	// project's region.
	Region string `json:"region"`
	// Values are the attribute values known at plan time (unknown ones are
	// absent): the name, or the prefix of a generated name, is read from
	// them per type (package aws, PlannedName).
	Values map[string]any `json:"-"`
}

// ImportChange is what a plan does to a resource it imports (an import
// block): Action is "no-op", "update", "replace" or "delete".
type ImportChange struct {
	Address string `json:"address"`
	ID      string `json:"id"`
	Action  string `json:"action"`
}

// Destroys reports whether applying the change would delete the imported
// resource (a replacement deletes it first, or after creating its twin).
func (c ImportChange) Destroys() bool { return c.Action == "replace" || c.Action == "delete" }

// PlannedCreates lists the resources the plan creates, sorted by address.
// defaultRegion is the project's region (the platform's provider block).
func PlannedCreates(p *tfjson.Plan, defaultRegion string) []PlannedCreate {
	if p == nil {
		return nil
	}
	regions := providerRegions(p)
	keys := resourceProviderKeys(p)
	var out []PlannedCreate
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		if !rc.Change.Actions.Create() && !rc.Change.Actions.Replace() {
			continue
		}
		after, _ := rc.Change.After.(map[string]any)
		region := defaultRegion
		if r := regions[keys[configAddress(rc)]]; r != "" {
			region = r
		}
		out = append(out, PlannedCreate{Address: rc.Address, Type: rc.Type, Region: region, Values: after})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// importChanges lists what the plan does to each resource it imports.
func importChanges(p *tfjson.Plan) []ImportChange {
	if p == nil {
		return nil
	}
	var out []ImportChange
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Change.Importing == nil {
			continue
		}
		a := rc.Change.Actions
		action := "no-op"
		switch {
		case a.Replace():
			action = "replace"
		case a.Delete():
			action = "delete"
		case a.Update():
			action = "update"
		}
		out = append(out, ImportChange{Address: rc.Address, ID: rc.Change.Importing.ID, Action: action})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// providerRegions maps each provider configuration key ("aws",
// "aws.west", "module.m:aws") to its constant region, when it has one.
func providerRegions(p *tfjson.Plan) map[string]string {
	out := map[string]string{}
	if p.Config == nil {
		return out
	}
	for key, pc := range p.Config.ProviderConfigs {
		if pc == nil || pc.Name != "aws" {
			continue
		}
		if e, ok := pc.Expressions["region"]; ok && e != nil && e.ExpressionData != nil {
			if s, ok := e.ConstantValue.(string); ok {
				out[key] = s
			}
		}
	}
	return out
}

// resourceProviderKeys maps each configured resource (its address without
// instance keys, with its module path) to its provider configuration key.
func resourceProviderKeys(p *tfjson.Plan) map[string]string {
	out := map[string]string{}
	if p.Config == nil {
		return out
	}
	var walk func(prefix string, m *tfjson.ConfigModule)
	walk = func(prefix string, m *tfjson.ConfigModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			if r != nil {
				out[prefix+r.Address] = r.ProviderConfigKey
			}
		}
		for name, call := range m.ModuleCalls {
			if call != nil {
				walk(prefix+"module."+name+".", call.Module)
			}
		}
	}
	walk("", p.Config.RootModule)
	return out
}

// configAddress is a resource change's address in the configuration: its
// module path without instance keys, then type.name.
func configAddress(rc *tfjson.ResourceChange) string {
	var b strings.Builder
	if rc.ModuleAddress != "" {
		for _, part := range strings.Split(rc.ModuleAddress, ".") {
			if i := strings.IndexByte(part, '['); i >= 0 {
				part = part[:i]
			}
			b.WriteString(part + ".")
		}
	}
	b.WriteString(rc.Type + "." + rc.Name)
	return b.String()
}
