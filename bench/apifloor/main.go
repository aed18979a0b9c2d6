// Command apifloor measures tenantform's API against its floor: the
// least a server can do for the same GET and PUT of one project (see
// floor.go), on the same PostgreSQL, with wrk on loopback, in
// interleaved rounds so that the machine's state weighs on both alike.
//
// It starts a private PostgreSQL (durable, as in production) through the
// launcher dev mode uses, builds and starts the real `tenantform serve`
// with its default logging, and prints a Markdown table of every round
// and the medians. Run it from the repository root:
//
//	go run ./bench/apifloor -rounds 5 -duration 10s
//
// With -baseline DIR it also builds and measures the tenantform of
// another source tree (`git archive main | tar -x -C DIR`), interleaved
// with the rest: a before/after that the machine's load weighs on alike.
// Each round also reports the CPU a request cost the server's process and
// PostgreSQL's (cpu.go).
//
// It needs wrk on PATH (Debian's wrk).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantform/tenantform/api"
	"github.com/tenantform/tenantform/store"
	"github.com/tenantform/tenantform/store/localpg"
)

func main() {
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	duration := flag.Duration("duration", 10*time.Second, "wrk duration of each measurement")
	conns := flag.Int("connections", 16, "wrk connections")
	threads := flag.Int("threads", 2, "wrk threads")
	dbConns := flag.Int("db-conns", 10, "database connections of each server (tenantform's DB_MAX_CONNS default)")
	only := flag.String("only", "", "measure only GET or only PUT")
	baselineSrc := flag.String("baseline", "", "also measure the tenantform built from this source tree (e.g. `git archive main | tar -x -C DIR`), interleaved")
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("wrk is not on PATH (apt-get install wrk)")
	}
	if err := run(*rounds, *duration, *conns, *threads, *dbConns, *only, *baselineSrc); err != nil {
		log.Fatal(err)
	}
}

const secret = "apifloor-benchmark-secret-0123456789"

func run(rounds int, duration time.Duration, conns, threads, dbConns int, only, baselineSrc string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tenantform-apifloor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// As root, PostgreSQL runs as the postgres user, who must enter it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}

	pg, err := localpg.Start(ctx, localpg.Options{DataDir: filepath.Join(dir, "pg"), Database: "tenantform"})
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer pg.Stop()
	if err := store.MigrateURL(ctx, pg.URL); err != nil {
		return err
	}

	tf, err := startServe(dir, "tenantform", ".", pg.URL, dbConns)
	if err != nil {
		return err
	}
	defer tf.stop()
	tfURL := tf.url
	var baseline *serveProcess
	if baselineSrc != "" {
		if baseline, err = startServe(dir, "baseline", baselineSrc, pg.URL, dbConns); err != nil {
			return err
		}
		defer baseline.stop()
	}
	floorPort := freePort()

	poolCfg, err := pgxpool.ParseConfig(pg.URL)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = int32(dbConns)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, floorSchema); err != nil {
		return err
	}
	// Every key the PUT script writes exists before the first round, in
	// both tables: what is measured is the steady state, a changed spec
	// of an existing project, not the first round's creations (which
	// would fall on whichever server goes first).
	if _, err := pool.Exec(ctx, seedSQL); err != nil {
		return fmt.Errorf("seeding the PUT keys: %w", err)
	}
	floorLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", floorPort))
	if err != nil {
		return err
	}
	go http.Serve(floorLn, &floorServer{pool: pool, secret: []byte(secret)})
	ownFloorPort := freePort()
	ownFloorLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ownFloorPort))
	if err != nil {
		return err
	}
	go http.Serve(ownFloorLn, &floorServer{pool: pool, secret: []byte(secret), ownTable: true})
	ownFloorURL := fmt.Sprintf("http://127.0.0.1:%d", ownFloorPort)

	floorURL := fmt.Sprintf("http://127.0.0.1:%d", floorPort)
	for _, p := range []*serveProcess{tf, baseline} {
		if p == nil {
			continue
		}
		if err := waitHealthy(p.url + "/healthz"); err != nil {
			return fmt.Errorf("%s serve: %w (log: %s)", p.name, err, tail(p.log))
		}
	}
	now := time.Now()
	alice, _ := api.SignToken([]byte(secret), "alice", false, 24*time.Hour, now)
	admin, _ := api.SignToken([]byte(secret), "bench", true, 24*time.Hour, now)
	// The project both GETs read: created through tenantform's own API.
	if err := putOne(tfURL, alice); err != nil {
		return err
	}
	getScript := filepath.Join(dir, "get.lua")
	putScript := filepath.Join(dir, "put.lua")
	os.WriteFile(getScript, []byte(fmt.Sprintf(getLua, alice)), 0o600)
	os.WriteFile(putScript, []byte(fmt.Sprintf(putLua, admin)), 0o600)

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("apifloor: %d rounds of %s, wrk -t%d -c%d, DB_MAX_CONNS=%d, GOMAXPROCS default, %s; load average at start: %s\n\n",
		rounds, duration, threads, conns, dbConns, time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Fields(string(load))[0])
	fmt.Println("| round | request | server | req/s | p50 ms | p99 ms | errors | server CPU µs/req | PostgreSQL CPU µs/req |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	type key struct{ req, server string }
	results := map[key][]wrkResult{}
	clusterDir := filepath.Join(dir, "pg", "pg")
	servers := []struct {
		name, url string
		pid       int
	}{{"tenantform", tfURL, tf.cmd.Process.Pid}, {"floor", floorURL, os.Getpid()}, {"floor on projects", ownFloorURL, os.Getpid()}}
	if baseline != nil {
		servers = append(servers, struct {
			name, url string
			pid       int
		}{"baseline", baseline.url, baseline.cmd.Process.Pid})
	}
	for r := 1; r <= rounds; r++ {
		order := slices.Clone(servers)
		if r%2 == 0 {
			slices.Reverse(order)
		}
		for _, req := range []struct{ name, script, path string }{
			{"GET", getScript, "/api/v1/users/alice/projects/demo"},
			{"PUT", putScript, "/"},
		} {
			if only != "" && req.name != only {
				continue
			}
			for _, s := range order {
				// GET reads the same table in both floors: one is enough.
				if req.name == "GET" && s.name == "floor on projects" {
					continue
				}
				serverCPU, pgCPU := processCPU(s.pid), postgresCPU(clusterDir)
				res, err := runWrk(threads, conns, duration, req.script, s.url+req.path)
				if err != nil {
					return fmt.Errorf("%s %s: %w", req.name, s.name, err)
				}
				if n := res.rps * duration.Seconds(); n > 0 {
					res.serverCPUus = float64((processCPU(s.pid) - serverCPU).Microseconds()) / n
					res.pgCPUus = float64((postgresCPU(clusterDir) - pgCPU).Microseconds()) / n
				}
				results[key{req.name, s.name}] = append(results[key{req.name, s.name}], res)
				fmt.Printf("| %d | %s | %s | %.0f | %.2f | %.2f | %d | %.0f | %.0f |\n", r, req.name, s.name, res.rps, res.p50ms, res.p99ms, res.errors, res.serverCPUus, res.pgCPUus)
			}
		}
	}
	fmt.Println()
	fmt.Println("| request | server | req/s min / median / max | p99 ms median | errors | ratio to the floor (median req/s) | server CPU µs/req median | PostgreSQL CPU µs/req median |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, req := range []string{"GET", "PUT"} {
		if only != "" && req != only {
			continue
		}
		floorMed := median(results[key{req, "floor"}], func(w wrkResult) float64 { return w.rps })
		for _, s := range servers {
			rs := results[key{req, s.name}]
			if len(rs) == 0 {
				continue
			}
			rps := func(w wrkResult) float64 { return w.rps }
			errs := 0
			for _, w := range rs {
				errs += w.errors
			}
			fmt.Printf("| %s | %s | %.0f / %.0f / %.0f | %.2f | %d | %.2f× | %.0f | %.0f |\n", req, s.name,
				minOf(rs, rps), median(rs, rps), maxOf(rs, rps),
				median(rs, func(w wrkResult) float64 { return w.p99ms }), errs, median(rs, rps)/floorMed,
				median(rs, func(w wrkResult) float64 { return w.serverCPUus }),
				median(rs, func(w wrkResult) float64 { return w.pgCPUus }))
		}
	}
	if base := results[key{"PUT", "baseline"}]; len(base) > 0 {
		rps := func(w wrkResult) float64 { return w.rps }
		for _, req := range []string{"GET", "PUT"} {
			if b := results[key{req, "baseline"}]; len(b) > 0 {
				fmt.Printf("\n%s: tenantform ÷ baseline %.2f×", req, median(results[key{req, "tenantform"}], rps)/median(b, rps))
			}
		}
		fmt.Println()
	}
	if own := results[key{"PUT", "floor on projects"}]; len(own) > 0 {
		rps := func(w wrkResult) float64 { return w.rps }
		tfMed := median(results[key{"PUT", "tenantform"}], rps)
		fmt.Printf("\nPUT: tenantform ÷ floor on projects %.2f× (what tenantform's code adds); floor on projects ÷ floor %.2f× (what its table adds)\n",
			tfMed/median(own, rps), median(own, rps)/median(results[key{"PUT", "floor"}], rps))
	}
	return nil
}

// serveProcess is one `tenantform serve` under measurement.
type serveProcess struct {
	name, url, log string
	cmd            *exec.Cmd
}

// startServe builds tenantform from the source tree src and starts
// `tenantform serve` with its default logging.
func startServe(dir, name, src, dbURL string, dbConns int) (*serveProcess, error) {
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, "./cmd/tenantform")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s from %s: %v\n%s", name, src, err, out)
	}
	port, metricsPort := freePort(), freePort()
	serve := exec.Command(bin, "serve")
	serve.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port), "METRICS_PORT="+strconv.Itoa(metricsPort),
		"DATABASE_URL="+dbURL, "JWT_SECRET="+secret,
		"DB_MAX_CONNS="+strconv.Itoa(dbConns),
		// The per-user rate limit would measure itself, not the server.
		"RATE_LIMIT_RPS=1000000", "RATE_LIMIT_BURST=100000",
		"MAX_PROJECTS_PER_USER=1000")
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	serve.Stdout, serve.Stderr = logFile, logFile
	if err := serve.Start(); err != nil {
		return nil, err
	}
	return &serveProcess{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logPath, cmd: serve}, nil
}

func (p *serveProcess) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
}

// getLua reads one project; putLua writes a changed spec (a new comment
// each time, so every PUT is a real change) to 8,000 existing keys
// (seedSQL) in turn, each wrk thread its own sequence.
const getLua = `wrk.headers["Authorization"] = "Bearer %s"`

const putLua = `
local token = "%s"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
function request()
  n = n + 1
  local i = n * 7 + tid
  local path = string.format("/api/v1/users/u%%d/projects/p%%d", i %% 200, math.floor(i / 200) %% 40)
  local body = string.format('{"files":{"main.tf":"resource \\"terraform_data\\" \\"x\\" {}\\n# revision %%d of thread %%d\\n"}}', n, tid)
  return wrk.format("PUT", path, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
`

// seedSQL creates the putLua keys (users u0…u199, projects p0…p39) in
// tenantform's table and in the floor's.
const seedSQL = `
INSERT INTO projects (user_id, project_id, spec, created_at, updated_at, expires_at, due_at)
SELECT 'u' || u, 'p' || p,
	'{"region": "us-east-1", "files": {"main.tf": "resource \"terraform_data\" \"x\" {}\n"}, "ttlMinutes": 60, "maxMonthlyCostUSD": 50}',
	now(), now(), now() + interval '1 hour', now()
FROM generate_series(0, 199) u, generate_series(0, 39) p
ON CONFLICT DO NOTHING;
INSERT INTO floor_projects (user_id, project_id, spec)
SELECT 'u' || u, 'p' || p, '{}' FROM generate_series(0, 199) u, generate_series(0, 39) p
ON CONFLICT DO NOTHING`

type wrkResult struct {
	rps, p50ms, p99ms float64
	errors            int
	// CPU per request of the server's process and of PostgreSQL's.
	serverCPUus, pgCPUus float64
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctRe    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	sockRe   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(threads, conns int, d time.Duration, script, url string) (wrkResult, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var res wrkResult
	m := rpsRe.FindStringSubmatch(s)
	if m == nil {
		return res, fmt.Errorf("no Requests/sec in wrk's output:\n%s", s)
	}
	res.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range pctRe.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		switch p[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if p[1] == "50" {
			res.p50ms = v
		} else {
			res.p99ms = v
		}
	}
	if m := non2xxRe.FindStringSubmatch(s); m != nil {
		res.errors, _ = strconv.Atoi(m[1])
	}
	if m := sockRe.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			res.errors += n
		}
	}
	return res, nil
}

func putOne(base, token string) error {
	body := `{"files":{"main.tf":"resource \"terraform_data\" \"x\" {}\n"}}`
	req, _ := http.NewRequest("PUT", base+"/api/v1/users/alice/projects/demo", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("seeding alice/demo: %s", resp.Status)
	}
	return nil
}

func waitHealthy(url string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy within a minute", url)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func median(rs []wrkResult, f func(wrkResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func minOf(rs []wrkResult, f func(wrkResult) float64) float64 {
	m := f(rs[0])
	for _, r := range rs[1:] {
		m = min(m, f(r))
	}
	return m
}

func maxOf(rs []wrkResult, f func(wrkResult) float64) float64 {
	m := f(rs[0])
	for _, r := range rs[1:] {
		m = max(m, f(r))
	}
	return m
}
