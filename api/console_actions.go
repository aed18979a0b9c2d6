package api

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
)

// The console's actions: approve the plan awaiting approval, extend,
// destroy (with a typed confirmation, and an admin's force). Each is a
// plain HTML form POST answered with a redirect to the project's page, so
// it works without script, and goes through the same store calls (and so
// the same fencing and 409s) as the JSON API. Cross-site use is stopped
// twice: the session cookie is SameSite=Strict, and a POST whose Origin is
// another site is refused.

// consoleAction carries out one action for a logged-in admin.
type consoleAction func(r *http.Request, c *call) error

func (s *server) consoleAction(tpl *template.Template, h consoleAction) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{now: s.now()}
		who, err := s.consoleSession(r, c.now)
		if err != nil {
			http.Redirect(w, r, consolePrefix+"/login", http.StatusSeeOther)
			return
		}
		infoFrom(r.Context()).userID = who.userID
		metrics.SetUser(r.Context(), who.userID)
		c.caller = who
		if !sameOrigin(r) {
			s.consoleError(w, r, tpl, c, newError(http.StatusForbidden, codeForbidden, "console actions can only be posted from the console's own pages"))
			return
		}
		if err := s.limiters.allow(who.userID, c.now); err != nil {
			s.consoleError(w, r, tpl, c, err)
			return
		}
		if err := scope(c, mux.Vars(r)); err != nil {
			s.consoleError(w, r, tpl, c, err)
			return
		}
		if err := r.ParseForm(); err != nil {
			s.consoleError(w, r, tpl, c, badRequest("the form could not be read"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DatabaseTimeout)
		defer cancel()
		if err := h(r.WithContext(ctx), c); err != nil {
			s.consoleError(w, r, tpl, c, err)
			return
		}
		http.Redirect(w, r, consolePrefix+"/projects/"+c.key.UserID+"/"+c.key.ProjectID, http.StatusSeeOther)
	})
}

// consoleApprove approves exactly the run the page showed: a newer plan
// replacing it meanwhile is the API's 409, never an approval of a plan
// nobody looked at.
func (s *server) consoleApprove(r *http.Request, c *call) error {
	raw := r.PostForm.Get("runId")
	run, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || run < 1 {
		return invalid(codeInvalidRequest, []fieldProblem{{Field: "runId", Message: "must be the number of the run awaiting approval"}})
	}
	_, err = s.st.Approve(r.Context(), c.key, store.Approval{RunID: run}, c.now)
	return fromStore(err, msgProjectNotFound)
}

func (s *server) consoleExtend(r *http.Request, c *call) error {
	raw := strings.TrimSpace(r.PostForm.Get("ttlMinutes"))
	ttl, err := strconv.Atoi(raw)
	if err != nil {
		return invalid(codeInvalidRequest, []fieldProblem{{Field: "ttlMinutes", Message: "must be a whole number of minutes"}})
	}
	if msg := ttlProblem(ttl, s.cfg.DefaultTTLMinutes); msg != "" {
		return invalid(codeInvalidRequest, []fieldProblem{{Field: "ttlMinutes", Message: msg}})
	}
	_, err = s.st.Extend(r.Context(), c.key, c.now.Add(time.Duration(ttl)*time.Minute), c.now)
	return fromStore(err, msgProjectNotFound)
}

// consoleDelete destroys the project once the admin typed its id: a
// destroy cannot be undone, so a stray click must not start one.
func (s *server) consoleDelete(r *http.Request, c *call) error {
	if strings.TrimSpace(r.PostForm.Get("confirm")) != c.key.ProjectID {
		return invalid(codeInvalidRequest, []fieldProblem{{Field: "confirm",
			Message: "type the project id (" + c.key.ProjectID + ") to confirm the destroy; nothing was done"}})
	}
	force := r.PostForm.Get("force") == "true"
	_, err := s.st.RequestDeletion(r.Context(), c.key, force, c.now)
	return fromStore(err, msgProjectNotFound)
}
