package api

import (
	"context"
	"net/http"
	"testing"
)

type notListedYet struct{}

func (notListedYet) Error() string              { return "the AWS inventory has not been listed yet" }
func (notListedYet) InventoryUnavailable() bool { return true }

// An inventory that was never listed answers 501 like a missing one, not
// an empty list (which would read as "no orphans") nor a 500.
func TestOrphansBeforeTheFirstListing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Orphans = orphanLister(func(context.Context) (any, error) { return nil, notListedYet{} })
	})
	got := e.do("GET", "/api/v1/orphans", e.token("root", true), nil).wantError(t, http.StatusNotImplemented, codeInventoryUnavailable)
	if got.Error.Message != "the AWS inventory has not been listed yet" {
		t.Fatalf("message %q", got.Error.Message)
	}
}
