//go:build !emulator

package main

// emulatorBuilt: default builds leave the AWS emulator out.
const emulatorBuilt = false

func startDevEmulator(*Config) (string, func(), error) { return "", nil, errNoEmulator }
