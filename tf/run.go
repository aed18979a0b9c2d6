package tf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/providers"
)

// run is one operation (Plan, Apply, ...) on one workdir: the environment
// and redaction of its terraform processes, the log they all write to, and
// the operation's deadline (ctx).
type run struct {
	e          *Engine
	ctx        context.Context
	cancel     context.CancelFunc
	op         string
	dir        string
	project    Project
	env        map[string]string
	red        *redactor
	log        *runLog
	initDigest string // set when the workdir was rendered
	started    time.Time
}

// newRun starts an operation. Its context carries the operation deadline
// (Config.OperationTimeout); close the run to release it.
func (e *Engine) newRun(ctx context.Context, op, dir, region string, creds *Credentials) *run {
	env := buildEnv(envSpec{
		SearchPath:    e.cfg.SearchPath,
		Home:          filepath.Join(dir, privateDir, "home"),
		CLIConfigFile: e.cliConfigFile,
		PGConnStr:     e.cfg.PGConnStr,
		Region:        region,
		Creds:         creds,
	})
	red := newRedactor(append(creds.secrets(), connSecrets(e.cfg.PGConnStr)...)...).relativeTo(dir)
	ctx, cancel := context.WithTimeoutCause(ctx, e.cfg.OperationTimeout, errDeadline)
	return &run{
		e:       e,
		ctx:     ctx,
		cancel:  cancel,
		op:      op,
		dir:     dir,
		env:     env,
		red:     red,
		log:     withSink(newRunLog(red, e.cfg.LogTailBytes), logSinkFrom(ctx)),
		started: time.Now(),
	}
}

// close releases the operation's deadline timer.
func (r *run) close() { r.cancel() }

// stdoutMode says what happens to a command's stdout.
type stdoutMode int

const (
	// stdoutLog: human-readable output, sent to the run log.
	stdoutLog stdoutMode = iota
	// stdoutData: JSON for the engine (show -json; workspace list through
	// tfexec); data never reaches the log, since it can be large and hold
	// sensitive values. It is counted against the output limit all the
	// same.
	stdoutData
	// stdoutJSONUI: terraform's machine-readable UI (-json), which
	// collects diagnostics and logs a readable line per message.
	stdoutJSONUI
)

// terraform runs one terraform command through tfexec: the rare ones
// (workspace delete), and tests'. The commands of every project's path
// (init, plan, show, apply, destroy) start with direct (datacmd.go), which
// runs no `terraform version` before them. captureStdout sends stdout to
// the run log; commands whose stdout is JSON that tfexec parses leave it
// out, since it can hold sensitive values. stderr
// is always logged. On failure the result is a *CommandError, or a
// *LimitError when the command hit one of the engine's limits; the
// command's redacted stderr is returned either way for callers that must
// recognise a message (workspace delete).
func (r *run) terraform(op string, captureStdout bool, fn func(context.Context, *tfexec.Terraform) error) (string, error) {
	mode := stdoutData
	if captureStdout {
		mode = stdoutLog
	}
	return r.command(op, mode, fn)
}

func (r *run) command(op string, mode stdoutMode, fn func(context.Context, *tfexec.Terraform) error) (string, error) {
	if err := r.ctx.Err(); err != nil {
		return "", r.stopped(op, err)
	}
	// Every process starts through the supervisor of its process group,
	// which sets its limits and sandbox (procgroup.go).
	tf, err := tfexec.NewTerraform(r.dir, r.e.supervisor)
	if err != nil {
		return "", err
	}
	pidFile, err := r.e.newPidFile()
	if err != nil {
		return "", err
	}
	defer os.Remove(pidFile)
	env, done, err := r.processEnv(op, pidFile)
	if err != nil {
		return "", err
	}
	defer done()
	// A non-nil map is the whole environment; see buildEnv.
	if err := tf.SetEnv(env); err != nil {
		return "", err
	}
	// tfexec cancels a command by sending SIGINT (cmd.Cancel) to the
	// supervisor, which passes it to terraform's whole process group and
	// kills the group StopGrace later: terraform gets StopGrace to stop
	// gracefully and release its state lock. The same happens at the
	// operation deadline and when the output limit is crossed. tfexec's
	// own kill (exec.Cmd.WaitDelay) comes a little later, in case the
	// supervisor itself hangs.
	if err := tf.SetWaitDelay(r.e.cfg.StopGrace + supervisorSlack); err != nil {
		return "", err
	}
	if op == "workspace delete" {
		// tfexec checks the version before this command; doing it here,
		// before stdout is captured, keeps the version JSON out of the log.
		if _, _, err := tf.Version(r.ctx, false); err != nil {
			if r.ctx.Err() != nil {
				return "", r.stopped(op, r.ctx.Err())
			}
			return "", r.commandError(op, err, "", nil)
		}
	}
	cmdCtx, cancelCmd := context.WithCancelCause(r.ctx)
	defer cancelCmd(nil)
	guard := &outputGuard{limit: r.e.cfg.OutputLimitBytes, cancel: cancelCmd}

	var stderr strings.Builder
	errW := r.log.stream(&stderr)
	tf.SetStderr(guardedWriter{g: guard, w: errW})
	var outW *lineWriter
	if mode == stdoutLog {
		outW = r.log.stream(nil)
		tf.SetStdout(guardedWriter{g: guard, w: outW})
	} else {
		tf.SetStdout(guardedWriter{g: guard, w: io.Discard})
	}
	start := time.Now()
	stopReaper := groupReaper(cmdCtx, r.e.cfg.StopGrace, pidFile)
	err = fn(cmdCtx, tf)
	stopReaper()
	errW.Close()
	if outW != nil {
		outW.Close()
	}
	r.e.log.Debug("terraform command",
		zap.String("workdir", filepath.Base(r.dir)), zap.String("op", r.op), zap.String("command", op),
		zap.Duration("took", time.Since(start)), zap.Bool("ok", err == nil))
	if err == nil && isOutOfMemory(stderr.String()) {
		err = errors.New("terraform aborted: out of memory")
	}
	if err != nil {
		return stderr.String(), r.commandFailed(op, err, cmdCtx, stderr.String(), nil)
	}
	return stderr.String(), nil
}

// commandFailed turns a failed command into the operation's error: a
// *LimitError when one of the engine's limits stopped it, else a
// *CommandError. Whatever terraform left running is killed first.
func (r *run) commandFailed(op string, err error, cmdCtx context.Context, stderr string, diags []Diagnostic) error {
	killProcessGroup(err)
	if limit, value := r.limitHit(r.ctx, cmdCtx, err, stderr); limit != "" {
		r.log.note(fmt.Sprintf("terraform %s stopped: %s limit (%s) exceeded", op, limit, value))
		// Not r.ctx: the engine stopped the command, not the caller.
		ce := newCommandError(context.Background(), op, err, stderr, diags, r.log.String(), r.red)
		return &LimitError{Limit: limit, Value: value, Op: op, Cmd: ce}
	}
	return r.commandError(op, err, stderr, diags)
}

// stopped is the error of an operation whose context ended between
// commands: the deadline as a *LimitError, or the caller's cancellation.
func (r *run) stopped(op string, err error) error {
	if errors.Is(context.Cause(r.ctx), errDeadline) {
		return &LimitError{Limit: LimitDeadline, Value: r.e.cfg.OperationTimeout.String(), Op: op}
	}
	return err
}

func (r *run) commandError(op string, err error, stderr string, diags []Diagnostic) *CommandError {
	return newCommandError(r.ctx, op, err, stderr, diags, r.log.String(), r.red)
}

// ensureInit runs `terraform init` unless the last successful init of this
// workdir depended on exactly what it would depend on now.
func (r *run) ensureInit() error {
	hashPath := filepath.Join(r.dir, initHashFile)
	if b, err := os.ReadFile(hashPath); err == nil && strings.TrimSpace(string(b)) == r.initDigest && r.lockIntact() {
		r.log.note("init skipped: nothing it depends on changed since the last init")
		return nil
	}
	// Init in the default workspace: the previously selected one may have
	// been deleted, and terraform versions differ in how they react.
	os.Remove(hashPath)
	os.Remove(filepath.Join(r.dir, environmentFile))
	// The platform's lock whole, over whatever an earlier init (which
	// keeps only the providers used then) or anything else left there:
	// init installs exactly the locked versions and checks their hashes
	// (providers.go).
	if err := writeFileAtomic(filepath.Join(r.dir, providers.LockFileName), r.e.cfg.ProviderLock.Render()); err != nil {
		return fmt.Errorf("writing the provider lock: %w", err)
	}
	// The dependency lock file is the platform's (providers.go), written
	// by every render. Init never runs with -upgrade, which would choose
	// versions past it: a constraint the locked version does not fit is
	// the tenant's to change (the policy refuses it already).
	if r.restoreInit() { // initcache.go
		if err := os.WriteFile(hashPath, []byte(r.initDigest+"\n"), 0o600); err != nil {
			return fmt.Errorf("recording init digest: %w", err)
		}
		return nil
	}
	// Only an init into a workdir without .terraform is kept as a
	// snapshot for other projects: nothing but that init wrote it.
	_, err := os.Stat(filepath.Join(r.dir, ".terraform"))
	fresh := errors.Is(err, fs.ErrNotExist)

	// One init at a time per engine. Terraform documents its plugin cache
	// as not safe for concurrent installers: two inits downloading the
	// same provider into it at once (every project after a restart on an
	// empty disk) could link a half-written plugin. The first init against
	// a fresh database also makes the pg backend create its schema,
	// sequence and table with CREATE ... IF NOT EXISTS, which PostgreSQL
	// does not make safe against a concurrent twin. Init is rare (skipped
	// whenever its inputs are unchanged) and short with a warm cache, so
	// serialising it costs little.
	select {
	case r.e.initSem <- struct{}{}:
		defer func() { <-r.e.initSem }()
	case <-r.ctx.Done():
		return r.stopped("init", r.ctx.Err())
	}
	for attempt := 0; ; attempt++ {
		var stderr string
		// -reconfigure: the backend config is tenantform's, state always
		// lives in the pg backend, nothing is ever migrated. Never
		// -upgrade: see above.
		_, stderr, err = r.direct("init", stdoutLog,
			"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false", "-reconfigure")
		// Another replica creating the backend's schema at this moment.
		if err != nil && attempt < 5 && r.ctx.Err() == nil && isBootstrapRace(stderr) {
			r.e.log.Info("pg backend schema being created concurrently; retrying init", zap.Int("attempt", attempt+1))
			if serr := sleepCtx(r.ctx, time.Duration(attempt+1)*500*time.Millisecond); serr != nil {
				return err
			}
			continue
		}
		break
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(hashPath, []byte(r.initDigest+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording init digest: %w", err)
	}
	if fresh {
		r.saveInit()
	}
	return nil
}

// lockIntact reports whether the workdir's lock file is still what an init
// from the platform's lock left (providers.Lock.RefinedBy): a lock that
// was removed or changed since sends the workdir through init again,
// which writes the platform's.
func (r *run) lockIntact() bool {
	b, err := os.ReadFile(filepath.Join(r.dir, providers.LockFileName))
	return err == nil && r.e.cfg.ProviderLock.RefinedBy(b)
}

// isBootstrapRace recognises the errors PostgreSQL gives the loser of two
// concurrent CREATE SCHEMA/SEQUENCE/TABLE/INDEX IF NOT EXISTS: a unique
// violation in the catalog, or "relation ... already exists".
func isBootstrapRace(stderr string) bool {
	return strings.Contains(stderr, "duplicate key value violates unique constraint") ||
		(strings.Contains(stderr, "pq: ") && strings.Contains(stderr, "already exists"))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockTimeout is terraform's -lock-timeout value.
func (r *run) lockTimeout() string {
	return fmt.Sprintf("%ds", int((r.e.cfg.LockTimeout+time.Second-1)/time.Second))
}

// elapsed is the operation's duration so far.
func (r *run) elapsed() time.Duration { return time.Since(r.started) }
