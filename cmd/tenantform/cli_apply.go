package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// projects apply: where a project comes from (-f), the flags that amend it
// (-var, --ttl, --region, --require-approval), and the PUT.

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
	return applyOrDiff(ctx, args, stdout, stderr, getenv, false)
}

// applyOrDiff is `projects apply` and, with diff, `projects diff` (which is
// apply --dry-run): the same source and flags, then a PUT or a speculative
// plan (cli_diff.go).
func applyOrDiff(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, diff bool) error {
	command, synopsis := "projects apply", "projects apply -f FILE|DIR [NAME] [-var k=v]... [--ttl 2h] [--watch | --dry-run]"
	if diff {
		command, synopsis = "projects diff", "projects diff -f FILE|DIR [NAME] [-var k=v]... [--ttl 2h] [--timeout 10m]"
	}
	cc := newClientCommand(command, synopsis, stderr, getenv)
	file := cc.fs.String("f", "", "a project file, JSON or YAML (the PUT body, or a project as \"get -o json|yaml\" prints it), or a directory of .tf/.tf.json files")
	dryRun := &diff
	if !diff {
		dryRun = cc.fs.Bool("dry-run", false, "do not apply: run a speculative plan of the spec and print its changes, cost and verdicts (as \"projects diff\")")
	}
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
		fmt.Fprintf(stderr, "tenantform %s: -f FILE|DIR is required\n", command)
		cc.fs.Usage()
		return errUsage
	}
	if *dryRun && *w.watch {
		return fmt.Errorf("%w: --watch follows an apply; a speculative plan (--dry-run, diff) is always waited for (--timeout, --interval)", errUsage)
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

	if *dryRun {
		return speculate(ctx, cc, name, body, w, stdout, stderr)
	}
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
	if cc.c.document() {
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
