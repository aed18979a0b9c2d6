package main

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpListsTheEnvironment: every subcommand's --help lists the
// variables it requires (exactly those Validate insists on) and the
// others it reads, each a real setting.
func TestHelpListsTheEnvironment(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
	}
	notSet := regexp.MustCompile(`([A-Z_]+) is not set`)
	for m, envs := range modeEnvironment {
		for _, name := range append(slices.Clone(envs.required), envs.optional...) {
			if !known[name] {
				t.Errorf("%s --help lists %s, which is not a setting", m, name)
			}
		}
		var required []string
		if err := (Config{AWSRegion: "us-east-1", AWSAllowedRegions: []string{"us-east-1"}}).Validate(m); err != nil {
			for _, match := range notSet.FindAllStringSubmatch(err.Error(), -1) {
				required = append(required, match[1])
			}
		}
		if !slices.Equal(required, envs.required) && !(len(required) == 0 && len(envs.required) == 0) {
			t.Errorf("%s --help says %v are required, Validate requires %v", m, envs.required, required)
		}

		var stdout, stderr bytes.Buffer
		if code := run([]string{string(m), "--help"}, &stdout, &stderr, env{"HOME": "/h"}.get); code != 0 {
			t.Errorf("%s --help: exit %d: %s", m, code, stderr.String())
		}
		help := stderr.String()
		for _, name := range envs.required {
			if !regexp.MustCompile(`(?m)^  ` + name + ` +required$`).MatchString(help) {
				t.Errorf("%s --help does not say %s is required:\n%s", m, name, help)
			}
		}
		for _, name := range envs.optional {
			if !strings.Contains(help, "  "+name+" ") {
				t.Errorf("%s --help does not list %s:\n%s", m, name, help)
			}
		}
	}
	for _, m := range []mode{modeServe, modeReconcile, modeMigrate, modeDev, modeToken} {
		if _, ok := modeEnvironment[m]; !ok {
			t.Errorf("%s has no environment help", m)
		}
	}
}
