package tf

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every terraform command is started through a re-exec of this very binary
// (the tenantform server, or a test binary: anything that links this
// package), so that no terraform or provider process outlives its
// reconciler and every one runs under the engine's limits and sandbox:
//
//	engine ── tfexec (Setpgid) ──▶ supervisor ──▶ /bin/sh (ulimit) ═exec═▶ terraform ──▶ providers
//
//   - The supervisor leads the command's process group, which terraform
//     and its providers join. It holds no limit itself. On SIGINT
//     (tfexec's cancellation: deadline, cancel, shutdown) it sends SIGINT
//     to the whole group, so terraform stops gracefully, and SIGKILL to
//     the group StopGrace later. It asks the kernel for SIGTERM when the
//     engine's process dies (PR_SET_PDEATHSIG) and then does the same: a
//     `kill -9` of the reconciler ends its terraform and providers within
//     StopGrace. It is a child subreaper: when terraform exits, whatever
//     it left behind (providers, even ones that left the group) becomes
//     the supervisor's child and is killed before the supervisor exits
//     with terraform's own status.
//   - It starts terraform from one thread, locked to its goroutine for the
//     supervisor's whole life, which it first puts under Landlock (the
//     restriction of a thread is inherited by the processes it forks; the
//     supervisor's other threads stay free to kill and reap). The child is
//     `/bin/sh -c 'ulimit -v …; ulimit -t …; exec terraform "$@"'`: the
//     limits (soft and hard alike, so terraform cannot raise them) are in
//     place before terraform's first instruction, exec keeps the process
//     id, and every provider inherits limits and sandbox. A shell rather
//     than a second re-exec of this binary: it starts in a millisecond.
//
// A process's parent-death signal fires when the *thread* that forked it
// exits: terraform's is tied to that locked thread. The engine's own
// threads are the Go runtime's, which do not exit; should one ever, the
// supervisor sees that its parent is still there and keeps going.

// superviseEnv holds the supervisor's instructions (helperSpec); it
// removes it before it starts anything, so terraform never sees it.
const superviseEnv = "TENANTFORM_TF_SUPERVISE"

// selfExe starts the supervisor. /proc/self/exe is this binary even when the
// file was replaced or deleted since it started (a deploy).
const selfExe = "/proc/self/exe"

// helperSpec is what the engine tells the supervisor about one command.
type helperSpec struct {
	// Terraform is the binary to run.
	Terraform string `json:"terraform"`
	// MemoryMB and CPUSeconds are RLIMIT_AS and RLIMIT_CPU; 0 sets none.
	MemoryMB   int   `json:"memory_mb,omitempty"`
	CPUSeconds int64 `json:"cpu_seconds,omitempty"`
	// Grace is how long the group gets between SIGINT and SIGKILL.
	Grace time.Duration `json:"grace"`
	// Parent is the engine's process id: when the supervisor's parent is
	// no longer this process, the engine is dead.
	Parent int `json:"parent"`
	// PidFile receives the supervisor's process id, the group's id.
	PidFile string `json:"pid_file,omitempty"`
	// Sandbox is nil when the command runs unsandboxed.
	Sandbox *sandboxRules `json:"sandbox,omitempty"`
}

func init() {
	// The supervisor runs here, before main (or a test binary's
	// TestMain): an engine sets the variable only in the environment of
	// the processes it starts from this binary.
	if spec := os.Getenv(superviseEnv); spec != "" {
		os.Exit(supervise(spec))
	}
}

// helperFailed is the exit status of a supervisor that could not start
// terraform (as a shell's for a command it cannot execute).
const helperFailed = 126

func helperError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "tenantform: "+format+"\n", args...)
	return helperFailed
}

// supervise runs the supervisor; its result is the exit status.
func supervise(specJSON string) int {
	os.Unsetenv(superviseEnv)
	var spec helperSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return helperError("bad %s: %v", superviseEnv, err)
	}
	self := os.Getpid()
	// Named for ps and top (the binary is "exe", /proc/self/exe).
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("tf-supervisor\x00")[0])), 0, 0, 0)
	// SIGTERM (not tfexec's SIGKILL) on the engine's death, so that the
	// group can be stopped. Set first, then check that the engine did not
	// die before: it would not be signalled any more.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return helperError("PR_SET_PDEATHSIG: %v", err)
	}
	if os.Getppid() != spec.Parent {
		return helperError("the engine (pid %d) is gone; not starting terraform", spec.Parent)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return helperError("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	if spec.PidFile != "" {
		if err := os.WriteFile(spec.PidFile, []byte(strconv.Itoa(self)+"\n"), 0o600); err != nil {
			return helperError("pid file: %v", err)
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	started := make(chan error, 1)
	exited := make(chan *os.ProcessState, 1)
	go func() {
		// Never unlocked: terraform's parent-death signal and sandbox
		// are tied to this thread, which must live as long as the
		// supervisor and run nothing else.
		runtime.LockOSThread()
		if spec.Sandbox != nil {
			if err := spec.Sandbox.restrictThread(); err != nil {
				started <- fmt.Errorf("sandbox: %w", err)
				select {}
			}
		}
		cmd := exec.Command("/bin/sh", append([]string{"-c", limitScript(spec.MemoryMB, spec.CPUSeconds), spec.Terraform}, os.Args[1:]...)...)
		cmd.Env = os.Environ()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		// Same process group as the supervisor; dies with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			select {}
		}
		started <- nil
		st, _ := cmd.Process.Wait()
		exited <- st
		select {} // keep the thread
	}()
	if err := <-started; err != nil {
		return helperError("starting terraform: %v", err)
	}

	interrupted := false
	var kill <-chan time.Time
	interrupt := func() {
		if interrupted {
			return
		}
		interrupted = true
		// The whole group, the supervisor too: it ignores its own copy.
		// Providers (go-plugin servers) ignore SIGINT; terraform stops
		// them when it has stopped.
		syscall.Kill(-self, syscall.SIGINT)
		kill = time.After(spec.Grace)
	}
	for {
		select {
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGINT:
				interrupt()
			case os.Getppid() != spec.Parent:
				// The engine died (the parent-death signal).
				interrupt()
			default:
				// A thread of the engine exited, or a stray
				// SIGTERM/SIGHUP while the engine lives: the
				// engine decides when terraform stops. Re-arm for
				// the engine's next thread.
				unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
				if os.Getppid() != spec.Parent {
					interrupt()
				}
			}
		case <-kill:
			// Everyone but the supervisor, which then reaps terraform
			// and what it left, and exits killed like terraform: when
			// the engine sees the command end, nothing of it is left,
			// not even a zombie.
			killGroupExcept(self, self, syscall.SIGKILL)
			kill = time.After(100 * time.Millisecond) // and anything forked meanwhile
		case st := <-exited:
			signal.Stop(sigs)
			endDescendants(self)
			return exitLike(st)
		}
	}
}

// endDescendants kills whatever terraform left behind. As a child
// subreaper the supervisor inherits every orphaned descendant, so its
// children are exactly what is left (wherever they moved their process
// group or session), and nothing else.
func endDescendants(self int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		kids := childrenOf(self)
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond) // let the kernel reparent grandchildren
	}
}

// childrenOf lists a process's children (/proc/PID/task/TID/children,
// which every kernel configured with CONFIG_PROC_CHILDREN has; else the
// parent field of every process).
func childrenOf(pid int) []int {
	var out []int
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err == nil {
		found := false
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
			if err != nil {
				continue
			}
			found = true
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					out = append(out, n)
				}
			}
		}
		if found {
			return out
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		st, err := readProcStat(f)
		if err == nil && st.ppid == pid {
			out = append(out, st.pid)
		}
	}
	return out
}

// exitLike ends the supervisor the way terraform ended: with its exit
// status, or killed by its signal (the engine tells a CPU-limit kill by
// the signal and the CPU time, which includes terraform's).
func exitLike(st *os.ProcessState) int {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok {
		return helperFailed
	}
	if !ws.Signaled() {
		return ws.ExitStatus()
	}
	sig := ws.Signal()
	// No core file in the workdir from the supervisor.
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	if sig != syscall.SIGKILL && sig != syscall.SIGSTOP {
		// The Go runtime handles most signals itself; restore the
		// kernel's default action, so that the signal ends the process.
		var sa [4]uintptr // struct sigaction: handler SIG_DFL, no flags
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	}
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	return 128 + int(sig)
}

// limitScript is the shell script that sets terraform's limits and execs
// it ($0) with its arguments. `ulimit` without -S or -H sets soft and hard
// limits alike.
func limitScript(memoryMB int, cpuSeconds int64) string {
	var b strings.Builder
	if memoryMB > 0 {
		fmt.Fprintf(&b, "ulimit -v %d || exit 126\n", memoryMB*1024) // KiB
	}
	if cpuSeconds > 0 {
		fmt.Fprintf(&b, "ulimit -t %d || exit 126\n", cpuSeconds)
	}
	b.WriteString(`exec "$0" "$@"` + "\n")
	return b.String()
}

// killGroupExcept sends sig to every member of process group pgid but
// except.
func killGroupExcept(pgid, except int, sig syscall.Signal) {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		st, err := readProcStat(f)
		if err == nil && st.pgrp == pgid && st.pid != except {
			syscall.Kill(st.pid, sig)
		}
	}
}

// procStat is what the engine reads of /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp int
	startTime       uint64 // clock ticks after boot
}

func readProcStat(path string) (procStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ...; comm may hold spaces and parentheses.
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("%s: malformed", path)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("%s: %w", path, err)
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("%s: malformed", path)
	}
	st := procStat{pid: pid}
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	st.startTime, _ = strconv.ParseUint(f[19], 10, 64)
	return st, nil
}

// supervisorSlack is how much longer than StopGrace the engine waits
// before it kills the supervisor itself (exec.Cmd.WaitDelay): the
// supervisor kills the group at StopGrace.
const supervisorSlack = 2 * time.Second

// processEnv returns the environment of one terraform command: the run's
// (buildEnv), a private TMPDIR, the owner marker, and the supervisor's
// instructions. done removes the temporary directory.
func (r *run) processEnv(op, pidFile string) (map[string]string, func(), error) {
	e := r.e
	tmp, err := os.MkdirTemp(e.tmpRoot, "")
	if err != nil {
		return nil, nil, fmt.Errorf("tf: temporary directory: %w", err)
	}
	done := func() { os.RemoveAll(tmp) }
	spec := helperSpec{
		Terraform:  e.cfg.BinaryPath,
		MemoryMB:   e.cfg.MemoryLimitMB,
		CPUSeconds: cpuSeconds(e.cfg.CPULimit),
		Grace:      e.cfg.StopGrace,
		Parent:     os.Getpid(),
		PidFile:    pidFile,
		Sandbox:    e.sandboxFor(r.dir, tmp, op == "init"),
	}
	b, err := json.Marshal(spec)
	if err != nil {
		done()
		return nil, nil, err
	}
	env := make(map[string]string, len(r.env)+3)
	for k, v := range r.env {
		env[k] = v
	}
	// Go programs (terraform, providers) put their temporary files and
	// the go-plugin handshake's unix socket here.
	env["TMPDIR"] = tmp
	env[ownerEnv] = e.owner
	env[superviseEnv] = string(b)
	return env, done, nil
}
