package policy

import (
	"fmt"
	"regexp"
	"slices"
)

// typePattern is a resource or data source type name, or a prefix pattern
// ending in "*" with at least a provider name before it ("aws_sqs_*").
var typePattern = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]*\*?$|^[a-z][a-z0-9]*_\*$`)

// Extend returns rules whose allow-lists also hold the operator's extra
// resource types (ALLOWED_RESOURCE_TYPES) and data sources
// (ALLOWED_DATA_SOURCES). It only ever adds: the escape checks have no
// setting, and the types in alwaysRefused stay refused. An entry that is
// not a type name or a "provider_prefix*" pattern, or that names an
// always-refused type, is an error naming the setting.
func (r Rules) Extend(resourceTypes, dataSources []string) (Rules, error) {
	out := r
	out.AllowedResourceTypes = slices.Clone(r.AllowedResourceTypes)
	out.AllowedDataSources = slices.Clone(r.AllowedDataSources)
	for _, set := range []struct {
		setting string
		extra   []string
		list    *[]string
	}{
		{"ALLOWED_RESOURCE_TYPES", resourceTypes, &out.AllowedResourceTypes},
		{"ALLOWED_DATA_SOURCES", dataSources, &out.AllowedDataSources},
	} {
		for _, t := range set.extra {
			if !typePattern.MatchString(t) {
				return r, fmt.Errorf("%s: %q is not a type name or a \"provider_prefix*\" pattern", set.setting, t)
			}
			for refused, why := range alwaysRefused {
				if matchesAny([]string{t}, refused) {
					return r, fmt.Errorf("%s: %q would allow %s, which is never allowed: %s", set.setting, t, refused, why)
				}
			}
			if !slices.Contains(*set.list, t) {
				*set.list = append(*set.list, t)
			}
		}
	}
	return out, nil
}
