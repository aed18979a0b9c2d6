package tf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.uber.org/zap"
)

// Workspace deletion and the pg backend (hashicorp/terraform#33217).
//
// The pg backend locks a workspace with pg_try_advisory_lock(<row id>) and
// guards workspace creation with a global pg_try_advisory_lock(-1). Every
// state lock also tries -1 for a moment, and creating a workspace holds -1
// while it writes the new (empty) state. All of these are try-locks that
// fail at once instead of waiting, so there is no deadlock to fear but
// spurious failures: "Already locked for workspace creation" from a
// `workspace new` that met another creation or another project's lock
// attempt, and "Error acquiring the state lock" from a plan that met a
// creation. The engine therefore
//
//   - creates workspaces without terraform, as a row of the backend's
//     table (pgstate.go), which takes no advisory lock;
//   - serialises `workspace delete` within the process (Engine.createMu)
//     and retries it with jittered exponential backoff when the creation
//     lock was busy: its state lock meets the creation lock, and it
//     ignores its -lock-timeout flag (terraform parses it but locks with
//     its default of zero; seen in 1.11);
//   - passes -lock-timeout to plan, apply and destroy, so terraform itself
//     retries a lock attempt that met a creation (another replica still
//     running `workspace new`).

const (
	maxCreateAttempts = 10
	createBackoffBase = 100 * time.Millisecond
	createBackoffMax  = 3 * time.Second
)

// underCreationLock runs a workspace command that needs the pg backend's
// global creation lock (workspace delete, whose state lock attempt needs
// it and which ignores -lock-timeout in terraform 1.11).
// Such commands are serialised within the process, and retried with
// jittered exponential backoff while another process holds the lock.
func (r *run) underCreationLock(op string, fn func(context.Context, *tfexec.Terraform) error) (string, error) {
	e := r.e
	e.createMu.Lock()
	defer e.createMu.Unlock()
	for attempt := 1; ; attempt++ {
		stderr, err := r.terraform(op, true, fn)
		if err == nil || !errors.Is(err, ErrStateLocked) || attempt >= maxCreateAttempts || r.ctx.Err() != nil {
			return stderr, err
		}
		d := min(createBackoffBase<<(attempt-1), createBackoffMax)
		d = d/2 + rand.N(d) // jitter: replicas must not retry in step
		r.log.note(fmt.Sprintf("workspace creation lock busy; retrying %s in %s", op, d.Round(time.Millisecond)))
		e.log.Info("workspace creation lock busy; retrying", zap.String("command", op),
			zap.String("workdir", filepath.Base(r.dir)), zap.Int("attempt", attempt), zap.Duration("backoff", d))
		if err := sleepCtx(r.ctx, d); err != nil {
			return stderr, err
		}
	}
}

func isNoSuchWorkspace(stderr string) bool {
	return strings.Contains(stderr, "doesn't exist") || strings.Contains(stderr, "does not exist")
}

// adminDir is a workdir holding nothing but the backend configuration,
// from which workspaces are deleted: that needs no tenant file (so no
// policy check and no provider), and terraform refuses to delete the
// selected workspace, which in a project's own workdir it always is.
func (e *Engine) adminDir() string { return filepath.Join(e.cfg.WorkRoot, ".tenantform-admin") }

// adminRun returns an initialised run in the admin workdir; close it.
func (e *Engine) adminRun(ctx context.Context, op string) (*run, error) {
	r := e.newRun(ctx, op, e.adminDir(), "", nil)
	gen, err := generatedFiles(renderInput{schema: e.cfg.PGSchema})
	if err != nil {
		r.close()
		return nil, err
	}
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		r.close()
		return nil, err
	}
	if err := renderWorkdir(r.dir, Project{}, gen); err != nil {
		r.close()
		return nil, err
	}
	r.initDigest = initDigest(e.baseDigest, configInfo{}, gen)
	if err := r.ensureInit(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// DeleteWorkspace removes the project's workspace, i.e. its state, from
// the backend, and its workdir. It is the finalizer's last step, after a
// successful Destroy. Terraform refuses to delete a workspace that still
// tracks resources (without -force, never passed here), so this can never
// make tenantform forget live infrastructure. Deleting a workspace that
// does not exist succeeds.
func (e *Engine) DeleteWorkspace(ctx context.Context, p Project) error {
	if err := p.validate(); err != nil {
		return err
	}
	ws := p.workspace()
	unlock, err := e.projects.lock(ctx, ws)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := e.adminRun(ctx, "delete workspace")
	if err != nil {
		return err
	}
	defer r.close()
	stderr, err := r.underCreationLock("workspace delete", func(ctx context.Context, tf *tfexec.Terraform) error {
		return tf.WorkspaceDelete(ctx, ws, tfexec.LockTimeout(r.lockTimeout()))
	})
	if err != nil && !isNoSuchWorkspace(stderr) {
		return err
	}
	if err := os.RemoveAll(e.workdir(p)); err != nil {
		return fmt.Errorf("removing workdir: %w", err)
	}
	e.log.Info("deleted terraform workspace", zap.String("workspace", ws), zap.Bool("existed", err == nil))
	return nil
}

// RemoveWorkdir removes the project's working directory, a cache, once the
// project is gone: the reconciler drops an emptied workspace's state itself
// (without running terraform), and nothing else would ever delete the
// directory. Removing a missing one succeeds.
func (e *Engine) RemoveWorkdir(ctx context.Context, p Project) error {
	if err := p.validate(); err != nil {
		return err
	}
	unlock, err := e.projects.lock(ctx, p.workspace())
	if err != nil {
		return err
	}
	defer unlock()
	return os.RemoveAll(e.workdir(p))
}
