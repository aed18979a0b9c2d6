package api

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantform/tenantform/store"
)

// TestGetAnswersFromTheRememberedViewOnlyWhileItsVersionHolds: a GET
// answers with the view an earlier GET made while the row's watch
// version is unchanged, and with the row as it is once anything a client
// sees changed, including a status the reconciler writes without bumping
// the revision, a lease, and a project deleted and created again.
//
// That the remembered view is used at all is shown by a write with the
// table's update trigger disabled (so no new watch version): only a
// remembered answer can still show the old message.
func TestGetAnswersFromTheRememberedViewOnlyWhileItsVersionHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.NoActualCosts = true })
	ctx := context.Background()
	alice := e.token("alice", false)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	message := func() string {
		t.Helper()
		r := e.do("GET", projectPathAliceDemo, alice, nil)
		r.wantStatus(t, http.StatusOK)
		var body struct {
			Status struct {
				Message string `json:"message"`
			} `json:"status"`
		}
		r.decode(t, &body)
		return body.Status.Message
	}
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	const where = ` WHERE user_id = 'alice' AND project_id = 'demo'`

	if got := message(); got != "" {
		t.Fatalf("a new project's message is %q", got)
	}
	exec(`UPDATE projects SET status_message = 'planning'` + where)
	if got := message(); got != "planning" {
		t.Fatalf("after the reconciler wrote a status: message %q, want planning", got)
	}
	// A lease changes no watch version, and nothing the view shows.
	exec(`UPDATE projects SET lease_owner = 'r1', lease_expires_at = now() + interval '1 minute', lease_token = gen_random_uuid()` + where)
	if got := message(); got != "planning" {
		t.Fatalf("after a lease: message %q, want planning", got)
	}

	exec(`ALTER TABLE projects DISABLE TRIGGER projects_changed`)
	exec(`UPDATE projects SET status_message = 'unannounced'` + where)
	exec(`ALTER TABLE projects ENABLE TRIGGER projects_changed`)
	if got := message(); got != "planning" {
		t.Fatalf("a write that took no new watch version shows (%q): the GET decoded the row instead of answering with the view it made before", got)
	}
	exec(`UPDATE projects SET status_message = 'applying'` + where)
	if got := message(); got != "applying" {
		t.Fatalf("after the next status write: message %q, want applying", got)
	}

	// Deleted and created again: a new row, a new version.
	exec(`DELETE FROM projects` + where)
	e.do("PUT", projectPathAliceDemo, alice, spec(2)).wantStatus(t, http.StatusCreated)
	if got := message(); got != "" {
		t.Fatalf("the project created again shows the old one's message %q", got)
	}
}

// withActualCost must write exactly what encoding the view with the
// actual cost writes, for any figure and any view (one with omissions
// too, whose field comes just before).
func TestRememberedBodyTakesTheActualCostAsEncodingWould(t *testing.T) {
	t.Parallel()
	plain := view(store.Project{Key: store.Key{UserID: "alice", ProjectID: "demo"}, Generation: 3,
		Spec: store.Spec{Region: "us-east-1", Files: map[string]string{"main.tf": "# <b>&\u2028"}}})
	cut := view(store.Project{Key: store.Key{UserID: "alice", ProjectID: "big"},
		Status: store.Status{Message: strings.Repeat("m", maxMessageBytes+1)}})
	if len(cut.Status.Omitted) == 0 {
		t.Fatal("the view with a long message omits nothing; the test needs one that does")
	}
	for _, v := range []projectView{plain, cut} {
		for _, usd := range []float64{0, 1.5, 0.1 + 0.2, 1e21, 1e-7, 123456.789} {
			with := v
			with.Status.ActualMonthToDateUSD = &usd
			want := encodeView(with)
			got, ok := withActualCost(encodeView(v), usd)
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("%s with %v USD: spliced (ok %v)\n%s\nwant\n%s", v.ProjectID, usd, ok, got, want)
			}
		}
	}
	if _, ok := withActualCost(encodeView(plain), math.NaN()); ok {
		t.Error("NaN spliced into the JSON; want the view encoded instead")
	}
}

// withActualCost splices the actual cost in at the end of the JSON: that
// is where encoding/json writes it only while it is status's last field
// and status the view's.
func TestTheActualCostIsTheLastFieldOfTheView(t *testing.T) {
	last := func(v any) string {
		ty := reflect.TypeOf(v)
		return ty.Field(ty.NumField() - 1).Name
	}
	if got := last(projectView{}); got != "Status" {
		t.Errorf("projectView's last field is %s, want Status", got)
	}
	if got := last(statusView{}); got != "ActualMonthToDateUSD" {
		t.Errorf("statusView's last field is %s, want ActualMonthToDateUSD", got)
	}
}

// The cache keeps to its byte budget by evicting some entries, not all; a
// project whose new answer is too large to keep loses its old one; and a
// smaller watch version than the one remembered (a database restored
// under the server) empties the cache.
func TestViewCacheEvictsSomeAndForgetsOnARestore(t *testing.T) {
	var c viewCache
	body := make([]byte, maxCachedViewEntry/2)
	n := 0
	for i := range 3 * maxCachedViewBytes / len(body) {
		c.put(store.Key{UserID: "u", ProjectID: strconv.Itoa(i)}, int64(i+1), projectView{}, body)
		n++
	}
	if c.bytes > maxCachedViewBytes || len(c.entries) < maxCachedViewBytes/(len(body)+1024)-1 {
		t.Errorf("after %d puts: %d entries, %d bytes; want as many as fit in %d", n, len(c.entries), c.bytes, maxCachedViewBytes)
	}
	total := 0
	for _, e := range c.entries {
		total += e.size
	}
	if total != c.bytes {
		t.Errorf("entries hold %d bytes, the count says %d", total, c.bytes)
	}

	k := store.Key{UserID: "u", ProjectID: "big"}
	c.put(k, 1000, projectView{}, []byte("{}"))
	c.put(k, 1001, projectView{}, make([]byte, maxCachedViewEntry+1))
	if _, ok := c.get(k); ok {
		t.Error("a project whose new answer is too large kept its old one")
	}

	c.put(k, 1002, projectView{}, []byte("{}"))
	c.put(k, 5, projectView{}, []byte("{}"))
	if len(c.entries) != 1 {
		t.Errorf("after a smaller version than remembered: %d entries, want only the new one", len(c.entries))
	}
	if e, ok := c.get(k); !ok || e.version != 5 {
		t.Errorf("after a smaller version: %+v, %v; want version 5 remembered", e, ok)
	}
}
