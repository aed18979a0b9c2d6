//go:build !emulator

package main

// emulatorBuilt: default builds leave the AWS emulator out.
const emulatorBuilt = false

func startDevEmulator(*Config) (string, func(), error) { return "", nil, errNoEmulator }

// Default builds carry no test double of hashicorp/aws.
func providerDoubleVersion() string    { return "" }
func isProviderDoubleExec(string) bool { return false }
func serveProviderDouble() int         { return 1 }
