package policy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// providerSchema is testdata/schema/aws_schema.json: per allowed type,
// its attributes' flags and nested blocks (generate.sh).
type providerSchema struct {
	ProviderVersion string                 `json:"provider_version"`
	Resources       map[string]schemaBlock `json:"resources"`
	DataSources     map[string]schemaBlock `json:"data_sources"`
}

type schemaBlock struct {
	Attributes map[string]struct {
		Required, Optional, Computed bool
	} `json:"attributes"`
	Blocks map[string]schemaBlock `json:"blocks"`
}

// paths returns every attribute path of a block and whether the provider
// alone sets it.
func (b schemaBlock) paths(prefix string, out map[string]bool) {
	for name, f := range b.Attributes {
		out[prefix+name] = f.Computed && !f.Optional && !f.Required
	}
	for name, nested := range b.Blocks {
		nested.paths(prefix+name+".", out)
	}
}

func readSchema(t *testing.T, path string) providerSchema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s providerSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Resources) == 0 || len(s.DataSources) == 0 {
		t.Fatalf("%s holds no types", path)
	}
	return s
}

// referenceLike are attribute names that may name an existing resource:
// a plain one needs a reviewed reason (reviewedPlain).
var referenceLike = regexp.MustCompile(`(_arns?|_ids?|_name|_uri|_key|^role|bucket|function_name|layers|source|target|domain|certificate|kms|subnet|security_group|vpc|queue|topic|stream|table|log_group|principal|destination|authorizer|integration)$|arn$|uri$`)

// TestEveryAttributeClassified: every attribute of every allowed type of
// the real aws provider is classified, in the class its schema and
// ownedRefs give it.
func TestEveryAttributeClassified(t *testing.T) {
	s := readSchema(t, "testdata/schema/aws_schema.json")
	c := checker{rules: DefaultRules()}
	checked := map[string]bool{}
	for _, kind := range []string{"resource", "data"} {
		types := s.Resources
		if kind == "data" {
			types = s.DataSources
		}
		for _, typ := range sortedKeysOf(types) {
			key := typ
			if kind == "data" {
				key = "data." + typ
			}
			if c.typeRefusal(kind, typ) != "" {
				if _, ok := attributeClasses[key]; ok {
					t.Errorf("%s is refused but classified", key)
				}
				continue
			}
			checked[key] = true
			paths := map[string]bool{}
			types[typ].paths("", paths)
			classifyType(t, key, typ, kind, paths)
		}
	}
	for key := range attributeClasses {
		if !checked[key] {
			t.Errorf("%s is classified but not an allowed type of the schema", key)
		}
	}
	// Every allowed aws type named exactly (not by a pattern) is in the
	// schema: a typo or a type the provider dropped would be unchecked.
	for _, typ := range DefaultRules().AllowedResourceTypes {
		if strings.HasPrefix(typ, "aws_") && !strings.HasSuffix(typ, "*") && !checked[typ] {
			t.Errorf("allowed type %s is not in the provider's schema", typ)
		}
	}
	for _, typ := range DefaultRules().AllowedDataSources {
		if strings.HasPrefix(typ, "aws_") && !checked["data."+typ] {
			t.Errorf("allowed data source %s is not in the provider's schema", typ)
		}
	}
	// Every ownedRefs row names an argument the provider has.
	for _, r := range ownedRefs {
		paths := map[string]bool{}
		b, ok := s.Resources[r.Type]
		if !ok {
			t.Errorf("ownedRefs row %s.%s: no such type in the schema", r.Type, r.Arg)
			continue
		}
		b.paths("", paths)
		if _, ok := paths[r.Arg]; !ok {
			t.Errorf("ownedRefs row %s.%s: no such argument in the schema", r.Type, r.Arg)
		}
	}
}

func classifyType(t *testing.T, key, typ, kind string, paths map[string]bool) {
	t.Helper()
	tc, ok := attributeClasses[key]
	if !ok {
		t.Errorf("%s is allowed but not classified", key)
		return
	}
	seen := map[string]string{}
	for class, list := range map[string]string{"plain": tc.Plain, "reference": tc.Reference, "computed": tc.Computed} {
		for _, p := range strings.Fields(list) {
			if prev, dup := seen[p]; dup {
				t.Errorf("%s.%s is classified twice (%s, %s)", key, p, prev, class)
			}
			seen[p] = class
		}
	}
	var refs []string
	if kind == "resource" {
		for _, r := range ownedRefsOf(typ) {
			if _, inSchema := paths[r.Arg]; inSchema {
				refs = append(refs, r.Arg)
			}
		}
	}
	for _, p := range sortedKeysOf(paths) {
		class, ok := seen[p]
		switch {
		case !ok:
			t.Errorf("%s.%s is not classified: add it to attrclasses_table.go as plain, reference (with an ownedRefs row) or computed", key, p)
		case class == "computed" && !paths[p]:
			t.Errorf("%s.%s is classified computed but the configuration can set it", key, p)
		case class == "reference" && !slices.Contains(refs, p):
			t.Errorf("%s.%s is classified reference but has no ownedRefs row", key, p)
		case class != "reference" && slices.Contains(refs, p):
			t.Errorf("%s.%s has an ownedRefs row but is classified %s", key, p, class)
		case class == "plain" && referenceLike.MatchString(leaf(p)) && reviewedPlain[key+"."+p] == "":
			t.Errorf("%s.%s looks like a reference: classify it reference (own-or-nothing) or say in reviewedPlain why it names nothing outside the resource", key, p)
		}
	}
	for p := range seen {
		if _, ok := paths[p]; !ok {
			t.Errorf("%s.%s is classified but not in the schema", key, p)
		}
	}
}

func leaf(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// TestReviewedPlainAreClassifiedPlain keeps reviewedPlain free of stale
// entries.
func TestReviewedPlainAreClassifiedPlain(t *testing.T) {
	keys := sortedKeysOf(reviewedPlain)
	sort.Strings(keys)
	for _, k := range keys {
		typ, path, _ := strings.Cut(k, ".")
		if strings.HasPrefix(k, "data.") {
			rest := strings.TrimPrefix(k, "data.")
			name, p, _ := strings.Cut(rest, ".")
			typ, path = "data."+name, p
		}
		if got := AttributeClass(typ, path); got != "plain" {
			t.Errorf("reviewedPlain %s: classified %q, not plain", k, got)
		}
	}
}
