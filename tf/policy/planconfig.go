package policy

import (
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// The plan's configuration section holds, per resource, the expression of
// every argument the configuration sets: its constant value or the
// references it is computed from. The plan check reads it to tell apart
// what the provider fills in by itself (an attribute the configuration
// does not set) from what a tenant's expression leaves unknown, and to
// see what an unknown value is computed from.

// planConfig indexes a plan's configuration by module path ("" for the
// root, "module.a.module.b" without instance keys).
type planConfig map[string]*tfjson.ConfigModule

func newPlanConfig(plan *tfjson.Plan) planConfig {
	pc := planConfig{}
	if plan.Config == nil || plan.Config.RootModule == nil {
		return pc
	}
	var walk func(path string, m *tfjson.ConfigModule)
	walk = func(path string, m *tfjson.ConfigModule) {
		pc[path] = m
		for name, call := range m.ModuleCalls {
			if call == nil || call.Module == nil {
				continue
			}
			child := "module." + name
			if path != "" {
				child = path + "." + child
			}
			walk(child, call.Module)
		}
	}
	walk("", plan.Config.RootModule)
	return pc
}

// resource returns the configuration of a planned resource, or nil.
func (pc planConfig) resource(rc *tfjson.ResourceChange) *tfjson.ConfigResource {
	m := pc[moduleKey(rc.ModuleAddress)]
	if m == nil {
		return nil
	}
	mode := tfjson.ManagedResourceMode
	if rc.Mode == tfjson.DataResourceMode {
		mode = tfjson.DataResourceMode
	}
	for _, r := range m.Resources {
		if r != nil && r.Mode == mode && r.Type == rc.Type && r.Name == rc.Name {
			return r
		}
	}
	return nil
}

// declares reports whether the module at path declares a managed
// resource typ.name.
func (pc planConfig) declares(path, typ, name string) bool {
	m := pc[path]
	if m == nil {
		return false
	}
	for _, r := range m.Resources {
		if r != nil && r.Mode == tfjson.ManagedResourceMode && r.Type == typ && r.Name == name {
			return true
		}
	}
	return false
}

// dataSource returns the data source typ.name declared in the module at
// path, or nil.
func (pc planConfig) dataSource(path, typ, name string) *tfjson.ConfigResource {
	m := pc[path]
	if m == nil {
		return nil
	}
	for _, r := range m.Resources {
		if r != nil && r.Mode == tfjson.DataResourceMode && r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

// moduleKey drops the instance keys of a module address:
// `module.a["x"].module.b[0]` → "module.a.module.b".
func moduleKey(addr string) string {
	var b strings.Builder
	depth := 0
	inString := false
	for i := 0; i < len(addr); i++ {
		ch := addr[i]
		switch {
		case inString:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inString = false
			}
		case ch == '"' && depth > 0:
			inString = true
		case ch == '[':
			depth++
		case ch == ']':
			depth--
		case depth == 0:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// exprsAt returns the expressions at path ("a", "block.a",
// "block.inner.a") of a resource's configuration: one per static nested
// block setting it. Nil when the configuration does not set it.
func exprsAt(cfg *tfjson.ConfigResource, path string) []*tfjson.Expression {
	if cfg == nil {
		return nil
	}
	return exprsIn(cfg.Expressions, strings.Split(path, "."))
}

func exprsIn(m map[string]*tfjson.Expression, path []string) []*tfjson.Expression {
	e := m[path[0]]
	if e == nil || e.ExpressionData == nil {
		return nil
	}
	if len(path) == 1 {
		return []*tfjson.Expression{e}
	}
	var out []*tfjson.Expression
	for _, blk := range e.NestedBlocks {
		out = append(out, exprsIn(blk, path[1:])...)
	}
	return out
}

// configSets reports whether the configuration sets the argument or
// block at path (top-level name of path for a nested one): false means
// whatever value the plan shows is the provider's, computed from its
// own configuration or a default.
func configSets(cfg *tfjson.ConfigResource, path string) bool {
	if cfg == nil {
		// No configuration to tell: assume the tenant set it.
		return true
	}
	top, _, _ := strings.Cut(path, ".")
	e := cfg.Expressions[top]
	return e != nil && e.ExpressionData != nil
}
