package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantform/tenantform/tf"
	"github.com/tenantform/tenantform/tf/policy"
)

// fakeTerraform stands in for the terraform engine where the reconciler's
// decisions are under test, so failure branches cost milliseconds. It
// keeps each project's "state" where terraform's pg backend keeps it (the
// states table of the backend schema, in the test's real PostgreSQL), so
// the reconciler reads it exactly as it reads real state.
//
// A project's desired resources are the `resource "type" "name"` blocks of
// its files. A planfile is "plan:<workspace>:<state serial>:<addresses>":
// applying it after the state changed fails with tf.ErrPlanStale, as
// terraform does.
type fakeTerraform struct {
	t    testing.TB
	pool *pgxpool.Pool

	mu    sync.Mutex
	calls []string // "plan alice/demo", "apply alice/demo", ...
	// applied records every planfile ApplySaved was given.
	applied [][]byte
	// imports records the import blocks each plan was given.
	imports [][]tf.Import

	// Hooks replace one operation's behaviour; nil keeps the default.
	planHook func(ctx context.Context, p tf.Project) error
	// violations are the plan-time policy's findings of every plan.
	violations  []policy.Violation
	applyHook   func(ctx context.Context, p tf.Project) error
	destroyHook func(ctx context.Context, p tf.Project) error
	// credsHook sees the credentials each operation is given.
	credsHook func(op string, creds *tf.Credentials)
	// replaceImports makes every plan replace what it imports, as
	// terraform does when the configuration forces a new resource.
	replaceImports bool
}

func (f *fakeTerraform) seeCreds(op string, creds *tf.Credentials) {
	if f.credsHook != nil {
		f.credsHook(op, creds)
	}
}

func newFakeTerraform(t testing.TB, dbURL string) *fakeTerraform {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), `CREATE SCHEMA IF NOT EXISTS `+tf.DefaultPGSchema+`;
		CREATE TABLE IF NOT EXISTS `+tf.DefaultPGSchema+`.states (id bigserial PRIMARY KEY, name text UNIQUE, data text)`); err != nil {
		t.Fatal(err)
	}
	return &fakeTerraform{t: t, pool: pool}
}

var resourceBlock = regexp.MustCompile(`resource\s+"([a-z0-9_]+)"\s+"([a-zA-Z0-9_-]+)"`)

func desired(p tf.Project) []tf.PlannedResource {
	var out []tf.PlannedResource
	names := make([]string, 0, len(p.Files))
	for n := range p.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, m := range resourceBlock.FindAllStringSubmatch(p.Files[n], -1) {
			// The name is the planned bucket or table name, as adoption
			// reads it from a real plan.
			out = append(out, tf.PlannedResource{Address: m[1] + "." + m[2], Type: m[1],
				Values: map[string]any{"bucket": m[2], "name": m[2]}})
		}
	}
	return out
}

func (f *fakeTerraform) record(op string, p tf.Project) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+p.UserID+"/"+p.ProjectID)
}

// count returns how many calls of op were made for user/project ("" op:
// any).
func (f *fakeTerraform) count(op, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if (op == "" || strings.HasPrefix(c, op+" ")) && strings.HasSuffix(c, " "+key) {
			n++
		}
	}
	return n
}

// state reads the fake state: its serial and resource addresses.
func (f *fakeTerraform) state(ctx context.Context, workspace string) (serial int, addrs []string) {
	var data string
	err := f.pool.QueryRow(ctx, `SELECT data FROM `+tf.DefaultPGSchema+`.states WHERE name = $1`, workspace).Scan(&data)
	if err != nil {
		return 0, nil
	}
	var st struct {
		Serial    int `json:"serial"`
		Resources []struct {
			Mode, Type, Name string
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		f.t.Errorf("fake state of %s: %v", workspace, err)
	}
	for _, r := range st.Resources {
		addrs = append(addrs, r.Type+"."+r.Name)
	}
	return st.Serial, addrs
}

// writeState stores a state in terraform's format v4 with the given
// resources.
func (f *fakeTerraform) writeState(ctx context.Context, workspace string, serial int, addrs []string) error {
	type instance struct {
		Attributes map[string]any `json:"attributes"`
	}
	type resource struct {
		Mode      string     `json:"mode"`
		Type      string     `json:"type"`
		Name      string     `json:"name"`
		Provider  string     `json:"provider"`
		Instances []instance `json:"instances"`
	}
	rs := []resource{}
	for _, a := range addrs {
		typ, name, _ := strings.Cut(a, ".")
		rs = append(rs, resource{Mode: "managed", Type: typ, Name: name,
			Provider:  `provider["terraform.io/builtin/terraform"]`,
			Instances: []instance{{Attributes: map[string]any{"id": a}}}})
	}
	b, _ := json.Marshal(map[string]any{"version": 4, "terraform_version": "1.11.4", "serial": serial,
		"lineage": "fake", "outputs": map[string]any{}, "resources": rs})
	_, err := f.pool.Exec(ctx, `INSERT INTO `+tf.DefaultPGSchema+`.states (name, data) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`, workspace, string(b))
	return err
}

func (f *fakeTerraform) Plan(ctx context.Context, p tf.Project, creds *tf.Credentials) (*tf.Plan, error) {
	f.record("plan", p)
	f.seeCreds("plan", creds)
	f.mu.Lock()
	f.imports = append(f.imports, p.Imports)
	f.mu.Unlock()
	if err := policy.CheckError(p.Files, policy.DefaultRules()); err != nil {
		return nil, err
	}
	if f.planHook != nil {
		if err := f.planHook(ctx, p); err != nil {
			return nil, err
		}
	}
	ws := tf.WorkspaceName(p.UserID, p.ProjectID)
	serial, have := f.state(ctx, ws)
	want := desired(p)
	sum := tf.PlanSummary{Resources: want}
	haveSet := map[string]bool{}
	for _, a := range have {
		haveSet[a] = true
	}
	imported := map[string]string{}
	for _, im := range p.Imports {
		imported[im.To] = im.ID
	}
	var addrs []string
	var creates []tf.PlannedCreate
	var imports []tf.ImportChange
	for _, r := range want {
		addrs = append(addrs, r.Address)
		if id, ok := imported[r.Address]; ok && !haveSet[r.Address] {
			action := "no-op"
			if f.replaceImports {
				action = "replace"
				sum.Add++
				sum.Destroy++
				creates = append(creates, tf.PlannedCreate{Address: r.Address, Type: r.Type, Region: "us-east-1", Values: r.Values})
			}
			imports = append(imports, tf.ImportChange{Address: r.Address, ID: id, Action: action})
		} else if !haveSet[r.Address] {
			sum.Add++
			creates = append(creates, tf.PlannedCreate{Address: r.Address, Type: r.Type, Region: "us-east-1", Values: r.Values})
		}
		delete(haveSet, r.Address)
	}
	sum.Destroy += len(haveSet)
	planfile := fmt.Sprintf("plan:%s:%d:%s", ws, serial, strings.Join(addrs, ","))
	return &tf.Plan{Summary: sum, Bytes: []byte(planfile), Log: "Plan: fake", Violations: f.violations,
		Creates: creates, Imports: imports}, nil
}

func (f *fakeTerraform) ApplySaved(ctx context.Context, p tf.Project, planfile []byte, creds *tf.Credentials) (*tf.Result, error) {
	f.record("apply", p)
	f.seeCreds("apply", creds)
	f.mu.Lock()
	f.applied = append(f.applied, append([]byte(nil), planfile...))
	f.mu.Unlock()
	parts := strings.SplitN(string(planfile), ":", 4)
	ws := tf.WorkspaceName(p.UserID, p.ProjectID)
	if len(parts) != 4 || parts[0] != "plan" || parts[1] != ws {
		return nil, fmt.Errorf("fake: %q is not a planfile of %s", planfile, ws)
	}
	serial, _ := f.state(ctx, ws)
	if fmt.Sprint(serial) != parts[2] {
		return nil, fmt.Errorf("fake apply: %w", tf.ErrPlanStale)
	}
	if f.applyHook != nil {
		if err := f.applyHook(ctx, p); err != nil {
			return nil, err
		}
	}
	var addrs []string
	if parts[3] != "" {
		addrs = strings.Split(parts[3], ",")
	}
	if err := f.writeState(ctx, ws, serial+1, addrs); err != nil {
		return nil, err
	}
	return &tf.Result{Log: "Apply complete"}, nil
}

func (f *fakeTerraform) Destroy(ctx context.Context, p tf.Project, _ *tf.Credentials) (*tf.Result, error) {
	f.record("destroy", p)
	if f.destroyHook != nil {
		if err := f.destroyHook(ctx, p); err != nil {
			return nil, err
		}
	}
	ws := tf.WorkspaceName(p.UserID, p.ProjectID)
	serial, _ := f.state(ctx, ws)
	if err := f.writeState(ctx, ws, serial+1, nil); err != nil {
		return nil, err
	}
	return &tf.Result{Log: "Destroy complete"}, nil
}

func (f *fakeTerraform) Outputs(ctx context.Context, p tf.Project, creds *tf.Credentials) (map[string]any, error) {
	f.seeCreds("output", creds)
	_, addrs := f.state(ctx, tf.WorkspaceName(p.UserID, p.ProjectID))
	return map[string]any{"resources": float64(len(addrs))}, nil
}

func (f *fakeTerraform) RemoveWorkdir(_ context.Context, p tf.Project) error {
	f.record("rmworkdir", p)
	return nil
}

// resources is how many resources the fake state of key holds.
func (f *fakeTerraform) resources(key string) int {
	user, project, _ := strings.Cut(key, "/")
	_, addrs := f.state(context.Background(), tf.WorkspaceName(user, project))
	return len(addrs)
}
