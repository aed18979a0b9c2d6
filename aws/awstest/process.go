package awstest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// StartProcess runs a binary built from aws/awstest/cmd/emulator as a
// process of its own and returns its URL, for tests that kill and restart
// everything around the emulator (the crash suite) or measure a
// reconciler's own process (the steady-state benchmark). It stops when
// the test ends: its stdin, held by this process, closes.
func StartProcess(t testing.TB, bin string) string {
	t.Helper()
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the emulator did not start: %v", err)
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "EMULATOR_URL=")
	if !ok {
		t.Fatalf("the emulator said %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return u
}
