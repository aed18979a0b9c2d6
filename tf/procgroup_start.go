package tf

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// processSetup is what New prepares for starting terraform processes.
type processSetup struct {
	sandboxActive bool
	sandboxABI    int
	sandboxPorts  []uint16
	owner         string
	// tmpRoot holds the commands' private temporary directories.
	tmpRoot string
	// supervisor is the binary every command is started through.
	supervisor string
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
	if ps.supervisor, err = findSupervisor(cfg.SupervisorPath, self); err != nil {
		return ps, err
	}
	cfg.Logger.Info("terraform commands start through the supervisor", zap.String("supervisor", supervisorName(ps.supervisor)))
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

// supervisorName is how the log names the supervisor.
func supervisorName(path string) string {
	if path == selfExe {
		return "this binary (re-executed; install " + SupervisorBinary + " beside it for faster starts)"
	}
	return path
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
