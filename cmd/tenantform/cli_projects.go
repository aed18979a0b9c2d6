package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

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
		RequireApproval bool `json:"requireApproval"`
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
  list                        the user's projects (--all: every user's, admin token)
  get NAME                    one project with its status
  apply -f FILE|DIR [NAME]    create or replace a project from a JSON or YAML file
                              or a directory of .tf files (-var k=v, --ttl 2h)
  delete NAME                 destroy a project (202; --watch waits until it is gone)
  extend NAME [--ttl 2h]      move its expiry to now + ttl (default: the server's TTL)
  approve NAME [--generation N]  approve the plan awaiting approval

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
	"list":    projectsList,
	"get":     projectsGet,
	"apply":   projectsApply,
	"delete":  projectsDelete,
	"extend":  projectsExtend,
	"approve": projectsApprove,
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
	if cc.c.output == "table" {
		return stdout
	}
	return stderr
}

// watchFlags are the flags of verbs that can follow the phase.
type watchFlags struct {
	watch    *bool
	interval *time.Duration
	timeout  *time.Duration
}

func addWatchFlags(fs *flag.FlagSet) watchFlags {
	return watchFlags{
		watch:    fs.Bool("watch", false, "follow the phase until it settles; exit 0 on Ready, 1 on Blocked or Failed"),
		interval: fs.Duration("interval", 2*time.Second, "how often --watch polls"),
		timeout:  fs.Duration("timeout", 30*time.Minute, "how long --watch waits before giving up (exit 1)"),
	}
}

// minWatchInterval keeps --watch from polling in a tight loop.
const minWatchInterval = 10 * time.Millisecond

// check refuses watch settings that make no sense, before any request.
func (w watchFlags) check() error {
	if *w.interval < minWatchInterval {
		return fmt.Errorf("--interval %s is too short; poll at most every %s", *w.interval, minWatchInterval)
	}
	if *w.timeout <= 0 {
		return fmt.Errorf("--timeout %s must be positive", *w.timeout)
	}
	return nil
}

func projectsList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects list", "projects list [--all] [--phase P] [-o table|json|yaml]", stderr, getenv)
	all := cc.fs.Bool("all", false, "every user's projects (needs an admin token)")
	phase := cc.fs.String("phase", "", "only projects in this phase (Ready, Failed, …)")
	if err := cc.parse(args, 0, 0); err != nil {
		return err
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
	if cc.c.output != "table" {
		if items == nil {
			items = []json.RawMessage{}
		}
		b, err := json.Marshal(map[string]any{"items": items})
		if err != nil {
			return err
		}
		return printDocument(stdout, cc.c.output, b)
	}
	return printProjectTable(stdout, projects, *all, time.Now())
}

func projectsGet(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects get", "projects get NAME [-o table|json|yaml]", stderr, getenv)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	var p clientProject
	raw, err := cc.c.getJSON(ctx, cc.c.projectPath(cc.args[0]), &p)
	if err != nil {
		return err
	}
	if cc.c.output != "table" {
		return printDocument(stdout, cc.c.output, raw)
	}
	if err := printProjectTable(stdout, []clientProject{p}, false, time.Now()); err != nil {
		return err
	}
	if p.Status.LastError != "" {
		fmt.Fprintf(stdout, "\nlast error:\n%s\n", p.Status.LastError)
	}
	return nil
}

// varFlags collects repeated -var k=v.
type varFlags map[string]json.RawMessage

func (v varFlags) String() string { return "" }

// Set takes k=v. A value that is JSON (3, true, ["a"], {"k": 1}, "quoted")
// is sent as that JSON value; anything else as a string, so -var name=web
// needs no quotes.
func (v varFlags) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	if json.Valid([]byte(val)) && strings.TrimSpace(val) != "" {
		v[k] = json.RawMessage(val)
		return nil
	}
	b, _ := json.Marshal(val)
	v[k] = b
	return nil
}

// minutesFlag takes a duration (90m, 2h) or a number of minutes.
type minutesFlag struct {
	set     bool
	minutes int
}

func (m *minutesFlag) String() string {
	if !m.set {
		return ""
	}
	return strconv.Itoa(m.minutes) + "m"
}

func (m *minutesFlag) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		m.set, m.minutes = true, n
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Minute != 0 {
		return fmt.Errorf("%q is not a whole number of minutes (90, 90m, 2h)", s)
	}
	m.set, m.minutes = true, int(d/time.Minute)
	return nil
}

func projectsApply(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cc := newClientCommand("projects apply", "projects apply -f FILE|DIR [NAME] [-var k=v]... [--ttl 2h] [--watch]", stderr, getenv)
	file := cc.fs.String("f", "", "a project file, JSON or YAML (the PUT body, or a project as \"get -o json|yaml\" prints it), or a directory of .tf/.tf.json files")
	vars := varFlags{}
	cc.fs.Var(vars, "var", "set a variable, NAME=VALUE (VALUE is JSON if it parses as JSON, else a string); repeatable")
	var ttl minutesFlag
	cc.fs.Var(&ttl, "ttl", "time to live: 90m, 2h or minutes (default: the file's, else the server's)")
	region := cc.fs.String("region", "", "AWS region (default: the file's, else the server's)")
	approval := cc.fs.Bool("require-approval", false, "wait for \"projects approve\" before applying")
	w := addWatchFlags(cc.fs)
	if err := cc.parse(args, 0, 1); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintln(stderr, "tenantform projects apply: -f FILE|DIR is required")
		cc.fs.Usage()
		return errUsage
	}
	body, name, err := readProjectSource(*file)
	if err != nil {
		return err
	}
	if len(cc.args) == 1 {
		name = cc.args[0]
	}
	if len(vars) > 0 {
		merged := map[string]json.RawMessage{}
		if raw, ok := body["variables"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &merged); err != nil {
				return fmt.Errorf("%s: variables must be an object: %w", *file, err)
			}
		}
		for k, v := range vars {
			merged[k] = v
		}
		b, _ := json.Marshal(merged)
		body["variables"] = b
	}
	if ttl.set {
		body["ttlMinutes"] = json.RawMessage(strconv.Itoa(ttl.minutes))
	}
	if *region != "" {
		b, _ := json.Marshal(*region)
		body["region"] = b
	}
	cc.fs.Visit(func(f *flag.Flag) {
		if f.Name == "require-approval" {
			body["requireApproval"] = json.RawMessage(strconv.FormatBool(*approval))
		}
	})

	raw, status, err := cc.c.do(ctx, http.MethodPut, cc.c.projectPath(name), body)
	if err != nil {
		return err
	}
	var p clientProject
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("unexpected answer to PUT: %w", err)
	}
	verb := "configured"
	if status == http.StatusCreated {
		verb = "created"
	}
	if cc.c.output != "table" {
		if err := printDocument(stdout, cc.c.output, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "project %s/%s %s (generation %d)\n", p.UserID, p.ProjectID, verb, p.Generation)
	}
	if !*w.watch {
		return nil
	}
	return cc.c.watch(ctx, cc.progressOut(stdout, stderr), name, p.Generation, w, true)
}

// readProjectSource reads -f: a project JSON file or a directory of .tf
// files. It returns the PUT body (as raw fields, so that nothing the file
// says is lost or reformatted) and the project name the source suggests.
func readProjectSource(path string) (map[string]json.RawMessage, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if fi.IsDir() {
		files, err := readTerraformDir(path)
		if err != nil {
			return nil, "", err
		}
		b, err := json.Marshal(files)
		if err != nil {
			return nil, "", err
		}
		abs, _ := filepath.Abs(path)
		return map[string]json.RawMessage{"files": b}, filepath.Base(abs), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
		// What `get -o yaml` printed applies back, as with kubectl.
		if b, err = yaml.YAMLToJSON(b); err != nil {
			return nil, "", fmt.Errorf("%s is not YAML: %w", path, err)
		}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, "", fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	// A project as `get -o json` prints it: its spec is the body.
	if spec, ok := doc["spec"]; ok {
		if raw, ok := doc["projectId"]; ok {
			json.Unmarshal(raw, &name)
		}
		doc = nil
		if err := json.Unmarshal(spec, &doc); err != nil {
			return nil, "", fmt.Errorf("%s: spec is not an object: %w", path, err)
		}
	}
	return doc, name, nil
}

// readTerraformDir reads the .tf and .tf.json files of dir (not its
// subdirectories, as terraform does).
func readTerraformDir(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".tf") || strings.HasSuffix(n, ".tf.json")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		files[n] = string(b)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no .tf or .tf.json files", dir)
	}
	return files, nil
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
	if cc.c.output != "table" {
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
	if cc.c.output != "table" {
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
	cc := newClientCommand("projects approve", "projects approve NAME [--generation N] [--watch]", stderr, getenv)
	gen := cc.fs.Int64("generation", 0, "the generation whose plan you reviewed (default: the current one)")
	w := addWatchFlags(cc.fs)
	if err := cc.parse(args, 1, 1); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	name := cc.args[0]
	if *gen == 0 {
		var p clientProject
		if _, err := cc.c.getJSON(ctx, cc.c.projectPath(name), &p); err != nil {
			return err
		}
		*gen = p.Generation
	}
	raw, _, err := cc.c.do(ctx, http.MethodPost, cc.c.projectPath(name, "approve"), map[string]int64{"generation": *gen})
	if err != nil {
		return err
	}
	if cc.c.output != "table" {
		if err := printDocument(stdout, cc.c.output, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "project %s/%s: the plan of generation %d is approved\n", cc.c.user, name, *gen)
	}
	if !*w.watch {
		return nil
	}
	return cc.c.watch(ctx, cc.progressOut(stdout, stderr), name, *gen, w, false)
}

// sortProjects orders a table by user, then name.
func sortProjects(ps []clientProject) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].UserID != ps[j].UserID {
			return ps[i].UserID < ps[j].UserID
		}
		return ps[i].ProjectID < ps[j].ProjectID
	})
}

var errWatchFailed = errors.New("the project did not become Ready")
