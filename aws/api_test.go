package aws_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantform/tenantform/api"
	tfaws "github.com/tenantform/tenantform/aws"
)

// GET /api/v1/orphans served by the real API over Orphans and the store:
// the items carry exactly the fields the OpenAPI document's Orphan schema
// describes.
func TestOrphansEndpointServesTheReport(t *testing.T) {
	emu, st := orphanWorld(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := api.New(api.Config{JWTSecret: secret, Orphans: newOrphans(t, emu, st, "")}, st)
	token, err := api.SignToken(secret, "ops", true, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/orphans", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/orphans: %d %s", rec.Code, rec.Body)
	}
	var body struct{ Items []map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Items) != 3 {
		t.Fatalf("%d orphans, want 3: %s", len(body.Items), rec.Body)
	}

	raw, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for k := range doc.Components.Schemas["Orphan"].Properties {
		want = append(want, k)
	}
	for k := range body.Items[0] {
		got = append(got, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("orphan fields vs the OpenAPI Orphan schema (-schema +served):\n%s", diff)
	}
}

func TestOrphansBeforeTheFirstListingAnswer501(t *testing.T) {
	st := openStore(t)
	o, err := tfaws.NewOrphans(tfaws.OrphanConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.List(t.Context()); !errors.Is(err, tfaws.ErrNoInventory) {
		t.Fatalf("List before any listing: %v, want ErrNoInventory", err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	token, err := api.SignToken(secret, "ops", true, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/orphans", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	api.New(api.Config{JWTSecret: secret, Orphans: o}, st).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotImplemented {
		t.Fatalf("GET /api/v1/orphans before the first listing: %d %s", rec.Code, rec.Body)
	}
}
