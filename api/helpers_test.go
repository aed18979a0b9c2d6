package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/storetest"
	"github.com/tenantform/tenantform/tf/policy"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const testSecret = "test-secret-0123456789abcdef"

// t0 is the tests' "now": far from any real clock, so nothing passes by
// accident because the wall clock happened to agree.
var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is the injected clock; tests move it instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one API server on its own fresh database.
type env struct {
	t     *testing.T
	dbURL string
	st    *store.Store
	srv   *httptest.Server
	clock *clock
}

// testConfig is the configuration every test starts from.
func testConfig(c *clock) Config {
	return Config{
		JWTSecret:            []byte(testSecret),
		DefaultRegion:        "us-east-1",
		AllowedRegions:       []string{"us-east-1", "us-west-2"},
		DefaultTTLMinutes:    60,
		MaxCostPerProjectUSD: 50,
		MaxResourcesPerUser:  10,
		Policy:               policy.DefaultRules(),
		Now:                  c.Now,
	}
}

// newEnv starts a server on a migrated database; configure adjusts the
// configuration first.
func newEnv(t *testing.T, configure func(*Config)) *env {
	return newEnvMigrated(t, true, configure)
}

func newEnvMigrated(t *testing.T, migrate bool, configure func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	var dbURL string
	if migrate {
		dbURL = storetest.NewMigratedDatabase(t, store.MigrateURL)
	} else {
		dbURL = storetest.NewDatabase(t)
	}
	st, err := store.Open(ctx, dbURL, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{now: t0}
	cfg := testConfig(c)
	if configure != nil {
		configure(&cfg)
	}
	if f, ok := cfg.Changes.(*countingFeed); ok && f.ChangeFeed == nil {
		f.ChangeFeed = st // the env's own store, which configure could not name
	}
	srv := httptest.NewServer(New(cfg, st))
	t.Cleanup(srv.Close)
	return &env{t: t, dbURL: dbURL, st: st, srv: srv, clock: c}
}

// token signs a token valid for an hour from the env's clock.
func (e *env) token(user string, admin bool) string {
	e.t.Helper()
	tok, err := SignToken([]byte(testSecret), user, admin, time.Hour, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request. body is sent as is when it is a string, otherwise
// as its JSON; headers come in name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode reads the body as JSON into v, failing the test otherwise.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %v\n%s", r.status, err, r.body)
	}
}

// apiErr is the error envelope as a client reads it.
type apiErr struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

// wantError checks the status and the envelope's code and returns it.
func (r result) wantError(t *testing.T, status int, code string) apiErr {
	t.Helper()
	var e apiErr
	r.decode(t, &e)
	if r.status != status || e.Error.Code != code {
		t.Fatalf("got %d %q, want %d %q: %s", r.status, e.Error.Code, status, code, r.body)
	}
	if e.Error.Message == "" {
		t.Fatalf("error without a message: %s", r.body)
	}
	return e
}

// wantStatus fails unless the answer has status.
func (r result) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %d, want %d: %s", r.status, status, r.body)
	}
}

// spec is a valid PUT body; n makes distinct specs.
func spec(n int) map[string]any {
	return map[string]any{
		"files": map[string]string{
			"main.tf":      `resource "terraform_data" "a" { input = var.n }`,
			"variables.tf": `variable "n" { type = number }`,
		},
		"variables": map[string]any{"n": n},
	}
}

const projectPathAliceDemo = "/api/v1/users/alice/projects/demo"

var keyAliceDemo = store.Key{UserID: "alice", ProjectID: "demo"}

// project is a project response as a client reads it.
type project struct {
	UserID              string     `json:"userId"`
	ProjectID           string     `json:"projectId"`
	Generation          int64      `json:"generation"`
	CreatedAt           time.Time  `json:"createdAt"`
	UpdatedAt           time.Time  `json:"updatedAt"`
	ExpiresAt           time.Time  `json:"expiresAt"`
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
	Spec                struct {
		Region            string                     `json:"region"`
		Files             map[string]string          `json:"files"`
		Variables         map[string]json.RawMessage `json:"variables"`
		TTLMinutes        int                        `json:"ttlMinutes"`
		MaxMonthlyCostUSD float64                    `json:"maxMonthlyCostUSD"`
		RequireApproval   bool                       `json:"requireApproval"`
	} `json:"spec"`
	Status struct {
		Phase              string `json:"phase"`
		ObservedGeneration int64  `json:"observedGeneration"`
	} `json:"status"`
}

func (r result) project(t *testing.T) project {
	t.Helper()
	var p project
	r.decode(t, &p)
	return p
}

// reconciled records st as key's status the way a reconciler does: claim
// the project's lease, then write. Other projects claimed on the way stay
// leased, which no test here minds.
func (e *env) reconciled(key store.Key, st store.Status) store.Project {
	e.t.Helper()
	p := e.claimed(key)
	if err := e.st.SetStatus(context.Background(), key, p.LeaseToken, st); err != nil {
		e.t.Fatalf("cannot record a status: %v", err)
	}
	return p
}

// claimed leases key the way a reconciler does and returns it with its
// claim token.
func (e *env) claimed(key store.Key) store.Project {
	e.t.Helper()
	ctx := context.Background()
	var inflight []store.Key
	tokens := map[store.Key]string{}
	for {
		p, ok, err := e.st.ClaimDue(ctx, store.Claim{Owner: "test-reconciler-" + key.String(), LeaseFor: time.Hour, Now: e.clock.Now(), InFlight: inflight})
		if err != nil || !ok {
			e.t.Fatalf("cannot claim %s: ok=%v err=%v", key, ok, err)
		}
		if p.Key == key {
			for _, k := range inflight {
				e.st.ReleaseLease(ctx, k, tokens[k], e.clock.Now())
			}
			return p
		}
		inflight = append(inflight, p.Key)
		tokens[p.Key] = p.LeaseToken
	}
}
