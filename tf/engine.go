package tf

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/policy"
	"github.com/tenantform/tenantform/tf/providers"
)

// Defaults of Config.
const (
	DefaultPGSchema    = "tenantform_tfstate"
	DefaultStopGrace   = 20 * time.Second
	DefaultLockTimeout = time.Minute
)

// Config configures an Engine. Only BinaryPath, WorkRoot and PGConnStr are
// required.
type Config struct {
	// BinaryPath is the terraform binary (see FindBinary).
	BinaryPath string
	// SupervisorPath is the tenantform-tf-supervisor binary every
	// terraform command is started through (package tf/supervisor).
	// Default: the one beside the running binary when it is there, else a
	// re-exec of the running binary itself, which works the same and
	// starts about 8 ms slower per command.
	SupervisorPath string
	// WorkRoot is the parent of the per-project working directories. The
	// engine also keeps its CLI config and a small admin workdir there.
	// Workdirs are a cache: everything durable lives in the pg backend.
	WorkRoot string
	// PluginCacheDir is the provider cache shared by all projects.
	// Default WorkRoot/.plugin-cache.
	PluginCacheDir string
	// FilesystemMirror is an optional provider mirror directory for
	// offline installs; the providers in it are never fetched elsewhere.
	FilesystemMirror string
	// PGConnStr connects the pg state backend. It reaches terraform only as
	// the PG_CONN_STR environment variable and is redacted from output.
	PGConnStr string
	// PGSchema is the backend's schema_name. Default DefaultPGSchema.
	PGSchema string
	// AWSEndpointURL, when set, is rendered into the aws provider's
	// endpoints (local emulators, tests).
	AWSEndpointURL string
	// Environment is the value of the Environment tag ("production", ...).
	Environment string
	// StopGrace is how long a cancelled terraform gets after SIGINT to
	// release its state lock and exit before it is killed. Default 20 s,
	// inside Heroku's 30 s stop window.
	StopGrace time.Duration
	// LockTimeout is how long plan, apply and destroy wait for the state
	// lock (terraform's -lock-timeout). With the pg backend every lock
	// attempt also briefly needs the global workspace-creation lock, so a
	// short wait is normal while other projects are being created.
	// Default one minute.
	LockTimeout time.Duration
	// SearchPath is the PATH of terraform processes. Default
	// DefaultSearchPath; the server's PATH is not inherited.
	SearchPath string
	// LogTailBytes is how much output a Plan, Result or CommandError keeps.
	// Default DefaultLogTail (16 KiB).
	LogTailBytes int
	// Policy is checked before any terraform command. The zero value means
	// policy.DefaultRules(). Its ProviderLock, when nil, is ProviderLock.
	Policy policy.Rules
	// ProviderLock is the providers terraform may install, with their
	// exact versions and hashes: written into every workdir as
	// .terraform.lock.hcl, and the plugin cache is pruned to it. Nil
	// means providers.Platform(), the lock tenantform ships; tests of the
	// aws provider's test double lock the double instead.
	ProviderLock *providers.Lock

	// Hard limits of terraform runs (see limits.go). A run that hits one
	// fails with a *LimitError naming it. Zero means the default; there is
	// no way to switch a limit off.

	// OperationTimeout is the wall-clock deadline of one operation (Plan,
	// Apply, ApplySaved, Destroy, Outputs, StateResources: init, the
	// workspace's row and the command together). On expiry terraform gets SIGINT
	// and is killed StopGrace later. Default DefaultOperationTimeout (10m);
	// setting TF_OPERATION_TIMEOUT.
	OperationTimeout time.Duration
	// MemoryLimitMB is the address-space limit (RLIMIT_AS) of each
	// terraform and provider process, in MiB. Address space, not resident
	// memory: see DefaultMemoryLimitMB for what normal runs reserve.
	// Default 4096; setting TF_MEMORY_LIMIT_MB.
	MemoryLimitMB int
	// CPULimit is the CPU time (RLIMIT_CPU) of each terraform and provider
	// process, rounded up to whole seconds. Default 600 s; setting
	// TF_CPU_LIMIT_SECONDS.
	CPULimit time.Duration
	// OutputLimitBytes bounds what one terraform process prints, stdout
	// and stderr together; past it the process is stopped. Default 16 MiB;
	// setting TF_OUTPUT_LIMIT_BYTES.
	OutputLimitBytes int64
	// MaxPlanBytes bounds a saved plan file (Plan.Bytes). Default 8 MiB;
	// setting TF_MAX_PLAN_BYTES.
	MaxPlanBytes int
	// MaxOutputBytes bounds each output value Outputs returns, as JSON;
	// a larger value is replaced by a truncation marker. Default 64 KiB;
	// setting TF_MAX_OUTPUT_BYTES.
	MaxOutputBytes int
	// MaxOutputsTotalBytes bounds all output values of a project together;
	// values past it are replaced by truncation markers. Default 256 KiB;
	// setting TF_MAX_OUTPUTS_TOTAL_BYTES.
	MaxOutputsTotalBytes int

	// Sandbox says whether terraform runs under Landlock (sandbox.go).
	// Default SandboxAuto; setting TF_SANDBOX.
	Sandbox SandboxMode

	Logger *zap.Logger

	// Test hooks. sandboxProbe replaces LandlockABI; sandboxExtraRW adds
	// writable directories to the sandbox (a test's wrapper scripts
	// recording what terraform sees); skipPolicy switches the static
	// policy off, to show what the sandbox alone stops.
	sandboxProbe   func() (int, error)
	sandboxExtraRW []string
	skipPolicy     bool
}

// Engine runs terraform for projects. It is safe for concurrent use; calls
// for the same project are serialised, calls for different projects run in
// parallel.
type Engine struct {
	cfg           Config
	log           *zap.Logger
	cliConfigFile string
	// baseDigest covers what every init depends on besides the project:
	// the binary and the CLI config.
	baseDigest string

	projects keyedMutex

	// createMu serialises `workspace delete` in this
	// process; see workspace.go for why.
	createMu sync.Mutex
	// initSem admits one `terraform init` at a time; see run.ensureInit.
	initSem chan struct{}
	// adminMu guards rendering and initialising the admin workdir.
	adminMu sync.Mutex

	// sandboxActive: every terraform process runs under Landlock, with
	// TCP connections to sandboxPorts only (sandbox.go).
	sandboxActive bool
	sandboxABI    int
	sandboxPorts  []uint16
	// owner marks this engine's terraform processes (leftovers.go).
	owner string
	// tmpRoot holds the commands' private temporary directories (tmpRootFor).
	tmpRoot string
	// supervisor is the binary every command starts through (findSupervisor),
	// and supervisorFile the open file it names when pinned (kept here so
	// that the descriptor lives as long as the engine).
	supervisor     string
	supervisorFile *os.File
	// stateConns are the backend connections of withStateConn.
	stateConns *stateConns
}

// New validates cfg, creates WorkRoot and the plugin cache, and writes the
// engine's CLI configuration. It does not run terraform.
func New(cfg Config) (*Engine, error) {
	if cfg.BinaryPath == "" {
		return nil, errors.New("tf: Config.BinaryPath is required (see FindBinary)")
	}
	fi, err := os.Stat(cfg.BinaryPath)
	if err != nil {
		return nil, fmt.Errorf("tf: terraform binary: %w", err)
	}
	if !executableFile(fi) {
		return nil, fmt.Errorf("tf: %s is not an executable file", cfg.BinaryPath)
	}
	if cfg.WorkRoot == "" {
		return nil, errors.New("tf: Config.WorkRoot is required")
	}
	if cfg.PGConnStr == "" {
		return nil, errors.New("tf: Config.PGConnStr is required")
	}
	if cfg.WorkRoot, err = filepath.Abs(cfg.WorkRoot); err != nil {
		return nil, err
	}
	if cfg.PluginCacheDir == "" {
		cfg.PluginCacheDir = filepath.Join(cfg.WorkRoot, ".plugin-cache")
	}
	if cfg.PluginCacheDir, err = filepath.Abs(cfg.PluginCacheDir); err != nil {
		return nil, err
	}
	if cfg.FilesystemMirror != "" {
		if cfg.FilesystemMirror, err = filepath.Abs(cfg.FilesystemMirror); err != nil {
			return nil, err
		}
	}
	if cfg.PGSchema == "" {
		cfg.PGSchema = DefaultPGSchema
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	if cfg.LogTailBytes <= 0 {
		cfg.LogTailBytes = DefaultLogTail
	}
	cfg.setLimitDefaults()
	if reflect.ValueOf(cfg.Policy).IsZero() {
		cfg.Policy = policy.DefaultRules()
	}
	if cfg.ProviderLock == nil {
		cfg.ProviderLock = providers.Platform()
	}
	if cfg.Policy.ProviderLock == nil {
		cfg.Policy.ProviderLock = cfg.ProviderLock
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	for _, dir := range []string{cfg.WorkRoot, cfg.PluginCacheDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("tf: %w", err)
		}
	}

	if err := pruneProviderCache(cfg.PluginCacheDir, cfg.ProviderLock, cfg.Logger); err != nil {
		return nil, fmt.Errorf("tf: pruning the plugin cache: %w", err)
	}

	mirrored, err := mirroredProviders(cfg.FilesystemMirror)
	if err != nil {
		return nil, fmt.Errorf("tf: reading provider mirror: %w", err)
	}
	cli := renderCLIConfig(cfg.PluginCacheDir, cfg.FilesystemMirror, mirrored)
	// Outside every workdir: tenant configuration cannot read it, and it
	// is shared by all of them.
	cliFile := filepath.Join(cfg.WorkRoot, ".tenantform.tfrc")
	if err := writeFileAtomic(cliFile, []byte(cli)); err != nil {
		return nil, fmt.Errorf("tf: writing CLI config: %w", err)
	}

	procs, err := startProcesses(&cfg)
	if err != nil {
		return nil, err
	}

	// The binary's identity (path, size, mtime) stands in for its version
	// in the init digest: replacing terraform re-inits every workdir.
	h := sha256.New()
	fmt.Fprintf(h, "binary %s %d %d\ncli\n%s", cfg.BinaryPath, fi.Size(), fi.ModTime().UnixNano(), cli)
	fmt.Fprintf(h, "schema %s\n", cfg.PGSchema)
	// A new provider lock re-inits every workdir.
	fmt.Fprintf(h, "lock\n%s", cfg.ProviderLock.Render())

	return &Engine{
		cfg:            cfg,
		log:            cfg.Logger,
		cliConfigFile:  cliFile,
		baseDigest:     fmt.Sprintf("%x", h.Sum(nil)),
		initSem:        make(chan struct{}, 1),
		stateConns:     newStateConns(cfg.PGConnStr),
		sandboxActive:  procs.sandboxActive,
		sandboxABI:     procs.sandboxABI,
		sandboxPorts:   procs.sandboxPorts,
		owner:          procs.owner,
		tmpRoot:        procs.tmpRoot,
		supervisor:     procs.supervisor,
		supervisorFile: procs.supervisorFile,
	}, nil
}

func (e *Engine) workdir(p Project) string {
	return filepath.Join(e.cfg.WorkRoot, p.workspace())
}

// checkPolicy runs the tenant configuration policy. It comes before
// anything touches the disk or starts a process.
func (e *Engine) checkPolicy(p Project) error {
	if err := p.validate(); err != nil {
		return err
	}
	if e.cfg.skipPolicy {
		return nil
	}
	if v := policy.Check(p.Files, e.cfg.Policy); len(v) > 0 {
		return &policy.Error{Violations: v}
	}
	return nil
}

// begin starts an operation on a project: policy check, per-project lock,
// and (when render is set) the workdir brought up to date with p. The
// returned function releases the lock.
func (e *Engine) begin(ctx context.Context, op string, p Project, creds *Credentials, render bool) (*run, func(), error) {
	if err := e.checkPolicy(p); err != nil {
		return nil, nil, err
	}
	unlock, err := e.projects.lock(ctx, p.workspace())
	if err != nil {
		return nil, nil, err
	}
	r := e.newRun(ctx, op, e.workdir(p), p.Region, creds)
	r.project = p
	release := func() { r.close(); unlock() }
	if render {
		info := analyze(p.Files)
		gen, err := generatedFiles(renderInput{
			project:       p,
			info:          info,
			schema:        e.cfg.PGSchema,
			endpointURL:   e.cfg.AWSEndpointURL,
			environment:   e.cfg.Environment,
			lock:          e.cfg.ProviderLock,
			boundaryARN:   e.cfg.Policy.PermissionsBoundaryARN,
			namePrefixTag: e.cfg.Policy.RequireNamePrefix,
		})
		if err != nil {
			release()
			return nil, nil, err
		}
		if err := renderWorkdir(r.dir, p, gen); err != nil {
			release()
			return nil, nil, fmt.Errorf("rendering workdir: %w", err)
		}
		r.initDigest = initDigest(e.baseDigest, info, gen)
	}
	return r, release, nil
}

// initDigest combines what `terraform init` depends on: the binary and CLI
// config (base), the backend and provider files tenantform generates, and
// the init-relevant parts of the tenant configuration. Variables are left
// out: init never reads them.
func initDigest(base string, info configInfo, gen map[string][]byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "base %s\ntenant %s\n", base, info.initDigest)
	for _, name := range []string{backendFile, providerFile, providerOverrideFile} {
		fmt.Fprintf(h, "gen %s %d\n", name, len(gen[name]))
		h.Write(gen[name])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// keyedMutex serialises work per key without growing forever.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
