// Package api is tenantform's HTTP API, the contract that api/openapi.json describes (served at /openapi.json): gorilla/mux
// routes, JWT authentication and per-user scoping, strict request decoding
// and validation, the JSON error envelope, CORS, per-user rate limiting,
// request logging, and the OpenAPI document that describes all of it.
//
// The package holds no state of its own beyond a rate limiter per user:
// desired state lives in the store and everything else is derived per
// request.
package api

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/tf/policy"
)

// Config is everything the API needs besides the store. cmd/tenantform
// builds it from the environment; zero fields take the defaults in
// withDefaults.
type Config struct {
	// JWTSecret verifies bearer tokens (HS256). Empty refuses every token.
	JWTSecret []byte
	// CORSOrigin is the one origin browsers may call from ("*" for any);
	// "" sends no CORS headers at all.
	CORSOrigin string
	// MaxBodyBytes bounds request bodies (413 beyond). Default 1 MiB.
	MaxBodyBytes int64
	// DefaultRegion is a spec's region when it names none (AWS_REGION).
	DefaultRegion string
	// AllowedRegions is the allow-list for a spec's region. Empty allows
	// only DefaultRegion. It is also the policy's region allow-list when
	// Policy.AllowedRegions is empty, so both checks agree.
	AllowedRegions []string
	// DefaultTTLMinutes is a spec's ttlMinutes when it names none
	// (RESOURCE_TIMEOUT_MINUTES). Default 60.
	DefaultTTLMinutes int
	// MaxCostPerProjectUSD is the default and the cap of a spec's
	// maxMonthlyCostUSD (MAX_COST_PER_PROJECT) unless the user's quota
	// override replaces it. Default 50.
	MaxCostPerProjectUSD float64
	// MaxResourcesPerUser is the resource quota shown for a user without
	// an override (MAX_RESOURCES_PER_USER). Default 10.
	MaxResourcesPerUser int
	// MaxProjectsPerUser bounds how many projects one user may have
	// (MAX_PROJECTS_PER_USER): a PUT creating one more is a 409. 0 means
	// no limit.
	MaxProjectsPerUser int
	// Policy is checked against every submitted configuration. The zero
	// value means policy.DefaultRules() (with AllowedRegions).
	Policy policy.Rules
	// RateLimitPerSecond and RateLimitBurst bound requests per
	// authenticated user. 0 requests per second means no limit; a zero
	// burst means one second's worth (at least 1).
	RateLimitPerSecond float64
	RateLimitBurst     int
	// DatabaseTimeout bounds the store calls of one request: past it the
	// request is answered 503 DatabaseUnavailable instead of hanging on an
	// unreachable database until the client gives up. Default 10 s.
	DatabaseTimeout time.Duration
	// Now is the clock (token expiry, rate limits, timestamps). Nil means
	// time.Now.
	Now func() time.Time
	// Logger gets one line per request. Nil logs nothing.
	Logger *zap.Logger
	// Metrics is served at GET /metrics. Nil answers 404.
	Metrics http.Handler
	// HTTPMetrics counts and times every request by route template. Nil
	// records nothing.
	HTTPMetrics *metrics.HTTP
	// NoActualCosts says Cost Explorer is off (COST_EXPLORER_INTERVAL=off):
	// no month-to-date actual cost is shown, and a GET does not look for
	// one.
	NoActualCosts bool
	// Orphans lists tagged AWS resources without a live project. Nil
	// answers 501 InventoryUnavailable.
	Orphans OrphanLister
	// Changes feeds the watch API (?watch=true). Nil answers 501.
	Changes ChangeFeed
	// WatchPollInterval is how often the watch hub looks for changes when
	// no notification woke it. Default 2 s.
	WatchPollInterval time.Duration
}

// OrphanLister is the slice of the AWS inventory the API needs. Its result
// is served as the "items" of GET /api/v1/orphans.
type OrphanLister interface {
	ListOrphans(ctx context.Context) (any, error)
}

// Store is the slice of *store.Store the API uses.
type Store interface {
	PutSpecWithin(ctx context.Context, key store.Key, spec store.Spec, ifMatch *int64, now time.Time, maxProjects int) (store.Project, store.PutResult, error)
	GetProject(ctx context.Context, key store.Key) (store.Project, error)
	ListProjects(ctx context.Context, opts store.ListOptions) ([]store.Project, string, error)
	RequestDeletion(ctx context.Context, key store.Key, force bool, now time.Time) (store.Project, error)
	Extend(ctx context.Context, key store.Key, expiresAt, now time.Time) (store.Project, error)
	Approve(ctx context.Context, key store.Key, a store.Approval, now time.Time) (store.Project, error)
	ListRuns(ctx context.Context, key store.Key, limit int, before int64) ([]store.Run, error)
	GetRun(ctx context.Context, key store.Key, id int64) (store.Run, error)
	UserUsage(ctx context.Context, userID, exceptProjectID string) (store.Usage, error)
	GetQuotaOverride(ctx context.Context, userID string) (store.QuotaOverride, error)
	SetQuotaOverride(ctx context.Context, userID string, q store.QuotaOverride, now time.Time) error
	Ready(ctx context.Context) error
	QueueSpeculativePlan(ctx context.Context, key store.Key, spec store.Spec, now time.Time) (store.Run, error)
	GetSpeculativePlan(ctx context.Context, key store.Key, rowID int64) (store.Run, error)
}

// Bounds that are part of the contract rather than configuration.
const (
	defaultMaxBodyBytes = 1 << 20
	// maxTTLMinutes (30 days) keeps a forgotten project from living on
	// for years through one large ttlMinutes or extend.
	maxTTLMinutes = 30 * 24 * 60
	// maxListLimit is the largest page the contract allows.
	maxListLimit     = 500
	defaultListLimit = 100
	// readyTimeout bounds /readyz so a hung database makes it fail, not
	// hang the load balancer's probe.
	readyTimeout = 2 * time.Second
	// defaultDatabaseTimeout is well inside the HTTP server's 60 s write
	// timeout and the 30 s most proxies (Heroku's router) allow.
	defaultDatabaseTimeout = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.DefaultTTLMinutes <= 0 {
		c.DefaultTTLMinutes = 60
	}
	if c.MaxCostPerProjectUSD <= 0 {
		c.MaxCostPerProjectUSD = 50
	}
	if c.MaxResourcesPerUser <= 0 {
		c.MaxResourcesPerUser = 10
	}
	if len(c.AllowedRegions) == 0 && c.DefaultRegion != "" {
		c.AllowedRegions = []string{c.DefaultRegion}
	}
	if reflect.ValueOf(c.Policy).IsZero() {
		c.Policy = policy.DefaultRules()
		c.Policy.AllowedRegions = nil // the server's own, below
	}
	if len(c.Policy.AllowedRegions) == 0 {
		c.Policy.AllowedRegions = c.AllowedRegions
	}
	if c.DatabaseTimeout <= 0 {
		c.DatabaseTimeout = defaultDatabaseTimeout
	}
	if c.WatchPollInterval <= 0 {
		c.WatchPollInterval = defaultWatchPoll
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// server is the API's state: configuration, the store, the router and the
// per-user rate limiters.
type server struct {
	cfg      Config
	st       Store
	router   *mux.Router
	limiters *limiters
	tokens   verifiedTokens
	// requestLog writes the request lines: the server's logger without
	// the caller, which is always the same line of observe and costed a
	// stack walk per request (3 % of a GET's CPU).
	requestLog *zap.Logger
	// actualCosts remembers GETs' month-to-date actual costs (actualcostcache.go).
	actualCosts actualCostCache
	// views remembers GETs' answers by watch version (viewcache.go).
	views viewCache
	hub   *watchHub
	logs  *logHub
}

// New returns the API's handler, routes and middleware included.
func New(cfg Config, st Store) http.Handler {
	s := newServer(cfg, st)
	h := s.middleware(s.consoleOr(s.router))
	if cfg.HTTPMetrics != nil {
		h = cfg.HTTPMetrics.Middleware(h)
	}
	return h
}

func newServer(cfg Config, st Store) *server {
	s := &server{cfg: cfg.withDefaults(), st: st}
	s.requestLog = s.cfg.Logger.WithOptions(zap.WithCaller(false))
	s.hub = &watchHub{feed: s.cfg.Changes, poll: s.cfg.WatchPollInterval, log: s.cfg.Logger}
	if feed, ok := st.(RunLogFeed); ok {
		s.logs = &logHub{feed: feed, poll: s.cfg.WatchPollInterval, log: s.cfg.Logger}
	}
	s.limiters = newLimiters(s.cfg.RateLimitPerSecond, s.cfg.RateLimitBurst, maxLimiters)
	// No path cleaning: mux would answer "//x" or "/a/../b" with a bare
	// 301 redirect; here they are simply unknown routes, answered in JSON.
	s.router = mux.NewRouter().SkipClean(true)
	for _, rt := range s.routes() {
		s.router.Handle(rt.path, s.endpoint(rt)).Methods(rt.method)
	}
	s.router.NotFoundHandler = http.HandlerFunc(s.unknownRoute)
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)
	return s
}

func (s *server) now() time.Time { return s.cfg.Now().UTC() }

// access says who may call a route.
type access int

const (
	// public routes take no token: probes, metrics and the contract.
	public access = iota
	// owner routes live under /users/{userId}: that user, or an admin.
	owner
	// admin routes answer non-admins 403 Forbidden, saying that an admin
	// token is needed: the routes are documented in the OpenAPI document
	// anyway, so hiding them behind a 404 only misled users.
	admin
)

// route is one entry of the routing table. The router is built from the
// table and nothing else, so the tests that walk it (OpenAPI consistency,
// scoping of every route) cover a route the moment it is added.
type route struct {
	method string
	path   string
	access access
	handle handlerFunc
}

// handlerFunc serves one authorized request. A returned error is written as
// the error envelope (see writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// call is what the endpoint wrapper established about a request before the
// handler runs.
type call struct {
	caller caller
	// key holds the path's userId and projectId, validated; empty when the
	// route has none.
	key store.Key
	// now is read once so every timestamp of one request agrees.
	now time.Time
}

func (s *server) routes() []route {
	const (
		user    = "/api/v1/users/{userId}"
		project = user + "/projects/{projectId}"
	)
	return []route{
		{http.MethodGet, "/healthz", public, s.healthz},
		{http.MethodGet, "/readyz", public, s.readyz},
		{http.MethodGet, "/metrics", public, s.metrics},
		{http.MethodGet, "/openapi.json", public, s.openAPI},

		{http.MethodGet, user + "/projects", owner, s.listUserProjects},
		{http.MethodPut, project, owner, s.putProject},
		{http.MethodGet, project, owner, s.getProject},
		{http.MethodDelete, project, owner, s.deleteProject},
		{http.MethodPost, project + "/extend", owner, s.extendProject},
		{http.MethodPost, project + "/approve", owner, s.approveProject},
		{http.MethodGet, project + "/runs", owner, s.listRuns},
		{http.MethodGet, project + "/runs/{runId}", owner, s.getRun},
		{http.MethodGet, project + "/runs/{runId}/log", owner, s.getRunLog},
		{http.MethodPost, project + "/plan", owner, s.planSpeculative},
		{http.MethodGet, project + "/plans/{planId}", owner, s.getSpeculativePlan},
		{http.MethodGet, user + "/quota", owner, s.getQuota},
		{http.MethodPut, user + "/quota", admin, s.putQuota},

		{http.MethodGet, "/api/v1/projects", admin, s.listAllProjects},
		{http.MethodGet, "/api/v1/orphans", admin, s.listOrphans},
	}
}

// endpoint wraps a handler with what every route of its access level needs,
// in an order that leaks nothing: authenticate first, then rate-limit, then
// scope to the caller's own user, and only then validate the path (so an
// unauthenticated or foreign caller cannot probe which names are valid).
func (s *server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.route = rt.path
		metrics.SetRoute(r.Context(), rt.path)
		c := &call{now: s.now()}
		if rt.access != public {
			// Per-user data must not sit in shared caches.
			w.Header().Set("Cache-Control", "no-store")
			who, err := s.authenticate(r, c.now)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			info.userID = who.userID
			metrics.SetUser(r.Context(), who.userID)
			c.caller = who
			if err := s.limiters.allow(who.userID, c.now); err != nil {
				s.writeError(w, r, err)
				return
			}
			if rt.access == admin && !who.admin {
				s.writeError(w, r, newError(http.StatusForbidden, codeForbidden,
					"this route needs an admin token (one signed with admin: true, e.g. `tenantform token --user NAME --admin`); the token of user %q is not one", who.userID))
				return
			}
			if err := scope(c, mux.Vars(r)); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.handlerTimeout(rt.path))
		if isWatch(r) {
			// A stream lasts as long as its client; each query it makes
			// has its own deadline.
			ctx, cancel = context.WithCancel(r.Context())
		}
		defer cancel()
		// Errors are written against the original request: its context
		// tells a client that went away from a database that timed out.
		if err := rt.handle(w, r.WithContext(ctx), c); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// inventoryTimeout bounds the orphan listing, which pages through the AWS
// tagging API rather than the database; it stays inside the HTTP server's
// 60 s write timeout.
const inventoryTimeout = 50 * time.Second

// handlerTimeout is how long a route's handler may take: DatabaseTimeout,
// except for routes that wait on something slower than the database.
func (s *server) handlerTimeout(path string) time.Duration {
	if path == "/api/v1/orphans" {
		return inventoryTimeout
	}
	return s.cfg.DatabaseTimeout
}

func (s *server) unknownRoute(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFound("not found"))
}

// methodNotAllowed answers 405 with the methods the path does accept, found
// by asking the router about each one.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
		"%s is not allowed here; use %s", r.Method, strings.Join(allowed, " or ")))
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ *call) error {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz reports whether the database answers with the current schema. The
// store's error is logged in full but only its first clause is shown: the
// rest can name hosts and users of the database.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.st.Ready(ctx); err != nil {
		s.logger(r).Warn("not ready", zap.Error(err))
		reason, _, _ := strings.Cut(err.Error(), ": ")
		if store.IsUnavailable(err) {
			reason = "database unreachable"
		}
		e := newError(http.StatusServiceUnavailable, codeNotReady, "not ready: %s", reason)
		e.header = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
		return e
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request, _ *call) error {
	if s.cfg.Metrics == nil {
		return notFound("metrics are not enabled on this server")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}
