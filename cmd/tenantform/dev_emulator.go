//go:build emulator

package main

import (
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tenantform/tenantform/aws/awstest"
)

// emulatorBuilt: this binary carries the AWS emulator (-tags emulator).
const emulatorBuilt = true

// startDevEmulator starts the in-process AWS emulator (kumo with a Tagging
// API; package aws/awstest) and points terraform's aws provider at it.
// Tenant resources then live in memory until dev mode stops. It returns the
// emulator's URL, the SDK configuration that talks to it and a function
// that stops it.
func startDevEmulator(cfg *Config) (string, *awssdk.Config, func(), error) {
	emu, err := awstest.Start()
	if err != nil {
		return "", nil, nil, fmt.Errorf("cannot start the AWS emulator: %w", err)
	}
	cfg.AWSEndpointURL = emu.URL
	base := emu.Config()
	return emu.URL, &base, emu.Close, nil
}
