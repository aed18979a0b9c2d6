//go:build !emulator

package main

import awssdk "github.com/aws/aws-sdk-go-v2/aws"

// emulatorBuilt: default builds leave the AWS emulator out.
const emulatorBuilt = false

func startDevEmulator(*Config) (string, *awssdk.Config, func(), error) {
	return "", nil, nil, errNoEmulator
}
