//go:build crash || crashshort

package crash

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Linux /proc helpers: the process tree of a reconciler, the process that
// owns a TCP connection, and how long a killed reconciler's terraform
// processes live on.

type proc struct {
	pid   int
	comm  string
	start string // start time in clock ticks, to tell a reused pid
}

// stat reads /proc/pid/stat: comm, ppid and the start time.
func stat(pid int) (comm string, ppid int, start string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, "", false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", 0, "", false
	}
	comm = s[open+1 : close]
	f := strings.Fields(s[close+1:])
	if len(f) < 20 {
		return "", 0, "", false
	}
	if f[0] == "Z" {
		return comm, 0, "", false // a zombie is gone
	}
	ppid, _ = strconv.Atoi(f[1])
	return comm, ppid, f[19], true
}

func parentPID(pid int) int {
	_, ppid, _, ok := stat(pid)
	if !ok {
		return 0
	}
	return ppid
}

// descendants returns every process below pid.
func descendants(pid int) []proc {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]proc{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, start, ok := stat(p)
		if ok {
			children[ppid] = append(children[ppid], proc{pid: p, comm: comm, start: start})
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

func (p proc) alive() bool {
	_, _, start, ok := stat(p.pid)
	return ok && start == p.start
}

// isTerraform: terraform itself or one of its providers.
func (p proc) isTerraform() bool {
	return p.comm == "terraform" || strings.HasPrefix(p.comm, "terraform-") // comm is cut at 15 characters
}

// connectionOwner returns the pid of the process whose TCP connection
// comes from remoteAddr (a client of this process's listener at
// localPort), or 0.
func connectionOwner(remoteAddr string, localPort int) int {
	host, port, err := net.SplitHostPort(remoteAddr)
	if err != nil || host != "127.0.0.1" {
		return 0
	}
	clientPort, _ := strconv.Atoi(port)
	inode := ""
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			if hexPort(fields[1]) == clientPort && hexPort(fields[2]) == localPort {
				inode = fields[9]
			}
		}
		f.Close()
	}
	if inode == "" || inode == "0" {
		return 0
	}
	want := "socket:[" + inode + "]"
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == want {
				return pid
			}
		}
	}
	return 0
}

func hexPort(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(p, 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}

// survivorWatch follows the terraform processes of killed reconcilers:
// how many outlived their parent, and for how long.
type survivorWatch struct {
	mu      sync.Mutex
	kills   []*killRecord
	quit    chan struct{}
	stopped sync.Once
}

type killRecord struct {
	window   string
	procs    []proc
	killedAt time.Time
	// gone is when each process was last seen dead (zero: alive).
	gone []time.Time
}

func newSurvivorWatch() *survivorWatch {
	s := &survivorWatch{quit: make(chan struct{})}
	go s.poll()
	return s
}

// watch starts following tree's terraform processes; it returns how many
// there were.
func (s *survivorWatch) watch(window string, tree []proc) int {
	var tfs []proc
	for _, p := range tree {
		if p.isTerraform() {
			tfs = append(tfs, p)
		}
	}
	s.mu.Lock()
	s.kills = append(s.kills, &killRecord{window: window, procs: tfs, killedAt: time.Now(), gone: make([]time.Time, len(tfs))})
	s.mu.Unlock()
	return len(tfs)
}

func (s *survivorWatch) poll() {
	for {
		select {
		case <-s.quit:
			return
		case <-time.After(500 * time.Millisecond):
		}
		s.mu.Lock()
		for _, k := range s.kills {
			for i, p := range k.procs {
				if k.gone[i].IsZero() && !p.alive() {
					k.gone[i] = time.Now()
				}
			}
		}
		s.mu.Unlock()
	}
}

func (s *survivorWatch) stop() { s.stopped.Do(func() { close(s.quit) }) }

// survivorFigures: terraform processes the killed reconcilers had, how
// many were still alive 10 s after the kill, how many are alive now, and
// the longest any lived after its parent's kill.
type survivorFigures struct {
	processes, after10s, aliveNow int
	longest                       time.Duration
}

func (s *survivorWatch) figures() survivorFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f survivorFigures
	now := time.Now()
	for _, k := range s.kills {
		for i := range k.procs {
			f.processes++
			end := k.gone[i]
			if end.IsZero() {
				f.aliveNow++
				end = now
			}
			lived := end.Sub(k.killedAt)
			if lived > 10*time.Second {
				f.after10s++
			}
			f.longest = max(f.longest, lived)
		}
	}
	return f
}

// killAll ends what is left of the killed reconcilers' processes (at the
// end of the suite, after the figures were taken).
func (s *survivorWatch) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kills {
		for _, p := range k.procs {
			if p.alive() {
				syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	}
}
