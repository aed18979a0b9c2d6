package tf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantform/tenantform/tf/supervisor"
)

// A reconciler killed with SIGKILL cannot stop its terraform processes,
// and its supervisors (procgroup.go) stop them only if they survive it
// themselves. What is left of a predecessor on the same host is found at
// the next engine's start by a marker in every terraform process's
// environment, which providers inherit too:
//
//	TENANTFORM_TF_OWNER=<work root digest>.<engine pid>.<engine start time>
//
// A process is ended only when its marker names this engine's work root
// and an engine process that no longer exists (the pid is gone, or now
// belongs to a process started at another time). Processes of a live
// engine sharing the work root, and everything without the marker (or of
// another user: their environment is unreadable), are left alone.

// ownerEnv names the marker variable.
const ownerEnv = "TENANTFORM_TF_OWNER"

// workRootDigest identifies a work root in markers without naming the
// host path (which terraform processes must not learn).
func workRootDigest(workRoot string) string {
	h := sha256.Sum256([]byte(workRoot))
	return fmt.Sprintf("%x", h[:8])
}

// ownerMarker is the marker value of the engine in this process.
func ownerMarker(workRoot string) (string, error) {
	st, err := supervisor.ReadProcStat("/proc/self/stat")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s.%d.%d", workRootDigest(workRoot), os.Getpid(), st.StartTime), nil
}

// ownerAlive says whether the engine a marker names still runs.
func ownerAlive(pid int, start uint64) bool {
	st, err := supervisor.ReadProcStat(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && st.StartTime == start
}

// leftover is a process a dead engine left behind.
type leftover struct {
	pid     int
	command string
}

// findLeftovers lists the processes carrying a marker of workRoot whose
// engine is dead.
func findLeftovers(procRoot, workRoot string) []leftover {
	digest := workRootDigest(workRoot)
	self := os.Getpid()
	entries, _ := os.ReadDir(procRoot)
	var out []leftover
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join(procRoot, ent.Name(), "environ"))
		if err != nil {
			continue // gone, or not ours to read
		}
		marker := ""
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(ownerEnv+"=")); ok {
				marker = string(v)
				break
			}
		}
		parts := strings.Split(marker, ".")
		if len(parts) != 3 || parts[0] != digest {
			continue
		}
		ownerPid, err1 := strconv.Atoi(parts[1])
		ownerStart, err2 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || ownerAlive(ownerPid, ownerStart) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(procRoot, ent.Name(), "cmdline"))
		out = append(out, leftover{pid: pid, command: filepath.Base(string(bytes.SplitN(cmdline, []byte{0}, 2)[0]))})
	}
	return out
}

// endLeftovers kills (SIGKILL) what dead engines of this work root left
// running, and returns what it killed. It looks again until nothing is
// left, for a process that forked while it was being killed.
func endLeftovers(workRoot string) []leftover {
	var killed []leftover
	for range 5 {
		found := findLeftovers("/proc", workRoot)
		if len(found) == 0 {
			break
		}
		for _, l := range found {
			if syscall.Kill(l.pid, syscall.SIGKILL) == nil {
				killed = append(killed, l)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return killed
}

// tmpRoot holds the commands' private temporary directories (TMPDIR),
// in the work root rather than in the workdir, to keep the unix socket
// paths of the provider handshake short (see tmpRootFor).
const tmpRoot = ".tmp"

// maxSocketPath is the longest unix socket path bind(2) takes: sun_path
// is 108 bytes, the last of them the terminating NUL.
const maxSocketPath = 107

// longestSocketSuffix is the longest tail a private temporary directory
// adds under the tmp root for the handshake's socket: os.MkdirTemp's name
// (up to 10 digits) and go-plugin's "plugin" and up to 10 more digits.
const longestSocketSuffix = len("/4294967295/plugin4294967295")

// tmpRootFor is where the private temporary directories of the commands
// under workRoot go: workRoot/.tmp when the provider's handshake socket
// fits there whatever the random names, else a directory named for the
// work root under the system's temporary directory (a deep data
// directory would otherwise make a provider fail to start, one run in
// several, with "bind: invalid argument").
func tmpRootFor(workRoot string) (string, error) {
	abs, err := filepath.Abs(workRoot)
	if err != nil {
		return "", fmt.Errorf("tf: work root: %w", err)
	}
	candidates := []string{filepath.Join(abs, tmpRoot)}
	sum := sha256.Sum256([]byte(abs))
	name := "tenantform-" + hex.EncodeToString(sum[:6])
	candidates = append(candidates, filepath.Join(os.TempDir(), name), filepath.Join("/tmp", name))
	for _, dir := range candidates {
		if len(dir)+longestSocketSuffix <= maxSocketPath {
			return dir, nil
		}
	}
	return "", fmt.Errorf("tf: no temporary directory short enough for the providers' unix sockets "+
		"(%d bytes at most): work root %q and TMPDIR %q are both too deep", maxSocketPath-longestSocketSuffix, abs, os.TempDir())
}

// removeStaleTmp removes temporary directories older than maxAge: those
// of commands whose engine was killed (a live command's is younger).
func removeStaleTmp(dir string, maxAge time.Duration) {
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		if fi, err := ent.Info(); err == nil && time.Since(fi.ModTime()) > maxAge {
			os.RemoveAll(filepath.Join(dir, ent.Name()))
		}
	}
}
