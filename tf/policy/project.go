package policy

import (
	"sort"
	"strings"
)

// project is what a submission declares, module by module. Module
// directories are paths relative to the project directory, "" for the
// root module.
type project struct {
	// resources maps a module directory to the managed resources it
	// declares, as "type.name".
	resources map[string]map[string]bool
	// modules are the directories holding configuration files.
	modules map[string]bool
	// calls maps a module directory to the local modules it calls, with
	// the file and line of each call.
	calls map[string][]moduleCall
}

type moduleCall struct {
	dir  string // the called module's directory
	file string
	line int
}

func newProject(files map[string]parsed) *project {
	p := &project{resources: map[string]map[string]bool{}, modules: map[string]bool{}, calls: map[string][]moduleCall{}}
	for name, f := range files {
		dir := moduleDir(name)
		p.modules[dir] = true
		if f.body == nil {
			continue
		}
		for _, blk := range f.body.blocks {
			switch blk.typ {
			case "resource":
				if p.resources[dir] == nil {
					p.resources[dir] = map[string]bool{}
				}
				p.resources[dir][blk.label(0)+"."+blk.label(1)] = true
			case "module":
				if target, ok := localModule(dir, blk); ok {
					p.calls[dir] = append(p.calls[dir], moduleCall{dir: target, file: name, line: blk.line})
				}
			}
		}
	}
	for dir := range p.calls {
		sort.Slice(p.calls[dir], func(i, j int) bool {
			a, b := p.calls[dir][i], p.calls[dir][j]
			if a.file != b.file {
				return a.file < b.file
			}
			return a.line < b.line
		})
	}
	return p
}

// declares reports whether module dir declares the managed resource
// typ.name.
func (p *project) declares(dir, typ, name string) bool {
	return p.resources[dir][typ+"."+name]
}

// isLocalSource reports a module source terraform reads from the local
// file system.
func isLocalSource(src string) bool {
	return strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") || src == "." || src == ".." || strings.HasPrefix(src, "/")
}

// localModule resolves the source of a module block called from dir when
// it is a literal local path inside the project.
func localModule(dir string, blk *block) (string, bool) {
	a := blk.body.attr("source")
	if a == nil {
		return "", false
	}
	src, ok := literalOf(a.expr)
	if !ok || !isLocalSource(src) {
		return "", false
	}
	target, inside := resolve(dir, src)
	if !inside || target == "" {
		return "", false
	}
	return target, true
}

// maxModuleDepth bounds the chain of module calls from the root.
const maxModuleDepth = 5

// moduleGraph refuses module call cycles (terraform would load forever)
// and chains deeper than maxModuleDepth.
func (c *checker) moduleGraph() {
	reported := map[string]bool{}
	var visit func(dir string, depth int, path map[string]bool)
	visit = func(dir string, depth int, path map[string]bool) {
		for _, call := range c.project.calls[dir] {
			key := call.file + ":" + call.dir
			switch {
			case path[call.dir] || call.dir == dir:
				if !reported[key] {
					reported[key] = true
					c.startFile(call.file)
					c.report(call.line, "module %q calls itself through its own module calls", call.dir)
				}
			case depth+1 > maxModuleDepth:
				if !reported[key] {
					reported[key] = true
					c.startFile(call.file)
					c.report(call.line, "modules may be nested at most %d deep", maxModuleDepth)
				}
			default:
				path[call.dir] = true
				visit(call.dir, depth+1, path)
				delete(path, call.dir)
			}
		}
	}
	visit("", 0, map[string]bool{"": true})
}
