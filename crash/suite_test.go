//go:build crash || crashshort

package crash

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/tenantform/tenantform/aws/awstest"
)

var (
	flagKills    = flag.Int("crash.kills", 0, "kills to make (0: the profile's default)")
	flagProvider = flag.String("crash.provider", "", "hashicorp/aws to use: auto (the real one when TF_PROVIDER_MIRROR or /opt/tf-plugins has it, else the test double), real, double; default: the profile's (long: auto, short: double)")
	flagEnv      = flag.String("crash.env", "", "extra reconciler settings, comma-separated K=V (e.g. a fix's new variables)")
	flagBudget   = flag.Duration("crash.budget", 0, "time allowed for the kill rounds (0: the profile's default)")
)

// The crash windows.
const (
	winCreateUntagged = "after CreateBucket, before tagging"
	winAfterTagging   = "after tagging (or a create that tags)"
	winMidDestroy     = "mid-destroy"
	winMidExpiry      = "mid-expiry"
	winMidInventory   = "mid-inventory"
	winAdoption       = "during adoption"
)

var windows = []string{winCreateUntagged, winAfterTagging, winMidDestroy, winMidExpiry, winMidInventory, winAdoption}

// deleteOps are the AWS calls of a destroy; createOps those after which a
// resource exists with its tags.
var (
	deleteOps = map[string]bool{"s3:DeleteBucket": true, "dynamodb:DeleteTable": true, "iam:DeleteRole": true,
		"iam:DeleteRolePolicy": true, "logs:DeleteLogGroup": true}
	taggedOps = map[string]bool{"s3:PutBucketTagging": true, "dynamodb:CreateTable": true, "iam:CreateRole": true,
		"iam:PutRolePolicy": true, "logs:CreateLogGroup": true}
)

func TestCrashSuite(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_PATH") == "" {
		t.Skip("needs terraform on PATH or TF_PATH")
	}
	prof := defaultProfile
	if *flagKills > 0 {
		prof.kills = *flagKills
	}
	if *flagBudget > 0 {
		prof.budget = *flagBudget
	}
	opt := options{orphanCleanup: "report"}
	choice := prof.provider
	if *flagProvider != "" {
		choice = *flagProvider
	}
	opt.mirror, opt.provider = providerMirror(t, choice)
	defs := prof.projects(opt.provider)
	start := time.Now()
	w := newWorld(t, opt)
	extra := extraEnv(t)
	w.env = append(w.env, extra...)
	t.Logf("provider: %s; emulator %s behind proxy %s; work under %s", opt.provider, w.emuURL, w.proxy.URL, w.dir)
	s := &suite{w: w, defs: defs, prof: prof, version: map[string]int{}, live: map[string]bool{},
		kills: map[string]int{}, missed: map[string]int{}, tfAtKill: map[string]int{}}
	defer func() {
		if t.Failed() {
			t.Logf("logs kept under %s", w.dir)
		}
	}()

	// Every project at version 1, one replica; all Ready before the
	// first kill.
	for _, d := range defs {
		s.put(d, 1)
	}
	w.startReconciler("a")
	if bad := s.waitConverged(prof.settle); len(bad) > 0 {
		t.Fatalf("before any kill, not converged after %s: %s", prof.settle, strings.Join(bad, "; "))
	}
	t.Logf("%d projects Ready in %s", len(defs), time.Since(start).Round(time.Second))

	// The kill rounds.
	rounds := s.plan()
	killStart := time.Now()
	for i, rd := range rounds {
		if s.totalKills() >= prof.kills || time.Since(killStart) > prof.budget {
			break
		}
		// The middle half of the kills lands with two replicas running.
		k := s.totalKills()
		twoReplicas := prof.kills >= 8 && k >= prof.kills/4 && k < prof.kills*3/4
		s.replicas(twoReplicas)
		s.round(i, rd)
	}
	killTime := time.Since(killStart)
	s.replicas(false)

	// Convergence, then the check.
	convStart := time.Now()
	bad := s.waitConverged(prof.converge)
	convTime := time.Since(convStart)
	// Two inventory intervals, so that the sweep (report mode) has run
	// over the final picture too.
	time.Sleep(prof.afterConverge)
	ctx := context.Background()
	all, err := listEmulator(ctx, w.emuURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := states(ctx, w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	v := judge(all, s.expectations(), st)
	surv := w.survivors.figures()
	s.printFigures(t, opt, v, bad, killTime, convTime, time.Since(start), surv)

	// Part two: ORPHAN_CLEANUP=delete leaves alone what is not the
	// platform's. A true orphan (the platform's tags, a project that never
	// existed) is the witness that a sweep ran.
	keepOK := s.deleteMode(t)

	for _, l := range v.leaked {
		t.Errorf("leaked: %s", l)
	}
	for _, d := range v.duplicated {
		t.Errorf("duplicated: %s", d)
	}
	for _, m := range v.missing {
		t.Errorf("missing: %s", m)
	}
	for _, b := range bad {
		t.Errorf("not converged: %s", b)
	}
	if surv.after10s > 0 {
		t.Errorf("%d terraform process(es) outlived their killed reconciler by more than 10 s (longest %s)", surv.after10s, surv.longest.Round(time.Second))
	}
	if !keepOK {
		t.Errorf("ORPHAN_CLEANUP=delete: see above")
	}
	if s.totalKills() < prof.kills {
		t.Errorf("only %d kills of %d landed in a window (missed rounds: %v)", s.totalKills(), prof.kills, s.missed)
	}
}

// profile is the size of a run.
type profile struct {
	name            string
	kills           int
	budget          time.Duration // for the kill rounds
	settle          time.Duration // first convergence
	converge        time.Duration // final convergence
	afterConverge   time.Duration
	held            time.Duration // how long a round waits for its window
	onlyProjects    []string
	deleteWitnessIn time.Duration
	// provider: auto, real or double (see -crash.provider).
	provider string
}

func (p profile) projects(provider string) []projectDef {
	var out []projectDef
	for _, d := range projects {
		if len(p.onlyProjects) > 0 && !contains(p.onlyProjects, d.key()) {
			continue
		}
		if provider == providerDouble && d.hasKind(role, rolePolicy, logGroup) {
			continue // the test double has buckets and tables only
		}
		out = append(out, d)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const (
	providerReal   = "real hashicorp/aws"
	providerDouble = "test double of hashicorp/aws (aws/awstest/provider: buckets and tables only)"
)

// providerMirror finds the real provider's mirror, or builds the test
// double's.
func providerMirror(t *testing.T, choice string) (string, string) {
	dir := os.Getenv("TF_PROVIDER_MIRROR")
	if dir == "" {
		dir = "/opt/tf-plugins"
	}
	versions, _ := os.ReadDir(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws"))
	switch {
	case choice != "double" && len(versions) > 0:
		return dir, providerReal + " " + versions[len(versions)-1].Name()
	case choice == "real":
		t.Fatalf("-crash.provider=real but %s holds no hashicorp/aws", dir)
	}
	return buildDouble(t), providerDouble
}

func extraEnv(t *testing.T) []string {
	if *flagEnv == "" {
		return nil
	}
	var out []string
	for _, kv := range strings.Split(*flagEnv, ",") {
		if !strings.Contains(kv, "=") {
			t.Fatalf("-crash.env: %q is not K=V", kv)
		}
		out = append(out, strings.TrimSpace(kv))
	}
	return out
}

// suite is the state of one run.
type suite struct {
	w       *world
	defs    []projectDef
	prof    profile
	version map[string]int
	live    map[string]bool
	// kills per window; missed: rounds whose window never opened;
	// tfAtKill: terraform processes the killed replicas had.
	kills, missed, tfAtKill map[string]int
}

func (s *suite) def(key string) projectDef {
	for _, d := range s.defs {
		if d.key() == key {
			return d
		}
	}
	s.w.t.Fatalf("no project %s", key)
	return projectDef{}
}

func (s *suite) totalKills() int {
	n := 0
	for _, k := range s.kills {
		n += k
	}
	return n
}

// put writes version v of a project's spec.
func (s *suite) put(d projectDef, v int) {
	main, _ := d.spec(v)
	body := map[string]any{"files": map[string]string{"main.tf": main}}
	if d.ttl > 0 {
		body["ttlMinutes"] = d.ttl
	}
	code, resp := s.w.call("PUT", "/api/v1/users/"+d.user+"/projects/"+d.name, s.w.tokens[d.user], body)
	if code != http.StatusCreated && code != http.StatusOK {
		s.w.t.Fatalf("PUT %s v%d: %d %s", d.key(), v, code, resp)
	}
	s.version[d.key()] = v
	s.live[d.key()] = true
}

func (s *suite) del(d projectDef) {
	code, resp := s.w.call("DELETE", "/api/v1/users/"+d.user+"/projects/"+d.name, s.w.tokens[d.user], nil)
	if code != http.StatusAccepted && code != http.StatusGone && code != http.StatusNotFound {
		s.w.t.Fatalf("DELETE %s: %d %s", d.key(), code, resp)
	}
	s.live[d.key()] = false
}

func (s *suite) expectations() []expectation {
	var out []expectation
	for _, d := range s.defs {
		out = append(out, expectation{def: d, live: s.live[d.key()], version: s.version[d.key()]})
	}
	return out
}

// waitConverged waits until every live project is Ready at its newest
// generation and every deleted one is gone; it returns those that are not
// after limit.
func (s *suite) waitConverged(limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	for {
		var bad []string
		for _, d := range s.defs {
			st := s.w.status(d.user, d.name)
			gone := !s.live[d.key()]
			if d.key() == s.expiringKey() && st.Code == http.StatusGone {
				// An expiry the suite did not wait for is as good.
				s.live[d.key()] = false
				gone = true
			}
			if !st.converged(gone) {
				bad = append(bad, fmt.Sprintf("%s: %s (want %s)", d.key(), st, map[bool]string{true: "gone", false: "Ready"}[gone]))
			}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return bad
		}
		time.Sleep(3 * time.Second)
	}
}

func (s *suite) expiringKey() string { return "u4/expiring" }

// replicas makes one or two replicas run.
func (s *suite) replicas(two bool) {
	running := map[string]*replica{}
	for _, r := range s.w.running() {
		running[r.slot] = r
	}
	if running["a"] == nil {
		s.w.startReconciler("a")
	}
	if two && running["b"] == nil {
		s.w.startReconciler("b")
		s.w.t.Logf("second replica started")
	}
	if !two && running["b"] != nil {
		// The orderly way: SIGTERM, its leases handed back.
		running["b"].cmd.Process.Signal(os.Interrupt)
		select {
		case <-running["b"].done:
		case <-time.After(time.Minute):
			running["b"].cmd.Process.Kill()
			<-running["b"].done
		}
		s.w.t.Logf("second replica stopped")
	}
}

// roundPlan is one kill round: a window and the project it targets.
type roundPlan struct {
	window, target string
}

// plan lays out the rounds: every window in turn, targets rotating among
// the projects that have the window, an adoption round after each kill
// after tagging. There are more rounds than kills: a round whose window
// does not open in time is skipped.
func (s *suite) plan() []roundPlan {
	candidates := map[string][]string{}
	for _, d := range s.defs {
		k := d.key()
		switch {
		case k == s.expiringKey():
			candidates[winMidExpiry] = append(candidates[winMidExpiry], k)
		case d.name == "doomed":
			candidates[winMidDestroy] = append(candidates[winMidDestroy], k)
		default:
			if d.hasKind(bucket, bucketPrefix) {
				candidates[winCreateUntagged] = append(candidates[winCreateUntagged], k)
			}
			candidates[winAfterTagging] = append(candidates[winAfterTagging], k)
		}
	}
	candidates[winMidInventory] = []string{""}
	cycle := []string{winCreateUntagged, winAfterTagging, winAdoption, winMidInventory, winMidDestroy,
		winCreateUntagged, winAfterTagging, winAdoption, winMidExpiry}
	next := map[string]int{}
	var out []roundPlan
	for len(out) < 3*s.prof.kills {
		for _, win := range cycle {
			if win == winAdoption {
				// The recovery after a kill after tagging: its AWS
				// calls name the target's bucket (fixed or prefixed),
				// S3 paths say which (see adoptionRound).
				if len(out) > 0 && out[len(out)-1].window == winAfterTagging &&
					s.def(out[len(out)-1].target).hasKind(bucket, bucketPrefix) {
					out = append(out, roundPlan{window: winAdoption, target: out[len(out)-1].target})
				}
				continue
			}
			c := candidates[win]
			if len(c) == 0 {
				continue
			}
			out = append(out, roundPlan{window: win, target: c[next[win]%len(c)]})
			next[win]++
		}
	}
	return out
}

// round arms the window's trap, makes the reconciler walk into it, and
// SIGKILLs the replica whose request is held.
func (s *suite) round(i int, rd roundPlan) {
	t := s.w.t
	var trap *Trap
	var d projectDef
	if rd.target != "" {
		d = s.def(rd.target)
	}
	ours := func(c Call) bool { return c.Project == rd.target }
	switch rd.window {
	case winCreateUntagged:
		trap = s.w.proxy.Arm(rd.window, 10*time.Minute, func(c Call) bool { return ours(c) && c.Name() == "s3:CreateBucket" })
		s.put(d, s.version[d.key()]+1)
	case winAfterTagging:
		trap = s.w.proxy.Arm(rd.window, 10*time.Minute, func(c Call) bool { return ours(c) && taggedOps[c.Name()] })
		s.put(d, s.version[d.key()]+1)
	case winMidDestroy, winMidExpiry:
		if !s.ensureLive(d) {
			s.missed[rd.window]++
			return
		}
		trap = s.w.proxy.Arm(rd.window, 10*time.Minute, func(c Call) bool { return ours(c) && deleteOps[c.Name()] })
		if rd.window == winMidDestroy {
			s.del(d)
		} else {
			// Shorten its life to a minute from now.
			code, resp := s.w.call("POST", "/api/v1/users/"+d.user+"/projects/"+d.name+"/extend", s.w.tokens[d.user], map[string]any{"ttlMinutes": 1})
			if code != http.StatusOK {
				t.Logf("round %d: extend %s: %d %s", i, d.key(), code, resp)
			}
			s.live[d.key()] = false
		}
	case winMidInventory:
		trap = s.w.proxy.Arm(rd.window, 10*time.Minute, func(c Call) bool { return c.Name() == "tagging:GetResources" })
	case winAdoption:
		s.adoptionRound(i, rd)
		return
	}
	defer trap.Release()
	select {
	case c := <-trap.Held:
		s.killHolder(i, rd, c, trap)
	case <-time.After(s.prof.held):
		s.missed[rd.window]++
		t.Logf("round %d %-40s %-12s window did not open in %s", i, rd.window, rd.target, s.prof.held)
	}
}

// killHolder SIGKILLs the replica that made the held request c, then drops
// the held answer (the client never learns it), and restarts the replica.
func (s *suite) killHolder(i int, rd roundPlan, c Call, trap *Trap) {
	port, _ := strconv.Atoi(s.w.proxy.URL[strings.LastIndex(s.w.proxy.URL, ":")+1:])
	pid := connectionOwner(c.RemoteAddr, port)
	r := s.w.replicaOf(pid)
	if r == nil {
		// The request came from a process no running replica owns (a
		// survivor of an earlier kill): let it through.
		s.missed[rd.window]++
		s.w.t.Logf("round %d %-40s %-12s held %s %s from pid %d, which no replica owns", i, rd.window, rd.target, c.Name(), c.Bucket, pid)
		return
	}
	n := s.w.kill(r, rd.window)
	s.kills[rd.window]++
	s.tfAtKill[rd.window] += n
	trap.Drop()
	s.w.t.Logf("round %d %-40s %-12s killed replica %s (pid %d, %d terraform processes) holding %s %s", i, rd.window, rd.target, r.slot, r.pid, n, c.Name(), c.Bucket)
	s.w.startReconciler(r.slot)
}

// adoptionRound kills the reconciler recovering the target after the
// previous round's kill: the recovery of an interrupted apply looks the
// buckets its creation records name up with tenantform's own credentials
// (ListBuckets, then GetBucketTagging of each find), then imports them
// (the Adopt plan) or deletes them (DeleteBucket). The trap holds the
// first of those calls that names one of the target's buckets and is not
// signed by a project's session, so the kill lands between the recovery's
// finding and its adoption or deletion.
func (s *suite) adoptionRound(i int, rd roundPlan) {
	d := s.def(rd.target)
	family := d.family() // every version's bucket, fixed or prefixed
	trap := s.w.proxy.Arm(rd.window, 10*time.Minute, func(c Call) bool {
		return c.Project == "" && c.Service == "s3" && strings.HasPrefix(c.Bucket, family)
	})
	defer trap.Release()
	select {
	case c := <-trap.Held:
		s.killHolder(i, rd, c, trap)
	case <-time.After(s.prof.held):
		s.missed[rd.window]++
		s.w.t.Logf("round %d %-40s %-12s no recovery call for %s* in %s", i, rd.window, rd.target, family, s.prof.held)
	}
}

// ensureLive makes sure the project exists and is Ready (re-creating it
// under the same id when it is gone), so that it can be destroyed.
func (s *suite) ensureLive(d projectDef) bool {
	st := s.w.status(d.user, d.name)
	if st.Code != http.StatusOK || !s.live[d.key()] {
		if st.Code == http.StatusOK {
			return false // still being destroyed
		}
		s.put(d, s.version[d.key()]+1)
	}
	deadline := time.Now().Add(s.prof.held)
	for time.Now().Before(deadline) {
		if st := s.w.status(d.user, d.name); st.converged(false) {
			return true
		}
		time.Sleep(2 * time.Second)
	}
	return false
}

// deleteMode restarts the reconciler with ORPHAN_CLEANUP=delete next to
// an untagged bucket made by hand, a bucket of another platform and a true
// orphan, and checks that only the orphan goes.
func (s *suite) deleteMode(t *testing.T) bool {
	ctx := context.Background()
	emu := s.w.emuURL
	orphanTags := map[string]string{"ManagedBy": "chart-app-platform", "UserId": "u9", "ProjectId": "ghost",
		"Project": "chart-app-u9-ghost", "Environment": "test", "CreatedAt": "2026-01-01T00:00:00Z"}
	for name, tags := range map[string]map[string]string{
		"keep-by-hand":        nil,
		"keep-other-platform": {"ManagedBy": "other", "UserId": "u1", "ProjectId": "fixed", "Project": "chart-app-u1-fixed"},
		"crash-true-orphan":   orphanTags,
	} {
		if err := makeBucket(ctx, emu, name, tags); err != nil {
			t.Fatalf("bucket %s: %v", name, err)
		}
	}
	for _, r := range s.w.running() {
		r.cmd.Process.Signal(os.Interrupt)
		<-r.done
	}
	s.w.env = append(s.w.env, "ORPHAN_CLEANUP=delete") // the later value wins
	s.w.startReconciler("a")
	start := time.Now()
	orphanGone := false
	for time.Since(start) < s.prof.deleteWitnessIn {
		all, err := listEmulator(ctx, emu)
		if err != nil {
			t.Fatal(err)
		}
		orphanGone = true
		for _, f := range all {
			if f.name == "crash-true-orphan" {
				orphanGone = false
			}
		}
		if orphanGone {
			break
		}
		time.Sleep(3 * time.Second)
	}
	all, err := listEmulator(ctx, emu)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, f := range all {
		kept[f.name] = true
	}
	ok := true
	if !orphanGone {
		t.Logf("delete mode: the true orphan crash-true-orphan was not deleted in %s (no sweep ran: the check below proves nothing)", s.prof.deleteWitnessIn)
		ok = false
	} else {
		t.Logf("delete mode: the true orphan was deleted %s after the restart", time.Since(start).Round(time.Second))
	}
	for _, name := range []string{"keep-by-hand", "keep-other-platform"} {
		if !kept[name] {
			t.Logf("delete mode DELETED %s", name)
			ok = false
		}
	}
	t.Logf("delete mode: untagged bucket by hand kept: %v; ManagedBy=other bucket kept: %v", kept["keep-by-hand"], kept["keep-other-platform"])
	return ok
}

func (s *suite) printFigures(t *testing.T, opt options, v verdict, bad []string, killTime, convTime, total time.Duration, surv survivorFigures) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "window\tkills\trounds missed\tterraform processes at kill\n")
	for _, win := range windows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", win, s.kills[win], s.missed[win], s.tfAtKill[win])
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\n", s.totalKills(), sum(s.missed))
	tw.Flush()
	converged := len(s.defs) - len(bad)
	fmt.Fprintf(&b, "\nprojects converged (Ready or gone): %d/%d\n", converged, len(s.defs))
	fmt.Fprintf(&b, "resources in the emulator (scenario names): %d\n", v.resources)
	fmt.Fprintf(&b, "leaked: %d   duplicated: %d   missing: %d\n", len(v.leaked), len(v.duplicated), len(v.missing))
	fmt.Fprintf(&b, "terraform processes of killed reconcilers: %d, alive 10 s after the kill: %d, alive at the end: %d, longest after the kill: %s\n",
		surv.processes, surv.after10s, surv.aliveNow, surv.longest.Round(time.Second))
	fmt.Fprintf(&b, "time: kill rounds %s, convergence %s, total %s\n", killTime.Round(time.Second), convTime.Round(time.Second), total.Round(time.Second))
	fmt.Fprintf(&b, "provider: %s; ORPHAN_CLEANUP=%s; projects: %d\n", opt.provider, opt.orphanCleanup, len(s.defs))
	counts := s.w.proxy.Counts()
	var ops []string
	for _, op := range []string{"s3:CreateBucket", "s3:PutBucketTagging", "s3:DeleteBucket", "dynamodb:CreateTable", "dynamodb:DeleteTable",
		"iam:CreateRole", "iam:DeleteRole", "logs:CreateLogGroup", "logs:DeleteLogGroup", "tagging:GetResources", "sts:AssumeRole"} {
		ops = append(ops, fmt.Sprintf("%s=%d", op, counts[op]))
	}
	fmt.Fprintf(&b, "AWS calls: %s\n", strings.Join(ops, " "))
	for _, l := range [][]string{v.leaked, v.duplicated, v.missing, bad} {
		sort.Strings(l)
	}
	for _, l := range v.leaked {
		fmt.Fprintf(&b, "  leaked: %s\n", l)
	}
	for _, l := range v.duplicated {
		fmt.Fprintf(&b, "  duplicated: %s\n", l)
	}
	for _, l := range v.missing {
		fmt.Fprintf(&b, "  missing: %s\n", l)
	}
	for _, l := range bad {
		fmt.Fprintf(&b, "  not converged: %s\n", l)
	}
	t.Logf("crash suite figures:\n%s", b.String())
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// buildDouble installs the test double of hashicorp/aws into a mirror of
// this run's own. Not awstest.ProviderMirror's: that one is shared by
// every test binary of the machine and rebuilt by each, and a rebuild from
// other sources has other checksums than the ones the reconcilers' lock
// files recorded, which fails every later init.
func buildDouble(t *testing.T) string {
	mirror := awstest.PrivateProviderMirror(t)
	// The reconcilers are built with the lock of the double's version
	// (tf/providers, build tag tenantform_testdouble): the same version.
	src, err := os.ReadFile("../tf/providers/lock_testdouble.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `version     = "`+awstest.ProviderVersion+`"`) {
		t.Fatalf("tf/providers/lock_testdouble.go does not lock hashicorp/aws %s, the test double's version", awstest.ProviderVersion)
	}
	return mirror
}
