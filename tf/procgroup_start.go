package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tenantform/tenantform/tf/supervisor"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// processSetup is what New prepares for starting terraform processes.
type processSetup struct {
	sandboxActive bool
	sandboxABI    int
	sandboxPorts  []uint16
	owner         string
	// tmpRoot holds the commands' private temporary directories.
	tmpRoot string
	// supervisor is the binary every command is started through, and
	// supervisorFile the open file it names when it is pinned.
	supervisor     string
	supervisorFile *os.File
}

// startProcesses decides on the sandbox (refusing TF_SANDBOX=require
// without Landlock), says so in the log, and ends what a killed
// predecessor on this work root left running.
func startProcesses(cfg *Config) (processSetup, error) {
	var ps processSetup
	probe := cfg.sandboxProbe
	if probe == nil {
		probe = LandlockABI
	}
	active, abi, err := sandboxDecision(cfg.Sandbox, probe)
	if err != nil {
		return ps, err
	}
	if cfg.Sandbox == "" {
		cfg.Sandbox = SandboxAuto
	}
	ps.sandboxActive, ps.sandboxABI = active, abi
	self, _ := os.Executable()
	found, err := findSupervisor(cfg.SupervisorPath, self)
	if err != nil {
		return ps, err
	}
	ps.supervisor = found
	if found != selfExe {
		ps.supervisor, ps.supervisorFile, err = pinSupervisor(found)
		if err == nil {
			err = probeSupervisor(ps.supervisor)
		}
		if err != nil {
			if ps.supervisorFile != nil {
				ps.supervisorFile.Close()
			}
			if cfg.SupervisorPath != "" {
				return ps, fmt.Errorf("tf: supervisor %s: %w", found, err)
			}
			cfg.Logger.Warn("the supervisor beside this binary does not work; terraform commands start through this binary instead",
				zap.String("supervisor", found), zap.Error(err))
			ps.supervisor, ps.supervisorFile = selfExe, nil
		}
	}
	cfg.Logger.Info("terraform commands start through the supervisor", zap.String("supervisor", supervisorName(found, ps.supervisor)))
	switch {
	case active:
		if ps.sandboxPorts, err = sandboxPorts(cfg.PGConnStr, cfg.AWSEndpointURL); err != nil {
			return ps, err
		}
		cfg.Logger.Info("terraform sandbox active: every terraform and provider process runs under Landlock",
			zap.Int("landlock_abi", abi), zap.Any("tcp_ports", ps.sandboxPorts), zap.String("mode", string(cfg.Sandbox)))
	case cfg.Sandbox == SandboxOff:
		cfg.Logger.Warn("terraform sandbox off (TF_SANDBOX=off): terraform processes are confined by the policy and resource limits only")
	default:
		cfg.Logger.Warn("terraform sandbox off: the kernel does not support Landlock; set TF_SANDBOX=require to refuse to start without it",
			zap.Int("landlock_abi", abi), zap.Int("needs_abi", MinSandboxABI))
	}

	if ps.owner, err = ownerMarker(cfg.WorkRoot); err != nil {
		return ps, fmt.Errorf("tf: reading this process's start time: %w", err)
	}
	if killed := endLeftovers(cfg.WorkRoot); len(killed) > 0 {
		cmds := make([]string, len(killed))
		for i, l := range killed {
			cmds[i] = fmt.Sprintf("%d %s", l.pid, l.command)
		}
		cfg.Logger.Warn("ended terraform processes a killed predecessor left running",
			zap.Int("count", len(killed)), zap.Strings("processes", cmds))
	}
	if ps.tmpRoot, err = tmpRootFor(cfg.WorkRoot); err != nil {
		return ps, err
	}
	removeStaleTmp(ps.tmpRoot, cfg.OperationTimeout+2*cfg.StopGrace)
	if err := os.MkdirAll(ps.tmpRoot, 0o700); err != nil {
		return ps, fmt.Errorf("tf: %w", err)
	}
	return ps, nil
}

// findSupervisor returns the supervisor binary: configured, else the
// separate one beside the running binary self, else the running binary
// (selfExe). A configured one must be an executable file; one beside self
// is used only if it is.
func findSupervisor(configured, self string) (string, error) {
	if configured != "" {
		if !isExecutable(configured) {
			return "", fmt.Errorf("tf: supervisor %s is not an executable file", configured)
		}
		return filepath.Abs(configured)
	}
	if self != "" {
		if beside := filepath.Join(filepath.Dir(self), SupervisorBinary); isExecutable(beside) {
			return beside, nil
		}
	}
	return selfExe, nil
}

// supervisorName is how the log names the supervisor found and the path
// commands use.
func supervisorName(found, used string) string {
	switch {
	case used == selfExe:
		return "this binary (re-executed; install " + SupervisorBinary + " beside its real file for faster starts)"
	case used != found:
		return found + " (pinned: " + used + ")"
	}
	return used
}

// pinSupervisor copies the supervisor binary once into a sealed memory
// file and returns a path naming it, /proc/self/fd/N, which every command
// then executes: the binary the engine checked at start, whatever is later
// written or renamed over its path (a deploy beside a running reconciler;
// without the sandbox, a tenant's process). Where the kernel refuses a
// memory file, the binary's own file is held open instead (proof against
// a rename, not a write in place). Only an ELF binary is pinned: the
// kernel runs a script's interpreter with the path, which the
// close-on-exec descriptor no longer names by then (a test's wrapper
// script is executed by path).
func pinSupervisor(path string) (string, *os.File, error) {
	f, err := os.Open(path) // close-on-exec, as Go opens every file
	if err != nil {
		return "", nil, err
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "\x7fELF" {
		f.Close()
		return path, nil, nil
	}
	if sealed, err := sealedCopy(f); err == nil {
		f.Close()
		f = sealed
	}
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), f, nil
}

// sealedCopy copies the file into a memory file that no one can write,
// grow, shrink or unseal any more.
func sealedCopy(src *os.File) (*os.File, error) {
	fd, err := unix.MemfdCreate(SupervisorBinary, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err != nil {
		// Kernels before 6.3 know no MFD_EXEC; their memory files are
		// executable anyway.
		fd, err = unix.MemfdCreate(SupervisorBinary, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, err
	}
	mem := os.NewFile(uintptr(fd), SupervisorBinary)
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		mem.Close()
		return nil, err
	}
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return nil, err
	}
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, err
	}
	return mem, nil
}

// probeSupervisor runs the supervisor once, around `/bin/sh -c 'exit 0'`:
// a supervisor that cannot run here or speaks another protocol is found at
// start, not at every tenant's next command.
func probeSupervisor(path string) error {
	spec, err := json.Marshal(supervisor.Spec{Protocol: supervisor.Protocol, Terraform: "/bin/sh", Grace: time.Second, Parent: os.Getpid()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-c", "exit 0")
	cmd.Env = []string{supervisor.Env + "=" + string(spec), "PATH=" + DefaultSearchPath}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("a trial run failed: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && executableFile(fi)
}

// executableFile says whether fi is a regular file someone may execute.
func executableFile(fi os.FileInfo) bool {
	return fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
