package tf

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/tenantform/tenantform/tf/supervisor"
)

// The sandbox is the third line of tenant isolation, after the upload and
// plan policies: every terraform process and the providers it starts run
// under Linux Landlock, so that a configuration the policies failed to
// refuse still cannot read what is not its own. It is applied by the
// supervisor (procgroup.go) to the thread that starts terraform, and
// Landlock domains are inherited by every child: terraform cannot start
// a provider outside it.
//
//   - read and execute: the system directories (/usr, /lib, /lib64, /bin,
//     /sbin), the few files under /etc that TLS and name resolution need,
//     the terraform binary, the plugin cache and the provider mirror;
//   - read and write: the project's own workdir and the command's private
//     temporary directory; the plugin cache as well during `init`, which
//     installs providers into it;
//   - TCP connect: 443, the state database's port and the AWS endpoint's
//     port (an emulator's in development and tests); nothing may listen on
//     TCP (providers talk to terraform over a unix socket in TMPDIR);
//   - signals and abstract unix sockets only within the run's own domain
//     (Landlock ABI 6).
//
// Everything else is denied: other projects' workdirs, tenantform's data
// directory, /proc (so /proc/<pid>/environ of the server too), the
// server user's home.

// SandboxMode says whether terraform runs under Landlock.
type SandboxMode string

const (
	// SandboxAuto sandboxes every run when the kernel supports Landlock
	// (ABI 4 or later: filesystem and TCP rules) and runs unsandboxed,
	// saying so at start, when it does not. The zero value means auto.
	SandboxAuto SandboxMode = "auto"
	// SandboxRequire refuses to start an engine without Landlock.
	SandboxRequire SandboxMode = "require"
	// SandboxOff never sandboxes.
	SandboxOff SandboxMode = "off"
)

// ParseSandboxMode reads a TF_SANDBOX value.
func ParseSandboxMode(s string) (SandboxMode, error) {
	switch m := SandboxMode(s); m {
	case SandboxAuto, SandboxRequire, SandboxOff:
		return m, nil
	}
	return "", fmt.Errorf("sandbox mode %q: want auto, require or off", s)
}

// MinSandboxABI is the oldest Landlock ABI the sandbox uses: 4 is the
// first that restricts TCP connections as well as files.
const MinSandboxABI = 4

// LandlockABI is the kernel's Landlock ABI version; 0 (and the error)
// when the kernel has no Landlock or it is disabled (EOPNOTSUPP) or
// filtered out (a seccomp profile without the landlock syscalls).
func LandlockABI() (int, error) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0, err
	}
	return v, nil
}

// sandboxDecision applies mode to what the kernel offers: whether runs are
// sandboxed, or an error for SandboxRequire without Landlock.
func sandboxDecision(mode SandboxMode, probe func() (int, error)) (active bool, abi int, err error) {
	if mode == "" {
		mode = SandboxAuto
	}
	if _, err := ParseSandboxMode(string(mode)); err != nil {
		return false, 0, fmt.Errorf("tf: %w", err)
	}
	if mode == SandboxOff {
		return false, 0, nil
	}
	abi, perr := probe()
	if abi >= MinSandboxABI {
		return true, abi, nil
	}
	if mode == SandboxRequire {
		why := fmt.Sprintf("the kernel's Landlock ABI is %d", abi)
		if perr != nil {
			why = fmt.Sprintf("the kernel has no usable Landlock (%v)", perr)
		}
		return false, abi, fmt.Errorf("tf: TF_SANDBOX=require but %s; the sandbox needs Landlock ABI %d or later (Linux 6.7+, with landlock in the lsm= boot list)", why, MinSandboxABI)
	}
	return false, abi, nil
}

// systemRODirs and systemROFiles are what every Go program (terraform,
// providers) and a /bin/sh need to run, resolve names and verify TLS:
// the system directories and, under /etc, only certificates and resolver
// configuration. Nothing else of /etc (passwd, the server's own config)
// is readable.
var (
	systemRODirs = []string{
		"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
		"/etc/ssl", "/etc/pki", "/etc/ca-certificates",
	}
	systemROFiles = []string{
		"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
		"/etc/gai.conf", "/etc/localtime", "/etc/services", "/etc/protocols",
		"/dev/urandom", "/dev/random",
	}
	systemRWFiles = []string{"/dev/null", "/dev/zero"}
)

// sandboxPorts are the TCP ports a run may connect to: 443 (the AWS APIs,
// the provider registry), the state database's port and the AWS endpoint
// override's port.
func sandboxPorts(pgConnStr, awsEndpointURL string) ([]uint16, error) {
	ports := []uint16{443}
	cfg, err := pgconn.ParseConfig(pgConnStr)
	if err != nil {
		return nil, fmt.Errorf("tf: reading the state database's port for the sandbox: %w", err)
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...)
	for _, h := range hosts {
		if len(h.Host) > 0 && h.Host[0] == '/' {
			continue // a unix socket
		}
		ports = append(ports, h.Port)
	}
	if awsEndpointURL != "" {
		u, err := url.Parse(awsEndpointURL)
		if err != nil {
			return nil, fmt.Errorf("tf: AWS endpoint URL: %w", err)
		}
		p := u.Port()
		switch {
		case p != "":
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("tf: AWS endpoint URL port %q: %w", p, err)
			}
			ports = append(ports, uint16(n))
		case u.Scheme == "http":
			ports = append(ports, 80)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports), nil
}

// sandboxFor returns the rules of one command in workdir dir with private
// temporary directory tmp; nil when runs are not sandboxed. writeCache is
// set for init, which installs providers into the plugin cache.
func (e *Engine) sandboxFor(dir, tmp string, writeCache bool) *supervisor.Rules {
	if !e.sandboxActive {
		return nil
	}
	r := &supervisor.Rules{
		RODirs:  slices.Clone(systemRODirs),
		ROFiles: append(slices.Clone(systemROFiles), e.cfg.BinaryPath, e.cliConfigFile),
		RWDirs:  []string{dir, tmp},
		RWFiles: slices.Clone(systemRWFiles),
		TCP:     e.sandboxPorts,
	}
	if writeCache {
		r.RWDirs = append(r.RWDirs, e.cfg.PluginCacheDir)
	} else {
		r.RODirs = append(r.RODirs, e.cfg.PluginCacheDir)
	}
	if e.cfg.FilesystemMirror != "" {
		r.RODirs = append(r.RODirs, e.cfg.FilesystemMirror)
	}
	// A binary reached through a symlink (/usr/local/bin/terraform ->
	// /opt/terraform/1.11.4/terraform) is executed at its target.
	if real, err := filepath.EvalSymlinks(e.cfg.BinaryPath); err == nil && real != e.cfg.BinaryPath {
		r.ROFiles = append(r.ROFiles, real)
	}
	r.RWDirs = append(r.RWDirs, e.cfg.sandboxExtraRW...)
	return r
}

// SandboxActive says whether terraform processes run under Landlock.
func (e *Engine) SandboxActive() bool { return e.sandboxActive }

// SandboxABI is the kernel's Landlock ABI version (0 when the sandbox is
// off by choice or unsupported).
func (e *Engine) SandboxABI() int { return e.sandboxABI }
