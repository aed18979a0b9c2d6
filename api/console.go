package api

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
)

// The console is a few server-rendered HTML pages for operators at
// /console: projects by user, a project's runs, one run's plan and log,
// orphans and quota use. It is not part of the JSON API, so its routes are
// kept out of the API's routing table (and so out of the OpenAPI
// document, which describes the machine contract): consoleOr sends
// /console and everything under it here, past the same middleware (request
// log, panics, input checks, body limit) as the API.
//
// Authentication is an admin token, handed over once in a POST form and
// kept in an HttpOnly, SameSite=Strict cookie scoped to /console: the
// token never appears in a URL, scripts on the page cannot read it, and
// other sites cannot make the browser send it. Every request re-verifies
// the token (signature, expiry, admin), exactly as the API does.
//
// Everything tenant-controlled (outputs, messages, log tails, plan
// addresses) is rendered by html/template, which escapes it for its
// context; a Content-Security-Policy without inline script is the second
// line.

//go:embed console
var consoleFiles embed.FS

const (
	consolePrefix = "/console"
	// consoleCookie holds the admin token of a console session.
	consoleCookie = "tenantform_console"
	// consoleRefresh is how often an open page polls its live fragment.
	consoleRefresh = 2 * time.Second
	// consoleMaxProjects bounds the overview; beyond it the page says the
	// list is cut, and the JSON API pages through the rest.
	consoleMaxProjects = 500
	// consoleRuns is how many of a project's runs its page lists.
	consoleRuns = 50
	// consoleCSP allows the page's own script and style and nothing else:
	// no inline script, no frames, forms posting only here.
	consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// consoleTemplates parses the page templates once per server.
func consoleTemplates() *template.Template {
	funcs := template.FuncMap{
		"money":    money,
		"timeLeft": timeLeft,
		"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"whenPtr": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"duration": func(s *float64) string {
			if s == nil {
				return "running"
			}
			return (time.Duration(*s * float64(time.Second))).Round(100 * time.Millisecond).String()
		},
		"lower": strings.ToLower,
		// repeats: msg says nothing that shown (already on the page)
		// does not, so the page shows an error once.
		"repeats": func(shown, msg string) bool {
			shown, msg = strings.TrimSpace(shown), strings.TrimSpace(msg)
			return shown != "" && msg != "" && strings.Contains(shown, msg)
		},
	}
	return template.Must(template.New("console").Funcs(funcs).ParseFS(consoleFiles, "console/*.html"))
}

// money shows US dollars to the cent; v is a float64 or a *float64.
func money(v any) string {
	switch x := v.(type) {
	case float64:
		return "$" + strconv.FormatFloat(x, 'f', 2, 64)
	case *float64:
		if x != nil {
			return money(*x)
		}
	}
	return "—"
}

// timeLeft says how long until t, to the minute, from now.
func timeLeft(t, now time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "expired"
	}
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "< 1m"
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h >= 24:
		return strconv.Itoa(h/24) + "d " + strconv.Itoa(h%24) + "h"
	case h > 0:
		return strconv.Itoa(h) + "h " + strconv.Itoa(m) + "m"
	}
	return strconv.Itoa(m) + "m"
}

// consoleOr serves the console under /console and everything else with
// api.
func (s *server) consoleOr(api http.Handler) http.Handler {
	console := s.consoleRouter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == consolePrefix || strings.HasPrefix(r.URL.Path, consolePrefix+"/") {
			console.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// consolePage serves one page to a logged-in admin.
type consolePage func(w http.ResponseWriter, r *http.Request, c *call) error

func (s *server) consoleRouter() http.Handler {
	tpl := consoleTemplates()
	static, _ := fs.Sub(consoleFiles, "console")
	r := mux.NewRouter().SkipClean(true)
	// handle registers h, labelled with its route template in the request
	// log and the HTTP metrics like the API's routes.
	handle := func(method, path, label string, h http.Handler) {
		r.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			infoFrom(r.Context()).route = label
			metrics.SetRoute(r.Context(), label)
			consoleHeaders(w)
			h.ServeHTTP(w, r)
		})).Methods(method)
	}
	page := func(path string, h consolePage) {
		handle(http.MethodGet, path, path, s.consolePage(tpl, h))
	}
	page(consolePrefix, s.consoleOverview(tpl))
	page(consolePrefix+"/projects/{userId}/{projectId}", s.consoleProject(tpl))
	page(consolePrefix+"/projects/{userId}/{projectId}/runs/{run}", s.consoleRun(tpl))
	action := func(path string, h consoleAction) {
		handle(http.MethodPost, path, path, s.consoleAction(tpl, h))
	}
	action(consolePrefix+"/projects/{userId}/{projectId}/approve", s.consoleApprove)
	action(consolePrefix+"/projects/{userId}/{projectId}/extend", s.consoleExtend)
	action(consolePrefix+"/projects/{userId}/{projectId}/delete", s.consoleDelete)
	handle(http.MethodGet, consolePrefix+"/events", consolePrefix+"/events", s.consoleEvents())
	handle(http.MethodGet, consolePrefix+"/events/{userId}/{projectId}", consolePrefix+"/events/{userId}/{projectId}", s.consoleEvents())
	handle(http.MethodGet, consolePrefix+"/login", consolePrefix+"/login", s.consoleLoginForm(tpl))
	handle(http.MethodPost, consolePrefix+"/login", consolePrefix+"/login", s.consoleLogin(tpl))
	handle(http.MethodPost, consolePrefix+"/logout", consolePrefix+"/logout", s.consoleLogout())
	handle(http.MethodGet, consolePrefix+"/static/{file:console\\.(?:css|js)}", consolePrefix+"/static/{file}",
		http.StripPrefix(consolePrefix+"/static/", http.FileServerFS(static)))
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		http.Error(w, "not found", http.StatusNotFound)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}

// consoleHeaders are on every console answer.
func consoleHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with the login form's POST, which sameOrigin refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// consolePage checks the session, then renders h. A request for the live
// fragment (?fragment=1, what the page's script polls) without a valid
// session is a bare 401, so the script can send the user to the login
// form; a page request is redirected there.
func (s *server) consolePage(tpl *template.Template, h consolePage) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{now: s.now()}
		who, err := s.consoleSession(r, c.now)
		if err != nil {
			if isFragment(r) {
				http.Error(w, "session expired: log in again", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, consolePrefix+"/login", http.StatusSeeOther)
			return
		}
		infoFrom(r.Context()).userID = who.userID
		metrics.SetUser(r.Context(), who.userID)
		c.caller = who
		// The API's per-user rate limit covers the console too: an open
		// page polls every consoleRefresh, far below it.
		if err := s.limiters.allow(who.userID, c.now); err != nil {
			s.consoleError(w, r, tpl, c, err)
			return
		}
		if err := scope(c, mux.Vars(r)); err != nil {
			s.consoleError(w, r, tpl, c, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DatabaseTimeout)
		defer cancel()
		if !isFragment(r) {
			// Only a whole page opens the event stream, from the
			// version it was rendered at; a fragment a change made the
			// page re-fetch has no use for it (one query less per
			// open page per change).
			ctx = s.withConsoleVersion(ctx)
		}
		if err := h(w, r.WithContext(ctx), c); err != nil {
			s.consoleError(w, r, tpl, c, err)
		}
	})
}

func isFragment(r *http.Request) bool { return r.URL.Query().Get("fragment") == "1" }

// consoleSession verifies the session cookie's token: valid, unexpired,
// and an admin's.
func (s *server) consoleSession(r *http.Request, now time.Time) (caller, error) {
	ck, err := r.Cookie(consoleCookie)
	if err != nil || ck.Value == "" {
		return caller{}, errors.New("no console session")
	}
	return s.consoleToken(ck.Value, now)
}

// consoleToken verifies an admin token with the API's own check.
func (s *server) consoleToken(token string, now time.Time) (caller, error) {
	who, err := s.verifyToken(strings.TrimSpace(token), now)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return caller{}, errors.New(ae.message)
		}
		return caller{}, err
	}
	if !who.admin {
		return caller{}, errors.New("the console needs an admin token (one signed with admin: true, e.g. `tenantform token --user NAME --admin`); this is the token of user " + strconv.Quote(who.userID))
	}
	return who, nil
}

// consoleError renders err as a page (or a fragment) with the API's status
// for it. Unexpected errors are logged and shown only as the request id.
func (s *server) consoleError(w http.ResponseWriter, r *http.Request, tpl *template.Template, c *call, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case r.Context().Err() == nil && store.IsUnavailable(err):
		s.logger(r).Warn("database unavailable", zap.Error(err))
		ae = databaseUnavailable()
	default:
		s.logger(r).Error("console request failed", zap.Error(err))
		ae = newError(http.StatusInternalServerError, codeInternal, "internal error (request id %s)", requestID(r.Context()))
	}
	name := "error"
	if isFragment(r) {
		name = "error-fragment"
	}
	d := errorData{Status: ae.status, Message: ae.message}
	d.Title = "Error"
	if c != nil {
		d.consoleChrome = s.chrome(r, "Error", c)
	}
	s.render(w, r, tpl, ae.status, name, d)
}

// errorData is an error page.
type errorData struct {
	consoleChrome
	Status  int
	Message string
}

// render executes one template into a buffer first, so a failure is a 500
// rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, tpl *template.Template, status int, name string, data any) {
	var buf strings.Builder
	if err := tpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.logger(r).Error("cannot render the console", zap.String("template", name), zap.Error(err))
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}
