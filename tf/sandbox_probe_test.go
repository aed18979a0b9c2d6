package tf

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantform/tenantform/tf/supervisor"
)

// sandboxProbeEnv makes the test binary a probe (run through the helpers,
// in place of terraform): it tries what sandboxProbe lists and prints one
// line per try, "name ok" or "name denied: error".
const sandboxProbeEnv = "TENANTFORM_TEST_SANDBOX_PROBE"

type sandboxProbe struct {
	Own, Other       string // a writable directory, a forbidden one
	Allowed, Refused int    // TCP ports listening on 127.0.0.1
	EngineProcess    int    // a process outside the sandbox
}

func init() {
	raw := os.Getenv(sandboxProbeEnv)
	if raw == "" {
		return
	}
	var p sandboxProbe
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		fmt.Println("bad probe:", err)
		os.Exit(2)
	}
	try := func(name string, err error) {
		if err != nil {
			fmt.Printf("%s denied: %v\n", name, err)
		} else {
			fmt.Printf("%s ok\n", name)
		}
	}
	read := func(path string) error { _, err := os.ReadFile(path); return err }
	dial := func(port int) error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	}
	try("read-own", read(filepath.Join(p.Own, "own.txt")))
	try("write-own", os.WriteFile(filepath.Join(p.Own, "new.txt"), []byte("x"), 0o600))
	try("read-other", read(filepath.Join(p.Other, "secret.txt")))
	try("write-other", os.WriteFile(filepath.Join(p.Other, "new.txt"), []byte("x"), 0o600))
	try("read-etc-passwd", read("/etc/passwd"))
	try("read-engine-environ", read(fmt.Sprintf("/proc/%d/environ", p.EngineProcess)))
	try("connect-allowed", dial(p.Allowed))
	try("connect-refused", dial(p.Refused))
	listen := func(mptcp bool) error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(mptcp)
		l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err == nil {
			l.Close()
		}
		return err
	}
	try("listen", listen(false))
	try("listen-mptcp", listen(true))
	var d net.Dialer
	d.SetMultipathTCP(true)
	c, err := d.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", p.Refused))
	if err == nil {
		c.Close()
	}
	try("connect-refused-mptcp", err)
	try("signal-engine", syscall.Kill(p.EngineProcess, 0))
	os.Exit(0)
}

// TestSandboxRules runs a probe through the helpers under a sandbox and
// without: each access the sandbox must refuse works without it, and the
// sandbox refuses exactly those.
func TestSandboxRules(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	own, other := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(own, "own.txt"), []byte("mine"), 0o600)
	os.WriteFile(filepath.Join(other, "secret.txt"), []byte("theirs"), 0o600)
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	probe, _ := json.Marshal(sandboxProbe{Own: own, Other: other, Allowed: ports[0], Refused: ports[1], EngineProcess: os.Getpid()})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, bin string, rules *supervisor.Rules) map[string]string {
		cmd := runHelpersWith(t, bin, supervisor.Spec{Terraform: self, Sandbox: rules}, []string{sandboxProbeEnv + "=" + string(probe)})
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		res := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, rest, _ := strings.Cut(line, " ")
			res[name] = rest
		}
		return res
	}
	// Either supervisor: the separate binary and this one re-executed.
	eachSupervisor(t, func(t *testing.T, bin string) {
		open := run(t, bin, nil)
		boxed := run(t, bin, &supervisor.Rules{
			RODirs:  systemRODirs,
			ROFiles: append(slices.Clone(systemROFiles), self),
			RWDirs:  []string{own},
			RWFiles: systemRWFiles,
			TCP:     []uint16{443, uint16(ports[0])},
		})
		allowed := []string{"read-own", "write-own", "connect-allowed"}
		denied := []string{"read-other", "write-other", "read-etc-passwd", "read-engine-environ", "connect-refused", "listen", "signal-engine"}
		for _, name := range append(allowed, denied...) {
			if open[name] != "ok" {
				t.Errorf("%s fails without the sandbox (the probe proves nothing): %s", name, open[name])
			}
		}
		for _, name := range allowed {
			if boxed[name] != "ok" {
				t.Errorf("sandboxed, %s: %s", name, boxed[name])
			}
		}
		t.Logf("multipath TCP, which Landlock does not restrict: listen %s, connect %s", boxed["listen-mptcp"], boxed["connect-refused-mptcp"])
		for _, name := range denied {
			if !strings.HasPrefix(boxed[name], "denied: ") || !(strings.Contains(boxed[name], "permission denied") || strings.Contains(boxed[name], "operation not permitted")) {
				t.Errorf("sandboxed, %s: %q, want permission denied", name, boxed[name])
			}
		}
	})
}
