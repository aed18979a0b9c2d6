package api

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/store"
)

// consoleChrome is what every console page shows around its content.
type consoleChrome struct {
	Title     string
	Admin     string
	RefreshMS int64
	// Events is the page's change stream (console_events.go); "" when the
	// page polls every RefreshMS instead.
	Events string
	Now    time.Time
}

func (s *server) chrome(r *http.Request, title string, c *call) consoleChrome {
	ch := consoleChrome{Title: title, Admin: c.caller.userID, RefreshMS: consoleRefresh.Milliseconds(), Now: c.now}
	if ch.Events = s.consoleEventsPath(r, c); ch.Events != "" {
		ch.RefreshMS = consoleSlowRefresh.Milliseconds()
	}
	return ch
}

// renderPage renders the page, or only its live part when the script
// polls for it (?fragment=1).
func (s *server) renderPage(w http.ResponseWriter, r *http.Request, tpl *template.Template, name string, data any) {
	if isFragment(r) {
		name += "-live"
	}
	s.render(w, r, tpl, http.StatusOK, name, data)
}

// overviewData is the console's front page: every project by user, each
// user's quota use, and the orphans.
type overviewData struct {
	consoleChrome
	Users []consoleUser
	// Phases counts the projects in each phase that has any.
	Phases    []phaseCount
	Total     int
	Truncated bool
	Orphans   orphansData
}

type phaseCount struct {
	Phase store.Phase
	Count int
}

type consoleUser struct {
	UserID   string
	Quota    quotaView
	Projects []projectView
}

// orphansData is the orphan listing, or why there is none.
type orphansData struct {
	Configured bool
	Error      string
	Items      []consoleOrphan
}

// consoleOrphan is the part of an orphan (aws.Orphan, known to the API
// only as JSON) the console shows.
type consoleOrphan struct {
	ARN       string    `json:"arn"`
	Type      string    `json:"type"`
	Region    string    `json:"region"`
	UserID    string    `json:"userId"`
	ProjectID string    `json:"projectId"`
	LastSeen  time.Time `json:"lastSeen"`
	Cleanup   string    `json:"cleanup"`
}

func (s *server) consoleOverview(tpl *template.Template) consolePage {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		ctx := r.Context()
		projects, next, err := s.st.ListProjects(ctx, store.ListOptions{Limit: consoleMaxProjects})
		if err != nil {
			return err
		}
		d := overviewData{consoleChrome: s.chrome(r, "Projects", c), Total: len(projects), Truncated: next != ""}
		counts := map[store.Phase]int{}
		for _, p := range projects {
			v := view(p)
			counts[v.Status.Phase]++
			if n := len(d.Users); n == 0 || d.Users[n-1].UserID != p.UserID {
				d.Users = append(d.Users, consoleUser{UserID: p.UserID})
			}
			u := &d.Users[len(d.Users)-1]
			u.Projects = append(u.Projects, v)
		}
		for _, ph := range store.Phases {
			if counts[ph] > 0 {
				d.Phases = append(d.Phases, phaseCount{ph, counts[ph]})
			}
		}
		for i := range d.Users {
			if d.Users[i].Quota, err = s.quota(ctx, d.Users[i].UserID); err != nil {
				return err
			}
		}
		d.Orphans = s.consoleOrphans(r)
		s.renderPage(w, r, tpl, "overview", d)
		return nil
	}
}

// consoleOrphans lists the orphans; a failing inventory is shown on the
// page rather than failing the whole overview.
func (s *server) consoleOrphans(r *http.Request) orphansData {
	if s.cfg.Orphans == nil {
		return orphansData{}
	}
	d := orphansData{Configured: true}
	items, err := s.cfg.Orphans.ListOrphans(r.Context())
	if err == nil {
		var raw []byte
		if raw, err = json.Marshal(items); err == nil && string(raw) != "null" {
			err = json.Unmarshal(raw, &d.Items)
		}
	}
	if err != nil {
		s.logger(r).Warn("console: cannot list orphans", zap.Error(err))
		d.Error = "cannot list orphans (request id " + requestID(r.Context()) + ")"
	}
	sort.Slice(d.Items, func(i, j int) bool { return d.Items[i].ARN < d.Items[j].ARN })
	return d
}

// projectData is one project with its runs.
type projectData struct {
	consoleChrome
	Project projectView
	Outputs []outputRow
	Runs    []consoleRun
	// Pending is the run whose saved plan awaits approval, when listed.
	Pending *consoleRun
	// Files and Variables show the spec.
	Files     []specFile
	Variables string
	// Gone is set for a deleted project whose runs are still kept.
	Gone string
}

type outputRow struct{ Name, Value string }

// specFile is one file of the spec as the console shows it.
type specFile struct {
	Name  string
	Bytes int
	Text  string
}

// consoleRun is a run as listed, with its plan summary's counts.
type consoleRun struct {
	runSummary
	Plan *planCounts
}

// planCounts is the part of tf.PlanSummary the console shows.
type planCounts struct {
	Add       int `json:"add"`
	Change    int `json:"change"`
	Destroy   int `json:"destroy"`
	Resources []struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	} `json:"resources"`
}

// decodePlan reads a run's plan summary; nil when it has none (or one the
// console cannot read, which the JSON API still serves whole).
func decodePlan(raw json.RawMessage) *planCounts {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var p planCounts
	if json.Unmarshal(raw, &p) != nil {
		return nil
	}
	return &p
}

func (s *server) consoleProject(tpl *template.Template) consolePage {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		d := projectData{consoleChrome: s.chrome(r, c.key.String(), c)}
		p, err := s.st.GetProject(r.Context(), c.key)
		var gone *store.GoneError
		switch {
		case errors.As(err, &gone):
			d.Gone = gone.Error()
			p = store.Project{Key: c.key, Status: gone.Tombstone.Status, Generation: gone.Tombstone.Generation}
		case err != nil:
			return fromStore(err, msgProjectNotFound)
		}
		d.Project = view(p)
		for _, name := range sortedKeys(d.Project.Status.Outputs) {
			// As JSON, without Go's \u003c escapes: the template escapes
			// for HTML, and an operator should read the value as it is.
			// (A value may be terraform's own JSON, escapes included, so
			// it is decoded first.)
			var v any
			b, _ := json.Marshal(d.Project.Status.Outputs[name])
			json.Unmarshal(b, &v)
			var out strings.Builder
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			enc.Encode(v)
			d.Outputs = append(d.Outputs, outputRow{name, strings.TrimSpace(out.String())})
		}
		runs, err := s.st.ListRuns(r.Context(), c.key, consoleRuns, 0)
		if err != nil {
			return err
		}
		for _, run := range runs {
			var l limiter
			d.Runs = append(d.Runs, consoleRun{runSummary: summarize(run, &l, maxListedErrorBytes), Plan: decodePlan(run.PlanSummary)})
		}
		for i := range d.Runs {
			if d.Runs[i].ID == d.Project.Status.PendingPlanRun && d.Project.Status.PendingPlanRun != 0 {
				d.Pending = &d.Runs[i]
			}
		}
		for _, name := range sortedKeys(d.Project.Spec.Files) {
			text := d.Project.Spec.Files[name]
			d.Files = append(d.Files, specFile{Name: name, Bytes: len(text), Text: text})
		}
		vars, _ := json.Marshal(d.Project.Spec.Variables)
		d.Variables = string(vars)
		s.renderPage(w, r, tpl, "project", d)
		return nil
	}
}

// runData is one run in full.
type runData struct {
	consoleChrome
	Key         store.Key
	Run         runSummary
	Plan        *planCounts
	Diagnostics string
	LogTail     string
	Omitted     []omission
}

func (s *server) consoleRun(tpl *template.Template) consolePage {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		raw := mux.Vars(r)["run"]
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return badRequest("run %q must be a run number (a positive integer)", raw)
		}
		run, err := s.st.GetRun(r.Context(), c.key, n)
		if err != nil {
			return fromStore(err, msgRunNotFound)
		}
		var l limiter
		d := runData{
			consoleChrome: s.chrome(r, c.key.String()+" run "+raw, c),
			Key:           c.key,
			Run:           summarize(run, &l, maxMessageBytes),
			Plan:          decodePlan(l.document("planSummary", run.PlanSummary)),
			LogTail:       l.tail("logTail", run.LogTail, maxLogTailBytes),
		}
		if diag := l.document("diagnostics", run.Diagnostics); len(diag) > 0 && string(diag) != "null" {
			d.Diagnostics = indentJSON(diag)
		}
		d.Omitted = l.omitted
		s.renderPage(w, r, tpl, "run", d)
		return nil
	}
}

func indentJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// loginData is the login form, with why the last attempt failed.
type loginData struct {
	consoleChrome
	Error string
}

func (s *server) consoleLoginForm(tpl *template.Template) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, tpl, http.StatusOK, "login", loginData{consoleChrome: consoleChrome{Title: "Log in"}})
	})
}

// consoleLogin checks the posted admin token and keeps it in the session
// cookie. A post from another origin is refused: SameSite keeps other
// sites from using a session, this keeps them from starting one.
func (s *server) consoleLogin(tpl *template.Template) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, msg string) {
			s.render(w, r, tpl, status, "login", loginData{consoleChrome: consoleChrome{Title: "Log in"}, Error: msg})
		}
		if !sameOrigin(r) {
			fail(http.StatusForbidden, "this form can only be posted from the console's own page")
			return
		}
		if err := r.ParseForm(); err != nil {
			fail(http.StatusBadRequest, "the login form could not be read")
			return
		}
		token := r.PostForm.Get("token")
		if token == "" {
			fail(http.StatusUnauthorized, "paste an admin token (`tenantform token --user NAME --admin` prints one)")
			return
		}
		who, err := s.consoleToken(token, s.now())
		if err != nil {
			fail(http.StatusUnauthorized, err.Error())
			return
		}
		infoFrom(r.Context()).userID = who.userID
		http.SetCookie(w, &http.Cookie{
			Name: consoleCookie, Value: token, Path: consolePrefix,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
		})
		http.Redirect(w, r, consolePrefix, http.StatusSeeOther)
	})
}

func (s *server) consoleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{
			Name: consoleCookie, Value: "", Path: consolePrefix, MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
		})
		http.Redirect(w, r, consolePrefix+"/login", http.StatusSeeOther)
	})
}

// sameOrigin: a browser's POST carries Origin; when it does, it must be
// this host. (A request without Origin is not a cross-site form post from
// a current browser.)
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// secureRequest: the cookie is marked Secure when the browser reached us
// over HTTPS, directly or through a TLS-terminating router (Heroku's sets
// X-Forwarded-Proto).
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}
