// Package providers owns the platform's choice of terraform providers: the
// dependency lock file tenantform ships (providers.lock.hcl, embedded in the
// binary) with the exact version, and where known the hashes, of every
// provider a tenant may use. The policy refuses a tenant version constraint
// that does not admit the locked version; package tf writes the lock into
// every work directory before `terraform init` and keeps the plugin cache
// to these versions; the Dockerfile builds its provider mirror from the
// same file.
//
// It is a leaf package so that both tf and tf/policy can read it.
package providers

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	version "github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2/hclsimple"
)

// LockFileName is the name terraform reads the dependency lock from.
const LockFileName = ".terraform.lock.hcl"

// DefaultRegistry is the host of every provider tenantform allows.
const DefaultRegistry = "registry.terraform.io"

// Provider is one locked provider.
type Provider struct {
	// Source is the full address: "registry.terraform.io/hashicorp/aws".
	Source string
	// Version is the one version terraform may install.
	Version string
	// Hashes are the package hashes terraform checks ("h1:...",
	// "zh:..."); none means terraform accepts any package of Version it
	// can authenticate otherwise (registry signature), and records it.
	Hashes []string
}

// Type is the provider's type, which is also its local name in tenant
// configurations ("aws").
func (p Provider) Type() string {
	return p.Source[strings.LastIndex(p.Source, "/")+1:]
}

// Lock is a set of locked providers.
type Lock struct {
	providers []Provider // sorted by Source
}

// New returns a lock of the given providers. It is for tests and for
// operators who mirror other builds; tenantform uses Platform.
func New(providers ...Provider) (*Lock, error) {
	l := &Lock{}
	seen := map[string]bool{}
	for _, p := range providers {
		if strings.Count(p.Source, "/") != 2 {
			return nil, fmt.Errorf("provider source %q: want host/namespace/type", p.Source)
		}
		if seen[p.Type()] {
			return nil, fmt.Errorf("provider %q is locked twice", p.Type())
		}
		seen[p.Type()] = true
		v, err := version.NewVersion(p.Version)
		if err != nil || v.String() != p.Version || v.Prerelease() != "" {
			return nil, fmt.Errorf("provider %s: version %q is not an exact release version", p.Source, p.Version)
		}
		p.Hashes = append([]string(nil), p.Hashes...)
		l.providers = append(l.providers, p)
	}
	sort.Slice(l.providers, func(i, j int) bool { return l.providers[i].Source < l.providers[j].Source })
	return l, nil
}

// lockFile is the lock file's syntax, as terraform writes it.
type lockFile struct {
	Providers []struct {
		Source      string   `hcl:"source,label"`
		Version     string   `hcl:"version"`
		Constraints string   `hcl:"constraints,optional"`
		Hashes      []string `hcl:"hashes,optional"`
	} `hcl:"provider,block"`
}

// Parse reads a lock file in terraform's .terraform.lock.hcl format.
// name is used in error messages.
func Parse(name string, src []byte) (*Lock, error) {
	var f lockFile
	if err := hclsimple.Decode(name+".hcl", src, nil, &f); err != nil {
		return nil, fmt.Errorf("provider lock %s: %w", name, err)
	}
	var ps []Provider
	for _, p := range f.Providers {
		if p.Constraints != "" && p.Constraints != p.Version {
			return nil, fmt.Errorf("provider lock %s: %s: constraints %q must be the exact version %q", name, p.Source, p.Constraints, p.Version)
		}
		ps = append(ps, Provider{Source: p.Source, Version: p.Version, Hashes: p.Hashes})
	}
	l, err := New(ps...)
	if err != nil {
		return nil, fmt.Errorf("provider lock %s: %w", name, err)
	}
	return l, nil
}

var platform = sync.OnceValues(func() (*Lock, error) {
	return Parse("providers.lock.hcl", platformLockFile)
})

// Platform is the lock tenantform ships. The embedded file is tested, so
// a broken one never reaches a binary; Platform panics if it does.
func Platform() *Lock {
	l, err := platform()
	if err != nil {
		panic(err)
	}
	return l
}

// Providers returns the locked providers, sorted by source.
func (l *Lock) Providers() []Provider {
	return append([]Provider(nil), l.providers...)
}

// Provider returns the locked provider whose type (local name) is name.
func (l *Lock) Provider(name string) (Provider, bool) {
	for _, p := range l.providers {
		if p.Type() == name {
			return p, true
		}
	}
	return Provider{}, false
}

// Locked reports whether source (host/namespace/type) at ver is in the
// lock.
func (l *Lock) Locked(source, ver string) bool {
	for _, p := range l.providers {
		if strings.EqualFold(p.Source, source) && p.Version == ver {
			return true
		}
	}
	return false
}

// Admits checks a tenant's version constraint for the provider name
// against the lock: it must accept the locked version. It returns the
// locked version for messages; an unknown provider admits nothing.
func (l *Lock) Admits(name, constraint string) (locked string, ok bool, err error) {
	p, found := l.Provider(name)
	if !found {
		return "", false, fmt.Errorf("provider %q is not locked", name)
	}
	c, err := version.NewConstraint(constraint)
	if err != nil {
		return p.Version, false, err
	}
	return p.Version, c.Check(version.Must(version.NewVersion(p.Version))), nil
}

// RefinedBy reports whether src, a work directory's lock file as
// terraform left it after an init from this lock, still says what this
// lock says: each provider it lists is locked here at the same version,
// with every hash locked here. Terraform drops the providers a
// configuration does not use, records the hashes of packages it
// installed, and rewrites the constraints; none of that changes what it
// may install. Rewriting such a file would make a saved plan inapplicable
// ("Inconsistent dependency lock file").
func (l *Lock) RefinedBy(src []byte) bool {
	var f lockFile
	if err := hclsimple.Decode(LockFileName+".hcl", src, nil, &f); err != nil {
		return false
	}
	for _, p := range f.Providers {
		mine, ok := l.bySource(p.Source)
		if !ok || mine.Version != p.Version {
			return false
		}
		for _, h := range mine.Hashes {
			if !slices.Contains(p.Hashes, h) {
				return false
			}
		}
	}
	return true
}

func (l *Lock) bySource(source string) (Provider, bool) {
	for _, p := range l.providers {
		if p.Source == source {
			return p, true
		}
	}
	return Provider{}, false
}

// Render returns the lock in terraform's .terraform.lock.hcl format, for
// the work directory. The same lock always renders to the same bytes.
func (l *Lock) Render() []byte {
	var b strings.Builder
	b.WriteString("# Written by tenantform from the platform's provider lock; tenant edits are replaced.\n")
	for _, p := range l.providers {
		fmt.Fprintf(&b, "\nprovider %s {\n", strconv.Quote(p.Source))
		fmt.Fprintf(&b, "  version     = %s\n", strconv.Quote(p.Version))
		fmt.Fprintf(&b, "  constraints = %s\n", strconv.Quote(p.Version))
		if len(p.Hashes) > 0 {
			b.WriteString("  hashes = [\n")
			for _, h := range p.Hashes {
				fmt.Fprintf(&b, "    %s,\n", strconv.Quote(h))
			}
			b.WriteString("  ]\n")
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}
