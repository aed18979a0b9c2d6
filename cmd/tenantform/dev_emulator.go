//go:build emulator

package main

import (
	"fmt"

	"github.com/tenantform/tenantform/aws/awstest"
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
