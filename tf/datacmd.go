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

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"go.uber.org/zap"
)

// Commands whose stdout is a JSON document for the engine (show -json,
// output -json) do not go through terraform-exec. tfexec reads stdout a
// line at a time (bufio ReadBytes) and `show -json` prints its whole
// document on one line, so a plan holding a 1 GB value would be read whole
// into this process before any limit saw a byte of it. Here stdout is
// copied in chunks into a buffer bounded by Config.OutputLimitBytes, and a
// process crossing it is killed at once, with its process group.

// dataCommand runs `terraform args...` and returns its stdout. Stderr goes
// to the run log; limits and errors are reported as for every command.
func (r *run) dataCommand(op string, args ...string) ([]byte, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, r.stopped(op, err)
	}
	pidFile := filepath.Join(r.dir, privateDir, fmt.Sprintf("pid-%d", r.e.commands.Add(1)))
	os.MkdirAll(filepath.Dir(pidFile), 0o700)
	defer os.Remove(pidFile)

	cmdCtx, cancelCmd := context.WithCancelCause(r.ctx)
	defer cancelCmd(nil)
	guard := &outputGuard{limit: r.e.cfg.OutputLimitBytes, cancel: cancelCmd}

	env, done, err := r.processEnv(op, pidFile)
	if err != nil {
		return nil, err
	}
	defer done()
	cmd := exec.CommandContext(cmdCtx, selfExe, args...)
	cmd.Args[0] = "terraform"
	cmd.Dir = r.dir
	cmd.Env = dataCommandEnv(env)
	// As tfexec does: the supervisor leads its own process group (which
	// terraform and the providers join), and dies with this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if errors.Is(context.Cause(cmdCtx), errOutputLimit) {
			// Reading holds no lock worth a graceful stop.
			return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = r.e.cfg.StopGrace + supervisorSlack
	var stdout bytes.Buffer
	var stderr strings.Builder
	errW := r.log.stream(&stderr)
	cmd.Stdout = guardedWriter{g: guard, w: &stdout}
	cmd.Stderr = guardedWriter{g: guard, w: errW}

	start := time.Now()
	stopReaper := groupReaper(cmdCtx, r.e.cfg.StopGrace, pidFile)
	err = cmd.Run()
	stopReaper()
	errW.Close()
	r.e.log.Debug("terraform command",
		zap.String("workdir", filepath.Base(r.dir)), zap.String("op", r.op), zap.String("command", op),
		zap.Duration("took", time.Since(start)), zap.Bool("ok", err == nil))
	if err != nil {
		return nil, r.commandFailed(op, err, cmdCtx, stderr.String(), nil)
	}
	return stdout.Bytes(), nil
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

// outputs is `terraform output -json`.
func (r *run) outputs() (map[string]tfexec.OutputMeta, error) {
	out, err := r.dataCommand("output", "output", "-json", "-no-color")
	if err != nil {
		return nil, err
	}
	metas := map[string]tfexec.OutputMeta{}
	if err := json.Unmarshal(out, &metas); err != nil {
		return nil, fmt.Errorf("tf: reading the outputs' JSON: %w", err)
	}
	return metas, nil
}
