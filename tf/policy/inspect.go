package policy

import (
	"crypto/sha256"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Inspection is what the engine needs to know about a configuration to
// render its workdir, read with the parser Check uses (and terraform), so
// that what the engine generates covers exactly what terraform will run.
type Inspection struct {
	// UsesAWS: some resource or data source, in any module, has an aws_
	// type, or the root module configures the aws provider.
	UsesAWS bool
	// RequiresAWS: the root module lists aws in required_providers (a
	// provider required twice in one module is an error).
	RequiresAWS bool
	// AWSVersion is the root module's literal version constraint for
	// hashicorp/aws, or "".
	AWSVersion string
	// AWSProviders are the root module's provider "aws" configurations.
	AWSProviders []AWSProvider
	// Addresses are the root module's resources ("type.name"), data
	// sources ("data.type.name"), module calls ("module.name"), variables
	// ("var.name") and outputs ("output.name"), sorted, one per block:
	// a duplicate, which terraform refuses, appears twice.
	Addresses []string
	// Providers are the local names of the providers the configuration
	// needs, in any module: implied by resource types, configured by
	// provider blocks or listed in required_providers.
	Providers []string
	// IAMRoles maps a module directory ("" for the root) to the names of
	// the aws_iam_role resources it declares.
	IAMRoles map[string][]string
	// InitDigest covers exactly what `terraform init` reads from tenant
	// configuration: terraform, provider and module blocks, the provider
	// each resource type implies, and the module directories. Editing a
	// resource's arguments or a variable does not change it.
	InitDigest string
}

// AWSProvider is one provider "aws" block of the root module.
type AWSProvider struct {
	Alias string // "" for the default configuration
	// Region is set when the block sets region (Check requires a
	// literal, allowed one).
	Region bool
	// DefaultTags are its default_tags, which Check requires to be
	// literal; package tf merges the platform's tags over them.
	DefaultTags map[string]string
}

// unparsedAWS finds aws resource types in a file HCL cannot parse. Such a
// configuration fails at plan anyway; the guess only decides whether the
// aws provider file is generated before terraform reports the syntax error.
var unparsedAWS = regexp.MustCompile(`(?:resource|data)\s*"?\s*:?\s*\{?\s*"aws_`)

// Inspect reads a configuration. It never fails: a file that does not
// parse contributes its raw bytes to InitDigest (fixing it re-inits) and
// a guess to UsesAWS.
func Inspect(files map[string]string) Inspection {
	var out Inspection
	h := sha256.New()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	parsedFiles := parseAll(files, names, scanLimit(DefaultMaxNestingDepth))
	providers := map[string]bool{} // implied by resource types
	named := map[string]bool{}     // in provider blocks and required_providers
	for _, name := range names {
		p, ok := parsedFiles[name]
		if !ok {
			continue
		}
		src := files[name]
		if p.body == nil {
			fmt.Fprintf(h, "raw %q %d\n", name, len(src))
			io.WriteString(h, src)
			if unparsedAWS.MatchString(src) {
				out.UsesAWS = true
			}
			continue
		}
		root := moduleDir(name) == ""
		for _, blk := range p.body.blocks {
			if root {
				if addr := rootAddress(blk); addr != "" {
					out.Addresses = append(out.Addresses, addr)
				}
			}
			switch blk.typ {
			case "resource", "data", "ephemeral":
				typ := blk.label(0)
				if strings.HasPrefix(typ, "aws_") {
					out.UsesAWS = true
				}
				local, _, _ := strings.Cut(typ, "_")
				providers[local] = true
				if blk.typ == "resource" && typ == "aws_iam_role" {
					if out.IAMRoles == nil {
						out.IAMRoles = map[string][]string{}
					}
					dir := moduleDir(name)
					out.IAMRoles[dir] = append(out.IAMRoles[dir], blk.label(1))
				}
			case "terraform", "provider", "module":
				fmt.Fprintf(h, "block %q %q %q\n", name, blk.typ, blk.labels)
				hashBody(h, src, blk.body)
				if root {
					out.inspectRoot(blk)
				}
				if blk.typ == "provider" {
					named[blk.label(0)] = true
				}
				if blk.typ == "terraform" {
					for _, rp := range blk.body.blocks {
						if rp.typ == "required_providers" {
							for _, a := range rp.body.attrs {
								named[a.name] = true
							}
						}
					}
				}
			}
		}
	}
	for _, p := range sortedSet(providers) {
		fmt.Fprintf(h, "implied provider %q\n", p)
		named[p] = true
	}
	out.Providers = sortedSet(named)
	sort.Strings(out.Addresses)
	for dir := range out.IAMRoles {
		sort.Strings(out.IAMRoles[dir])
	}
	sort.Slice(out.AWSProviders, func(i, j int) bool { return out.AWSProviders[i].Alias < out.AWSProviders[j].Alias })
	if len(out.AWSProviders) > 0 {
		out.UsesAWS = true
	}
	out.InitDigest = fmt.Sprintf("%x", h.Sum(nil))
	return out
}

// rootAddress is the address of a top-level block in terraform's terms.
func rootAddress(blk *block) string {
	switch blk.typ {
	case "resource":
		return blk.label(0) + "." + blk.label(1)
	case "data":
		return "data." + blk.label(0) + "." + blk.label(1)
	case "module":
		return "module." + blk.label(0)
	case "variable":
		return "var." + blk.label(0)
	case "output":
		return "output." + blk.label(0)
	}
	return ""
}

func (out *Inspection) inspectRoot(blk *block) {
	switch {
	case blk.typ == "provider" && blk.label(0) == "aws":
		p := AWSProvider{Region: blk.body.attr("region") != nil}
		if a := blk.body.attr("alias"); a != nil {
			p.Alias, _ = literalOf(a.expr)
		}
		for _, dt := range blk.body.blocks {
			if dt.typ != "default_tags" {
				continue
			}
			if a := dt.body.attr("tags"); a != nil {
				p.DefaultTags, _ = LiteralTags(a.expr)
			}
		}
		out.AWSProviders = append(out.AWSProviders, p)
	case blk.typ == "terraform":
		for _, rp := range blk.body.blocks {
			if rp.typ != "required_providers" {
				continue
			}
			if a := rp.body.attr("aws"); a != nil {
				out.RequiresAWS = true
				out.AWSVersion = awsVersion(a.expr)
			}
		}
	}
}

// awsVersion returns the literal version constraint of a required_providers
// entry: "~> 6.0" or { version = "~> 6.0" }.
func awsVersion(e hcl.Expression) string {
	if s, ok := literalOf(e); ok {
		return s
	}
	fields, ok := fieldsOf(e)
	if !ok {
		return ""
	}
	if v, ok := fields["version"]; ok {
		s, _ := literalOf(v)
		return s
	}
	return ""
}

// hashBody writes the source of every argument and nested block of b, in
// a stable order, into h.
func hashBody(h io.Writer, src string, b *body) {
	for _, a := range b.attrs {
		r := a.expr.Range()
		text := ""
		if r.Start.Byte >= 0 && r.End.Byte <= len(src) && r.Start.Byte <= r.End.Byte {
			text = src[r.Start.Byte:r.End.Byte]
		}
		fmt.Fprintf(h, "attr %q %d\n%s\n", a.name, len(text), text)
	}
	for _, nested := range b.blocks {
		fmt.Fprintf(h, "nested %q %q\n", nested.typ, nested.labels)
		hashBody(h, src, nested.body)
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
