//go:build emulator

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantform/tenantform/aws/awstest"
	"github.com/tenantform/tenantform/aws/awstest/providerdouble"
)

// emulatorBuilt: this binary carries the AWS emulator (-tags emulator).
const emulatorBuilt = true

// startDevEmulator starts the in-process AWS emulator (kumo with a Tagging
// API; package aws/awstest) and points terraform's aws provider at it.
// Tenant resources then live in memory until dev mode stops. It returns the
// emulator's URL and a function that stops it.
func startDevEmulator(cfg *Config) (string, func(), error) {
	emu, err := awstest.Start()
	if err != nil {
		return "", nil, fmt.Errorf("cannot start the AWS emulator: %w", err)
	}
	cfg.AWSEndpointURL = emu.URL
	return emu.URL, emu.Close, nil
}

// providerDoubleVersion is the version the test double of hashicorp/aws
// is installed as (awstest.ProviderVersion, as the tests install it).
func providerDoubleVersion() string { return awstest.ProviderVersion }

// isProviderDoubleExec says whether this process was started by terraform
// as the provider double dev mode installed (installProviderDouble): by
// the executable's file name, the way terraform runs a provider, with no
// arguments.
func isProviderDoubleExec(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), providerDoubleExecPrefix)
}

// serveProviderDouble serves the test double of hashicorp/aws to the
// terraform that started this process. Every configuration of it warns,
// so that each run's log says which provider ran; it talks to loopback
// endpoints only (the in-process emulator).
func serveProviderDouble() int {
	err := providerdouble.Serve(context.Background(), providerdouble.Options{
		Warning: providerDoubleNote,
		WarningDetail: "tenantform dev found no real hashicorp/aws (TF_PROVIDER_MIRROR, else " + defaultProviderMirror +
			") and serves its own test double of the provider: aws_s3_bucket and aws_dynamodb_table only, against the emulator on this machine. " +
			"Install the real provider in a filesystem mirror for everything else.",
		LoopbackOnly: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantform (provider double):", err)
		return 1
	}
	return 0
}
