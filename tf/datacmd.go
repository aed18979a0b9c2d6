package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"
)

// Terraform commands start here, not through terraform-exec. tfexec runs
// `terraform version` before most commands (its compatibility checks, cached
// per tfexec.Terraform, which is per command), and strips TF_WORKSPACE from
// the environment: with it, a new project cost 10 terraform processes where
// the workflow needs 4 (init, plan, show, apply). Building the few argument
// lists the engine uses is simpler than working around either.
//
// Commands whose stdout is a JSON document for the engine (show -json)
// copy it in chunks into a buffer bounded by Config.OutputLimitBytes, and a
// process crossing it is killed at once, with its process group (tfexec
// reads a line at a time, and `show -json` prints its whole document on
// one line: a plan holding a 1 GB value would be read whole into this
// process before any limit saw a byte of it).

// dataCommand runs `terraform args...` and returns its stdout. Stderr goes
// to the run log; limits and errors are reported as for every command.
func (r *run) dataCommand(op string, args ...string) ([]byte, error) {
	out, _, err := r.direct(op, stdoutData, args...)
	return out, err
}

// direct runs `terraform args...` through the supervisor of its process
// group (procgroup.go), which sets its limits and sandbox. stdout is
// handled as mode says; stderr goes to the run log and is returned
// (redacted) for callers that must recognise a message. On failure the
// error is a *CommandError, or a *LimitError when the command hit one of
// the engine's limits.
func (r *run) direct(op string, mode stdoutMode, args ...string) ([]byte, string, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, "", r.stopped(op, err)
	}
	pidFile, err := r.e.newPidFile()
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(pidFile)

	cmdCtx, cancelCmd := context.WithCancelCause(r.ctx)
	defer cancelCmd(nil)
	guard := &outputGuard{limit: r.e.cfg.OutputLimitBytes, cancel: cancelCmd}

	env, done, err := r.processEnv(op, pidFile)
	if err != nil {
		return nil, "", err
	}
	defer done()
	cmd := exec.CommandContext(cmdCtx, r.e.supervisor, args...)
	cmd.Args[0] = "terraform"
	cmd.Dir = r.dir
	cmd.Env = dataCommandEnv(env)
	// The supervisor leads its own process group (which terraform and the
	// providers join), and dies with this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A cancelled command gets SIGINT: the supervisor passes it to
	// terraform's whole process group and kills the group StopGrace later,
	// so terraform can stop gracefully and release its state lock. This
	// happens at the operation deadline, on cancellation, and when the
	// output limit is crossed. cmd.WaitDelay kills a little later, in case
	// the supervisor itself hangs.
	cmd.Cancel = func() error {
		if mode == stdoutData && errors.Is(context.Cause(cmdCtx), errOutputLimit) {
			// Reading holds no lock worth a graceful stop.
			return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = r.e.cfg.StopGrace + supervisorSlack

	var (
		stdout bytes.Buffer
		stderr strings.Builder
		outW   *lineWriter
		uiW    *jsonUIWriter
		diags  diagnosticSet
	)
	errW := r.log.stream(&stderr)
	cmd.Stderr = guardedWriter{g: guard, w: errW}
	switch mode {
	case stdoutLog:
		outW = r.log.stream(nil)
		cmd.Stdout = guardedWriter{g: guard, w: outW}
	case stdoutData:
		cmd.Stdout = guardedWriter{g: guard, w: &stdout}
	case stdoutJSONUI:
		uiW = &jsonUIWriter{log: r.log, diags: &diags}
		cmd.Stdout = guardedWriter{g: guard, w: uiW}
	}

	start := time.Now()
	stopReaper := groupReaper(cmdCtx, r.e.cfg.StopGrace, pidFile)
	err = cmd.Run()
	stopReaper()
	errW.Close()
	if outW != nil {
		outW.Close()
	}
	if uiW != nil {
		uiW.Close()
	}
	r.e.log.Debug("terraform command",
		zap.String("workdir", filepath.Base(r.dir)), zap.String("op", r.op), zap.String("command", op),
		zap.Duration("took", time.Since(start)), zap.Bool("ok", err == nil))
	if err == nil && isOutOfMemory(stderr.String()) {
		// A Go program that runs out of memory may still exit with a
		// status the caller could take for success.
		err = errors.New("terraform aborted: out of memory")
	}
	if err != nil {
		return nil, stderr.String(), r.commandFailed(op, err, cmdCtx, stderr.String(), diags.all())
	}
	return stdout.Bytes(), stderr.String(), nil
}

// dataCommandEnv is the environment tfexec would give the command: the
// command's (processEnv), plus tfexec's fixed automation and logging
// variables.
func dataCommandEnv(cmdEnv map[string]string) []string {
	env := make([]string, 0, len(cmdEnv)+8)
	for k, v := range cmdEnv {
		env = append(env, k+"="+v)
	}
	return append(env,
		"TF_IN_AUTOMATION=1",
		"TF_LOG=", "TF_LOG_CORE=", "TF_LOG_PATH=", "TF_LOG_PROVIDER=",
		"TF_APPEND_USER_AGENT=tenantform",
	)
}

// showPlan is `terraform show -json PLANFILE`.
func (r *run) showPlan(file string) (*tfjson.Plan, error) {
	out, err := r.dataCommand("show", "show", "-json", "-no-color", file)
	if err != nil {
		return nil, err
	}
	var p tfjson.Plan
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, fmt.Errorf("tf: reading the plan's JSON: %w", err)
	}
	return &p, nil
}

// showState is `terraform show -json` of the selected workspace's state.
func (r *run) showState() (*tfjson.State, error) {
	out, err := r.dataCommand("show", "show", "-json", "-no-color")
	if err != nil {
		return nil, err
	}
	var st tfjson.State
	st.UseJSONNumber(true)
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("tf: reading the state's JSON: %w", err)
	}
	return &st, nil
}
