// Command emulator runs the AWS emulator of package awstest (kumo with the
// Tagging API) as a process of its own, for tests that must not share a
// process with it (the crash suite kills and restarts everything else
// around it). TEST ONLY: it is never built into tenantform.
//
// It listens on 127.0.0.1 (a free port), prints one line
//
//	EMULATOR_URL=http://127.0.0.1:PORT
//
// on stdout once it serves, and stops on SIGINT or SIGTERM, or when its
// stdin closes (so that it dies with the test that started it).
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tenantform/tenantform/aws/awstest"
)

func main() {
	emu, err := awstest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
	defer emu.Close()
	fmt.Printf("EMULATOR_URL=%s\n", emu.URL)
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-stdinClosed:
	}
}
