//go:build crash || crashshort

package crash

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/store/storetest"
)

// kumo's services start goroutines when its package initialises (the
// suite imports aws/awstest): not the suite's to stop.
func TestMain(m *testing.M) { storetest.Main(m, goleak.IgnoreCurrent()) }

// world is everything the suite runs: the emulator process, the proxy in
// front of it, a database, one `serve` and one or two `reconcile`
// replicas (slots "a" and "b"), each restarted after a kill.
type world struct {
	t      *testing.T
	dir    string
	bin    string
	emuURL string
	proxy  *Proxy
	dbURL  string
	apiURL string
	env    []string
	secret string
	tokens map[string]string
	admin  string

	mu        sync.Mutex
	replicas  map[string]*replica
	survivors *survivorWatch
}

// replica is one running `tenantform reconcile`.
type replica struct {
	slot string
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
}

// options of a run.
type options struct {
	// mirror is a filesystem mirror with hashicorp/aws; provider says
	// which ("real hashicorp/aws 5.100.0" or "test double").
	mirror, provider string
	orphanCleanup    string
}

func newWorld(t *testing.T, opt options) *world {
	t.Helper()
	// The servers are child processes killed at the end: drop the
	// client's idle connections to them, or they outlive the test.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	// Not t.TempDir: the logs of a failed run are kept.
	dir, err := os.MkdirTemp("", "tenantform-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	w := &world{t: t, dir: dir, replicas: map[string]*replica{},
		tokens: map[string]string{}}
	if opt.provider == providerDouble {
		// The platform's lock admits the real hashicorp/aws only (its
		// hashes): with the double, a binary locking the double's version.
		w.bin = awstest.BuildTenantform(t, w.dir, "tenantform_testdouble")
	} else {
		w.bin = awstest.BuildTenantform(t, w.dir)
	}
	w.emuURL = awstest.StartProcess(t, awstest.GoBuild(t, w.dir, "../aws/awstest/cmd/emulator", "emulator"))
	p, err := NewProxy(w.emuURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	w.proxy = p
	w.dbURL = storetest.NewDatabase(t)
	w.secret = strings.Repeat("c", 40)
	// One plugin cache for every run of the suite on this machine: the
	// real provider is 700 MB, copied into the cache once.
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("tenantform-crash-plugin-cache-%d", os.Getuid()))
	if opt.provider == providerDouble {
		cache = filepath.Join(w.dir, "plugin-cache") // the double is built anew by every run
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	w.env = append(awstest.CleanEnv("TF_PATH"),
		"DATABASE_URL="+w.dbURL, "JWT_SECRET="+w.secret, "PORT=0", "METRICS_PORT=0", "LOG_FORMAT=json", "LOG_LEVEL=info",
		"ENVIRONMENT=test",
		"AWS_ENDPOINT_URL="+p.URL, "AWS_REGION=us-east-1", "AWS_ALLOWED_REGIONS=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDCRASHPLATFORM", "AWS_SECRET_ACCESS_KEY=crash-platform-secret",
		"AWS_ROLE_ARN=arn:aws:iam::000000000000:role/tenantform",
		"ORPHAN_CLEANUP="+opt.orphanCleanup, "INVENTORY_INTERVAL=30s",
		// The shortest grace between an orphan's first listing and its
		// deletion (a tenantform without the setting ignores it).
		"ORPHAN_GRACE_PERIOD=1m",
		// A short lease, so that a killed replica's projects are taken
		// over soon; the renew deadline leaves terraform its stop grace
		// (a tenantform without the setting ignores it).
		"LEASE_DURATION=20s", "LEASE_RENEW_DEADLINE=10s", "RESYNC_INTERVAL=20s", "TF_CONCURRENCY=2", "MAX_WORKERS_PER_USER=1",
		"MAX_RESOURCES_PER_USER=50", "MAX_COST_PER_PROJECT=1000", "AWS_COST_BUDGET_LIMIT=0",
		"TF_OPERATION_TIMEOUT=5m", "SHUTDOWN_GRACE=5s", "RESOURCE_TIMEOUT_MINUTES=600",
		"TF_PROVIDER_MIRROR="+opt.mirror, "TF_PLUGIN_CACHE_DIR="+cache,
		"TENANTFORM_DATA_DIR="+filepath.Join(w.dir, "data"),
	)
	w.apiURL = fmt.Sprintf("http://127.0.0.1:%d", w.startServe())
	for _, u := range users {
		tok, err := api.SignToken([]byte(w.secret), u, false, 24*time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[u] = "Bearer " + tok
	}
	tok, err := api.SignToken([]byte(w.secret), "root", true, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.admin = "Bearer " + tok
	w.survivors = newSurvivorWatch()
	t.Cleanup(w.survivors.stop)
	t.Cleanup(w.stopAll)
	return w
}

func (w *world) startServe() int {
	cmd := exec.Command(w.bin, "serve")
	cmd.Env = w.env
	logf, err := os.Create(filepath.Join(w.dir, "serve.log"))
	if err != nil {
		w.t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		w.t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	pw.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	w.t.Cleanup(func() { cmd.Process.Kill(); <-exited; logf.Close() })
	port := make(chan int, 1)
	go scanLogs(pr, logf, func(l logLine) {
		if l.Msg == "API listening" && l.Port > 0 {
			select {
			case port <- l.Port:
			default:
			}
		}
	})
	select {
	case p := <-port:
		return p
	case <-exited:
		time.Sleep(time.Second) // the last lines
		w.t.Fatalf("serve exited (%v):\n%s", cmd.ProcessState, tail(filepath.Join(w.dir, "serve.log")))
	case <-time.After(5 * time.Minute):
		w.t.Fatalf("serve did not say where it listens in 5 minutes:\n%s", tail(filepath.Join(w.dir, "serve.log")))
	}
	return 0
}

// tail is the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

type logLine struct {
	Msg       string `json:"msg"`
	Port      int    `json:"port"`
	UserID    string `json:"user_id"`
	ProjectID string `json:"project_id"`
	Level     string `json:"level"`
	Address   string `json:"address"`
	ID        string `json:"id"`
}

// scanLogs copies a process's JSON log lines to a file and hands each to
// fn.
func scanLogs(r io.ReadCloser, file io.Writer, fn func(logLine)) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		file.Write(sc.Bytes())
		file.Write([]byte("\n"))
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			fn(l)
		}
	}
}

// startReconciler starts (or restarts) the replica of a slot. Each slot
// keeps its work directory across restarts, as a restarted process on
// the same host would.
func (w *world) startReconciler(slot string) *replica {
	w.t.Helper()
	cmd := exec.Command(w.bin, "reconcile")
	cmd.Env = append(append([]string(nil), w.env...), "TF_WORK_DIR="+filepath.Join(w.dir, "work-"+slot))
	logf, err := os.OpenFile(filepath.Join(w.dir, "reconcile-"+slot+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		w.t.Fatal(err)
	}
	cmd.Stderr = pw
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	pw.Close()
	r := &replica{slot: slot, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	fmt.Fprintf(logf, "{\"msg\":\"crash suite: started pid %d\"}\n", r.pid)
	go func() { cmd.Wait(); close(r.done) }()
	go func() {
		scanLogs(pr, logf, func(logLine) {})
		logf.Close()
	}()
	w.mu.Lock()
	w.replicas[slot] = r
	w.mu.Unlock()
	return r
}

// running returns the replicas alive now.
func (w *world) running() []*replica {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*replica
	for _, r := range w.replicas {
		select {
		case <-r.done:
		default:
			out = append(out, r)
		}
	}
	return out
}

// replicaOf returns the running replica pid is (or descends from).
func (w *world) replicaOf(pid int) *replica {
	for _, r := range w.running() {
		for p := pid; p > 1; p = parentPID(p) {
			if p == r.pid {
				return r
			}
		}
	}
	return nil
}

// kill SIGKILLs a replica (only its own process: what its children do
// then is what is measured) and starts watching its terraform processes.
func (w *world) kill(r *replica, window string) int {
	tree := descendants(r.pid)
	syscall.Kill(r.pid, syscall.SIGKILL)
	<-r.done
	return w.survivors.watch(window, tree)
}

// stopAll stops every replica with SIGTERM (the orderly way), then
// whatever is left of their process trees.
func (w *world) stopAll() {
	for _, r := range w.running() {
		tree := descendants(r.pid)
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		for _, p := range tree {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	w.survivors.killAll()
}

// call is one API request; it returns the status and the body.
func (w *world) call(method, path, auth string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, w.apiURL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// projectStatus is what the suite reads of a project.
type projectStatus struct {
	Code       int
	Generation int64 `json:"generation"`
	Status     struct {
		Phase              string `json:"phase"`
		ObservedGeneration int64  `json:"observedGeneration"`
		LastError          string `json:"lastError"`
		Message            string `json:"message"`
		Conditions         []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

func (w *world) status(user, project string) projectStatus {
	code, b := w.call("GET", "/api/v1/users/"+user+"/projects/"+project, w.tokens[user], nil)
	var s projectStatus
	json.Unmarshal(b, &s)
	s.Code = code
	return s
}

// converged: Ready at its newest generation, or gone (410 or 404) when
// it should be.
func (s projectStatus) converged(wantGone bool) bool {
	if wantGone {
		return s.Code == http.StatusGone || s.Code == http.StatusNotFound
	}
	return s.Code == http.StatusOK && s.Status.Phase == "Ready" && s.Status.ObservedGeneration == s.Generation
}

func (s projectStatus) String() string {
	if s.Code != http.StatusOK {
		return fmt.Sprintf("HTTP %d", s.Code)
	}
	msg := s.Status.LastError
	if msg == "" {
		msg = s.Status.Message
	}
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return fmt.Sprintf("%s gen %d/%d %s", s.Status.Phase, s.Status.ObservedGeneration, s.Generation, msg)
}
