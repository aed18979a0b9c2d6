package main

import (
	"strings"
	"testing"
)

// TestDevBannerNamesWhatExists: the banner's commands run from a fresh
// clone (go run, not a binary nobody installed), and it names the console
// with the admin token it needs.
func TestDevBannerNamesWhatExists(t *testing.T) {
	var b strings.Builder
	printDevBanner(&b, "http://127.0.0.1:5001", "postgres://…", "embedded", "none", "user.token.x", "admin.token.y")
	out := b.String()
	for _, want := range []string{
		"TOKEN=user.token.x",
		"go run ./cmd/tenantform projects list",
		"go install\n./cmd/...",
		"http://127.0.0.1:5001/console",
		"admin token (user \"ops\")",
		"  admin.token.y\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "tenantform ") && !strings.HasPrefix(l, "tenantform dev is running") {
			t.Errorf("the banner tells the user to run a tenantform binary go run did not install: %q", line)
		}
	}
}
