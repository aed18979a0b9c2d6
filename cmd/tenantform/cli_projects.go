package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// `tenantform projects <verb>`: the verbs, their common start, and the
// client's reading of a project. apply lives in cli_apply.go, --watch in
// cli_watch.go, tables and documents in cli_output.go.

// clientProject is what the client reads of a project; -o json and -o
// yaml print the server's answer as it came, not this.
type clientProject struct {
	UserID              string     `json:"userId"`
	ProjectID           string     `json:"projectId"`
	Generation          int64      `json:"generation"`
	CreatedAt           time.Time  `json:"createdAt"`
	ExpiresAt           time.Time  `json:"expiresAt"`
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
	Spec                struct {
		RequireApproval bool   `json:"requireApproval"`
		Region          string `json:"region"`
	} `json:"spec"`
	Status clientStatus `json:"status"`
}

type clientStatus struct {
	Phase                   string            `json:"phase"`
	ObservedGeneration      int64             `json:"observedGeneration"`
	ResourceCount           int               `json:"resourceCount"`
	EstimatedMonthlyCostUSD float64           `json:"estimatedMonthlyCostUSD"`
	Conditions              []clientCondition `json:"conditions"`
	Message                 string            `json:"message"`
	LastError               string            `json:"lastError"`
	// Attempts failed in a row; NextAttemptAt is when a Retrying project
	// is tried again.
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	// PendingPlanRun is the run whose saved plan awaits approval.
	PendingPlanRun         int64   `json:"pendingPlanRun"`
	ReservedResources      int     `json:"reservedResources"`
	ReservedMonthlyCostUSD float64 `json:"reservedMonthlyCostUSD"`
	Omitted                []struct {
		Field string `json:"field"`
		Bytes int    `json:"bytes"`
	} `json:"omitted"`
}

type clientCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
	ObservedGeneration int64  `json:"observedGeneration"`
}

// readyCondition returns the project's Ready condition, if any.
func (s clientStatus) readyCondition() (clientCondition, bool) {
	for _, c := range s.Conditions {
		if c.Type == "Ready" {
			return c, true
		}
	}
	return clientCondition{}, false
}

const projectsUsage = `Usage: tenantform projects <verb> [flags]

Verbs:
  list                        the user's projects (--all: every user's, admin token;
                              -w: then stream every change until interrupted)
  get NAME                    one project with its status (-w: stream its changes)
  describe NAME               status, conditions, the plan awaiting approval,
                              reservations, the latest runs and the last error
  apply -f FILE|DIR [NAME]    create or replace a project from a JSON or YAML file
                              or a directory of .tf files (-var k=v, --ttl 2h)
  diff -f FILE|DIR [NAME]     what apply would do, never applied: a speculative plan's
                              changes, cost, and admission and policy verdicts
                              (also apply --dry-run; exit 1 if it would not pass)
  edit NAME                   open the spec in $EDITOR; save to PUT it (If-Match: a
                              change made meanwhile is refused, your edit kept)
  delete NAME                 destroy a project (202; --watch waits until it is gone)
  extend NAME [--ttl 2h]      move its expiry to now + ttl (default: the server's TTL)
  approve NAME [--run N]       approve the plan awaiting approval

-o table (default), wide (more columns), name (project/USER/NAME), json or yaml.

--watch (apply, approve, delete) follows the phase until it settles: exit 0 on
Ready (or gone, for delete), 1 on Blocked or Failed.
`

// runProjects is `tenantform projects <verb>`.
func runProjects(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, projectsUsage+clientEnvironmentHelp)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	verb, rest := args[0], args[1:]
	v, ok := projectVerbs[verb]
	if !ok {
		fmt.Fprintf(stderr, "tenantform projects: unknown verb %q\n\n%s", verb, projectsUsage)
		return errUsage
	}
	return v(ctx, rest, stdout, stderr, getenv)
}

type verbFunc func(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error

var projectVerbs = map[string]verbFunc{
	"list":     projectsList,
	"get":      projectsGet,
	"describe": projectsDescribe,
	"edit":     projectsEdit,
	"apply":    projectsApply,
	"diff":     projectsDiff,
	"delete":   projectsDelete,
	"extend":   projectsExtend,
	"approve":  projectsApprove,
}

// clientCommand is the start of every verb: its flags, the common ones,
// the positional arguments (between min and max of them) and the client.
type clientCommand struct {
	fs   *flag.FlagSet
	opts *clientOptions
	args []string
	c    *apiClient
}

func newClientCommand(name, synopsis string, stderr io.Writer, getenv func(string) string) *clientCommand {
	fs := flag.NewFlagSet("tenantform "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cc := &clientCommand{fs: fs, opts: addClientFlags(fs, getenv)}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tenantform %s\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprint(stderr, clientEnvironmentHelp)
	}
	return cc
}

// parse parses args and builds the client.
func (cc *clientCommand) parse(args []string, minArgs, maxArgs int) error {
	pos, err := parseInterspersed(cc.fs, args)
	if err != nil {
		return err
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		fmt.Fprintf(cc.fs.Output(), "%s: wrong number of arguments (%d)\n", cc.fs.Name(), len(pos))
		cc.fs.Usage()
		return errUsage
	}
	cc.args = pos
	cc.c, err = newAPIClient(cc.opts, nil)
	return err
}

// progressOut is where --watch writes: stdout for a table, stderr when
// stdout carries a JSON or YAML document that must stay parseable.
func (cc *clientCommand) progressOut(stdout, stderr io.Writer) io.Writer {
	if !cc.c.document() {
		return stdout
	}
	return stderr
}

func projectsList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects list", "projects list [--all] [--phase P] [-w] [-o table|wide|name|json|yaml]", stderr, getenv)
	all := cc.fs.Bool("all", false, "every user's projects (needs an admin token)")
	phase := cc.fs.String("phase", "", "only projects in this phase (Ready, Failed, …)")
	follow := cc.fs.Bool("w", false, "after the list, stream each change until interrupted (the API's watch)")
	if err := cc.parse(args, 0, 0); err != nil {
		return err
	}
	if *follow {
		if *all || *phase != "" {
			fmt.Fprintln(stderr, "tenantform projects list: -w streams one user's projects; it takes neither --all nor --phase")
			return errUsage
		}
		return cc.watchProjects(ctx, stdout, cc.c.projectPath(""), false)
	}
	base := cc.c.projectPath("")
	if *all {
		base = "/api/v1/projects"
		if *phase != "" {
			base += "?phase=" + url.QueryEscape(*phase)
		}
	}
	// Follow the pages: a list is every project, as kubectl's is.
	var items []json.RawMessage
	var projects []clientProject
	after := ""
	for {
		path := base
		if after != "" {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "after=" + url.QueryEscape(after)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		if _, err := cc.c.getJSON(ctx, path, &page); err != nil {
			return err
		}
		for _, raw := range page.Items {
			var p clientProject
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("unexpected project in the list: %w", err)
			}
			if *phase != "" && p.Status.Phase != *phase {
				continue // the user route has no ?phase=: filter here
			}
			items = append(items, raw)
			projects = append(projects, p)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if cc.c.document() {
		if items == nil {
			items = []json.RawMessage{}
		}
		b, err := json.Marshal(map[string]any{"items": items})
		if err != nil {
			return err
		}
		return printDocument(stdout, cc.c.output, b)
	}
	return printProjectTable(stdout, projects, *all, cc.c.output == "wide", time.Now())
}

func projectsGet(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects get", "projects get NAME [-w] [-o table|wide|name|json|yaml]", stderr, getenv)
	follow := cc.fs.Bool("w", false, "stream each change of the project until interrupted (the API's watch)")
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	if *follow {
		return cc.watchProjects(ctx, stdout, cc.c.projectPath(cc.args[0]), false)
	}
	var p clientProject
	raw, err := cc.c.getJSON(ctx, cc.c.projectPath(cc.args[0]), &p)
	if err != nil {
		return err
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	if err := printProjectTable(stdout, []clientProject{p}, false, cc.c.output == "wide", time.Now()); err != nil {
		return err
	}
	if p.Status.LastError != "" {
		fmt.Fprintf(stdout, "\nlast error:\n%s\n", p.Status.LastError)
	}
	for _, o := range p.Status.Omitted {
		fmt.Fprintf(stdout, "note: %s (%d bytes) was cut by the API's response limits\n", o.Field, o.Bytes)
	}
	return nil
}

func projectsDelete(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects delete", "projects delete NAME [--watch]", stderr, getenv)
	w := addWatchFlags(cc.fs)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	name := cc.args[0]
	raw, _, err := cc.c.do(ctx, http.MethodDelete, cc.c.projectPath(name), nil)
	if err != nil {
		return err
	}
	if cc.c.document() {
		if err := printDocument(stdout, cc.c.output, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "project %s/%s is being destroyed\n", cc.c.user, name)
	}
	if !*w.watch {
		return nil
	}
	return cc.c.watchGone(ctx, cc.progressOut(stdout, stderr), name, w)
}

func projectsExtend(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects extend", "projects extend NAME [--ttl 2h]", stderr, getenv)
	var ttl minutesFlag
	cc.fs.Var(&ttl, "ttl", "new time to live from now: 90m, 2h or minutes (default: the server's TTL)")
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	body := map[string]any{}
	if ttl.set {
		body["ttlMinutes"] = ttl.minutes
	}
	raw, _, err := cc.c.do(ctx, http.MethodPost, cc.c.projectPath(cc.args[0], "extend"), body)
	if err != nil {
		return err
	}
	if cc.c.document() {
		return printDocument(stdout, cc.c.output, raw)
	}
	var p clientProject
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "project %s/%s now expires at %s (in %s)\n", p.UserID, p.ProjectID,
		p.ExpiresAt.Format(time.RFC3339), p.ExpiresAt.Sub(time.Now()).Round(time.Minute))
	return nil
}

func projectsApprove(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects approve", "projects approve NAME [--run N] [--watch]", stderr, getenv)
	runID := cc.fs.Int64("run", 0, "the plan run you reviewed (default: status.pendingPlanRun, the plan awaiting approval)")
	w := addWatchFlags(cc.fs)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	name := cc.args[0]
	var p clientProject
	if _, err := cc.c.getJSON(ctx, cc.c.projectPath(name), &p); err != nil {
		return err
	}
	gen := p.Generation
	if *runID == 0 {
		// Naming the run the client sees makes the approval mean "this
		// plan": the server refuses it if a newer plan replaced it.
		*runID = p.Status.PendingPlanRun
	}
	body := map[string]int64{"runId": *runID}
	if *runID == 0 {
		body = map[string]int64{"generation": gen} // the server says why nothing awaits approval
	}
	raw, _, err := cc.c.do(ctx, http.MethodPost, cc.c.projectPath(name, "approve"), body)
	if err != nil {
		return err
	}
	if cc.c.document() {
		if err := printDocument(stdout, cc.c.output, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "project %s/%s: the plan of run %d (generation %d) is approved\n", cc.c.user, name, *runID, gen)
	}
	if !*w.watch {
		return nil
	}
	return cc.c.watch(ctx, cc.progressOut(stdout, stderr), name, gen, w, false)
}
