package tf

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/tenantform/tenantform/tf/supervisor"
)

// Every terraform command is started through the supervisor (package
// tf/supervisor, which explains what it does): the small
// tenantform-tf-supervisor binary when the engine finds one (Config.
// SupervisorPath, or beside the running binary), else a re-exec of this
// very binary (the tenantform server, or a test binary: anything that
// links this package), whose init below runs the supervisor instead of
// main.
//
//	engine ── tfexec (Setpgid) ──▶ supervisor ──▶ /bin/sh (ulimit) ═exec═▶ terraform ──▶ providers

func init() {
	// Before main (or a test binary's TestMain): an engine sets the
	// variable only in the environment of the processes it starts.
	supervisor.RunIfAsked()
}

// selfExe is the supervisor when there is no separate one. /proc/self/exe
// is this binary even when the file was replaced or deleted since it
// started (a deploy).
const selfExe = "/proc/self/exe"

// SupervisorBinary is the name of the separate supervisor binary, which
// the engine looks for beside the binary it runs in.
const SupervisorBinary = supervisor.Binary

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
	spec := supervisor.Spec{
		Protocol:   supervisor.Protocol,
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
	env[supervisor.Env] = string(b)
	return env, done, nil
}

// newPidFile names the file the supervisor of one command writes its
// process id into, which the engine reads to kill the command's group
// (groupReaper). It is in the engine's temporary root, outside every
// workdir and every command's own TMPDIR: a tenant's terraform may write
// those, and must not name another process group for the engine to kill.
func (e *Engine) newPidFile() (string, error) {
	f, err := os.CreateTemp(e.tmpRoot, "pid-")
	if err != nil {
		return "", fmt.Errorf("tf: pid file: %w", err)
	}
	f.Close()
	return f.Name(), nil
}
