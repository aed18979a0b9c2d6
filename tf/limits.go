package tf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits of every terraform process. Tenant configuration is hostile: a few
// hundred bytes of built-in functions can burn CPU for hours, allocate
// gigabytes or print gigabytes, and the policy cannot see it because the
// cost appears only when terraform evaluates the configuration. Every limit
// is hard: a run that hits one fails with a *LimitError and is not retried
// until the spec changes.
const (
	// DefaultOperationTimeout bounds one engine operation (Plan, Apply,
	// Destroy, ...: init, the workspace's row and the command itself).
	DefaultOperationTimeout = 10 * time.Minute
	// DefaultMemoryLimitMB is the address-space limit (RLIMIT_AS) of each
	// terraform and provider process. It is address space, not resident
	// memory: Go programs reserve far more than they touch. Measured with
	// terraform 1.11.4 on linux/amd64: terraform alone peaks at 1.3-1.5 GB
	// of address space (60-230 MB resident) for a normal plan, and the aws
	// provider 5.100 at 2.05 GB (620 MB resident) planning one bucket. 4 GB
	// leaves the provider room for large projects while a memory bomb in
	// terraform stops at about 2.5 GB resident.
	DefaultMemoryLimitMB = 4096
	// DefaultCPULimit is the CPU time (RLIMIT_CPU, user+system) each
	// terraform and provider process may use. A normal plan or apply uses
	// seconds; the limit stops evaluation bombs that would hold a worker for
	// hours even when the deadline is generous.
	DefaultCPULimit = 600 * time.Second
	// DefaultOutputLimitBytes bounds what one terraform process may print
	// (stdout and stderr together, including the JSON the engine reads back:
	// the plan's `show -json`, `output -json`). Measured: a plan creating
	// 4000 terraform_data instances prints 1.6 MB (plan -json) and 2.3 MB
	// (show -json); its planfile is 35 kB.
	DefaultOutputLimitBytes = 16 << 20
	// DefaultMaxPlanBytes bounds a saved plan file (Plan.Bytes), which the
	// reconciler stores in the database.
	DefaultMaxPlanBytes = 8 << 20
	// DefaultMaxOutputBytes and DefaultMaxOutputsTotalBytes bound the
	// output values Outputs returns, each and together.
	DefaultMaxOutputBytes       = 64 << 10
	DefaultMaxOutputsTotalBytes = 256 << 10
)

// Names of the limits in LimitError.Limit.
const (
	LimitMemory   = "memory"
	LimitCPU      = "cpu"
	LimitDeadline = "deadline"
	LimitOutput   = "output"
	LimitPlanSize = "plan size"
)

// LimitError is a terraform run stopped because it hit one of the engine's
// hard limits. It is terminal for the spec that caused it: the same
// configuration would hit the same limit again.
type LimitError struct {
	// Limit is LimitMemory, LimitCPU, LimitDeadline, LimitOutput or
	// LimitPlanSize.
	Limit string
	// Value is the limit's value as the operator configured it
	// ("4096 MB", "600s", "10m0s", "16777216 bytes").
	Value string
	// Op is the terraform command that was stopped ("plan", "apply", ...).
	Op string
	// Cmd is the failed command (diagnostics and log tail); nil when no
	// command failed (plan size).
	Cmd *CommandError
}

func (e *LimitError) Error() string {
	msg := fmt.Sprintf("terraform %s exceeded the %s limit (%s)", e.Op, e.Limit, e.Value)
	switch e.Limit {
	case LimitMemory:
		msg += ": the configuration needs more memory than a run may use"
	case LimitCPU:
		msg += ": the configuration needs more CPU time than a run may use"
	case LimitDeadline:
		msg += ": the operation took longer than a run may take"
	case LimitOutput:
		msg += ": terraform printed more than a run may print"
	case LimitPlanSize:
		msg += ": the saved plan is larger than a plan may be"
	}
	return msg
}

// Unwrap gives access to the command's diagnostics and log tail. It never
// leads to context.DeadlineExceeded or context.Canceled: a limit is not a
// cancellation by the caller.
func (e *LimitError) Unwrap() error {
	if e.Cmd == nil {
		return nil
	}
	return e.Cmd
}

// errDeadline and errOutputLimit are the causes of contexts the engine
// cancels itself, to tell its own limits from a caller's cancellation.
var (
	errDeadline    = errors.New("operation deadline")
	errOutputLimit = errors.New("output limit")
)

func cpuSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// outputGuard counts what one terraform process prints. Past the limit it
// cancels the command's context (tfexec sends SIGINT, and kills after
// StopGrace) and refuses further writes, so that tfexec stops reading the
// pipes: a process that floods its output blocks instead of growing
// anybody's buffers.
type outputGuard struct {
	mu     sync.Mutex
	n      int64
	limit  int64 // <= 0: none
	cancel context.CancelCauseFunc
	hit    bool
}

func (g *outputGuard) add(n int) error {
	if g == nil || g.limit <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += int64(n)
	if g.n > g.limit {
		if !g.hit {
			g.hit = true
			g.cancel(errOutputLimit)
		}
		return errOutputLimit
	}
	return nil
}

// guardedWriter passes writes to w until the guard's limit is crossed.
type guardedWriter struct {
	g *outputGuard
	w interface{ Write([]byte) (int, error) }
}

func (w guardedWriter) Write(p []byte) (int, error) {
	if err := w.g.add(len(p)); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// limitHit decides whether a failed command was stopped by one of the
// engine's limits, and which. opCtx is the operation's context (carrying
// the deadline), cmdCtx the command's (cancelled by the output guard).
func (r *run) limitHit(opCtx, cmdCtx context.Context, err error, stderr string) (limit, value string) {
	cfg := r.e.cfg
	switch {
	case errors.Is(context.Cause(cmdCtx), errOutputLimit):
		return LimitOutput, fmt.Sprintf("%d bytes", cfg.OutputLimitBytes)
	case errors.Is(context.Cause(opCtx), errDeadline):
		return LimitDeadline, cfg.OperationTimeout.String()
	case opCtx.Err() != nil:
		return "", "" // cancelled by the caller
	}
	if cfg.MemoryLimitMB > 0 && isOutOfMemory(stderr) {
		return LimitMemory, fmt.Sprintf("%d MB", cfg.MemoryLimitMB)
	}
	var exitErr *exec.ExitError
	if cfg.CPULimit > 0 && errors.As(err, &exitErr) {
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		if ok && ws.Signaled() && (ws.Signal() == syscall.SIGKILL || ws.Signal() == syscall.SIGXCPU) {
			// The kernel kills a process at its RLIMIT_CPU. Nobody else
			// in the engine sends SIGKILL without cancelling a context;
			// the CPU time used tells it from the host's OOM killer.
			if ru, ok := exitErr.SysUsage().(*syscall.Rusage); ok {
				used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				if used >= cfg.CPULimit*9/10 {
					return LimitCPU, fmt.Sprintf("%ds", cpuSeconds(cfg.CPULimit))
				}
			}
		}
	}
	return "", ""
}

// isOutOfMemory recognises a Go program (terraform or a provider) that
// could not get memory under RLIMIT_AS: the runtime aborts with "fatal
// error: out of memory" or "runtime: out of memory", and mmap fails with
// "cannot allocate memory".
func isOutOfMemory(stderr string) bool {
	return strings.Contains(stderr, "fatal error: out of memory") ||
		strings.Contains(stderr, "runtime: out of memory") ||
		strings.Contains(stderr, "cannot allocate memory")
}

func (c *Config) setLimitDefaults() {
	if c.OperationTimeout <= 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.MemoryLimitMB <= 0 {
		c.MemoryLimitMB = DefaultMemoryLimitMB
	}
	if c.CPULimit <= 0 {
		c.CPULimit = DefaultCPULimit
	}
	if c.OutputLimitBytes <= 0 {
		c.OutputLimitBytes = DefaultOutputLimitBytes
	}
	if c.MaxPlanBytes <= 0 {
		c.MaxPlanBytes = DefaultMaxPlanBytes
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxOutputsTotalBytes <= 0 {
		c.MaxOutputsTotalBytes = DefaultMaxOutputsTotalBytes
	}
}

// killProcessGroup kills what is left of a terraform that died from a
// signal: SIGKILL at the end of StopGrace, the kernel's at RLIMIT_CPU. The
// providers it started would otherwise live on, orphaned, each with its
// own memory and CPU allowance. tfexec starts terraform as the leader of a
// new process group (Setpgid) and providers stay in it. Linux does not
// reuse a process id while a process group of that id has members, so the
// group id cannot name anybody else's processes while any are left.
func killProcessGroup(err error) {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ProcessState == nil {
		return
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return
	}
	if pid := exitErr.Pid(); pid > 1 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// groupReaper kills a stopped command's process group if the command has
// not returned StopGrace after its context ended. exec.Cmd kills terraform
// itself at StopGrace (WaitDelay), but tfexec waits for the end of
// terraform's output before it reaps the process, and anything terraform
// started that inherited the output (a provisioner's shell, a hung child)
// keeps it open: without this, the command would never return. Until it
// is reaped the killed terraform stays a zombie, so its process id, the
// group's id, cannot have been reused.
func groupReaper(cmdCtx context.Context, grace time.Duration, pidFile string) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-cmdCtx.Done():
		}
		t := time.NewTimer(grace + 500*time.Millisecond)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}()
	return func() { close(done) }
}
