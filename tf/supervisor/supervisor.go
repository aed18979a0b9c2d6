// Package supervisor is the process between the engine and every
// terraform command, so that no terraform or provider process outlives its
// reconciler and every one runs under the engine's limits and sandbox:
//
//		engine ── tfexec (Setpgid) ──▶ supervisor ──▶ /bin/sh (ulimit) ═exec═▶ terraform ──▶ providers
//
//	  - The supervisor leads the command's process group, which terraform
//	    and its providers join. It holds no limit itself. On SIGINT
//	    (tfexec's cancellation: deadline, cancel, shutdown) it sends SIGINT
//	    to the whole group, so terraform stops gracefully, and SIGKILL to
//	    the group StopGrace later. It asks the kernel for SIGTERM when the
//	    engine's process dies (PR_SET_PDEATHSIG) and then does the same: a
//	    `kill -9` of the reconciler ends its terraform and providers within
//	    StopGrace. It is a child subreaper: when terraform exits, whatever
//	    it left behind (providers, even ones that left the group) becomes
//	    the supervisor's child and is killed before the supervisor exits
//	    with terraform's own status.
//	  - It starts terraform from one thread, locked to its goroutine for the
//	    supervisor's whole life, which it first puts under Landlock (the
//	    restriction of a thread is inherited by the processes it forks; the
//	    supervisor's other threads stay free to kill and reap). The child is
//	    `/bin/sh -c 'ulimit -v …; ulimit -t …; exec terraform "$@"'`: the
//	    limits (soft and hard alike, so terraform cannot raise them) are in
//	    place before terraform's first instruction, exec keeps the process
//	    id, and every provider inherits limits and sandbox. A shell rather
//	    than a second Go program: it starts in a millisecond.
//
// A process's parent-death signal fires when the *thread* that forked it
// exits: terraform's is tied to that locked thread. The engine's own
// threads are the Go runtime's, which do not exit; should one ever, the
// supervisor sees that its parent is still there and keeps going.
//
// The supervisor is either its own small binary,
// cmd/tenantform-tf-supervisor, which deployments install beside
// tenantform, or a re-exec of the binary that links package tf (the
// tenantform server without it, a test binary), whose init calls
// RunIfAsked. Around a command that does nothing the small binary adds
// 7 ms, the server 15 ms (the init of every package it links, the AWS
// SDK's service schemas first; BenchmarkSupervisorStart on a quiet
// machine): a new project's three terraform commands pay that three
// times. This package therefore imports little.
package supervisor

import (
	"encoding/json"
	"fmt"
	"io"
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

// Binary is the name of the supervisor's own binary
// (cmd/tenantform-tf-supervisor), which deployments install beside
// tenantform and the engine looks for there.
const Binary = "tenantform-tf-supervisor"

// Env holds the supervisor's instructions (a Spec in JSON); it removes it
// before it starts anything, so terraform never sees it.
const Env = "TENANTFORM_TF_SUPERVISE"

// Protocol is the version of Spec and Rules. The engine sends it and the
// supervisor runs nothing unless it is its own, so that an engine and a
// supervisor of different builds (a binary replaced beside a running
// reconciler) never read a field with a meaning the other does not share.
// Change it with any change of meaning.
const Protocol = 1

// Spec is what the engine tells the supervisor about one command.
type Spec struct {
	// Protocol must be the supervisor's Protocol.
	Protocol int `json:"protocol"`
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
	Sandbox *Rules `json:"sandbox,omitempty"`
}

// RunIfAsked runs the supervisor and exits when this process was started
// as one (Env is set), and returns otherwise. Call it first thing: from
// main, or from the init of a package whose binary the engine re-executes.
func RunIfAsked() {
	if spec := os.Getenv(Env); spec != "" {
		os.Exit(Run(spec))
	}
}

// ExitFailed is the exit status of a supervisor that could not start
// terraform (as a shell's for a command it cannot execute).
const ExitFailed = 126

func helperError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "tenantform: "+format+"\n", args...)
	return ExitFailed
}

// Run runs the supervisor of the command in os.Args[1:] as specJSON (a
// Spec) says; its result is the exit status.
func Run(specJSON string) int {
	os.Unsetenv(Env)
	// Unknown fields are refused, not ignored, and so is anything after
	// the object; the protocol decides the meaning of the rest.
	dec := json.NewDecoder(strings.NewReader(specJSON))
	dec.DisallowUnknownFields()
	var spec Spec
	if err := dec.Decode(&spec); err != nil {
		return helperError("bad %s: %v", Env, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return helperError("bad %s: data after the object", Env)
	}
	if spec.Protocol != Protocol {
		return helperError("%s speaks protocol %d, this supervisor %d: the engine and its supervisor come from different builds", Env, spec.Protocol, Protocol)
	}
	self := os.Getpid()
	// Named for ps and top, whichever binary this is ("exe" when started
	// as /proc/self/exe).
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
		st, err := ReadProcStat(f)
		if err == nil && st.Ppid == pid {
			out = append(out, st.Pid)
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
		return ExitFailed
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
		st, err := ReadProcStat(f)
		if err == nil && st.Pgrp == pgid && st.Pid != except {
			syscall.Kill(st.Pid, sig)
		}
	}
}

// ProcStat is what the engine and the supervisor read of /proc/PID/stat.
type ProcStat struct {
	Pid, Ppid, Pgrp int
	StartTime       uint64 // clock ticks after boot
}

// ReadProcStat reads a /proc/PID/stat file.
func ReadProcStat(path string) (ProcStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ProcStat{}, err
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ...; comm may hold spaces and parentheses.
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return ProcStat{}, fmt.Errorf("%s: malformed", path)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return ProcStat{}, fmt.Errorf("%s: %w", path, err)
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 20 {
		return ProcStat{}, fmt.Errorf("%s: malformed", path)
	}
	st := ProcStat{Pid: pid}
	st.Ppid, _ = strconv.Atoi(f[1])
	st.Pgrp, _ = strconv.Atoi(f[2])
	st.StartTime, _ = strconv.ParseUint(f[19], 10, 64)
	return st, nil
}
