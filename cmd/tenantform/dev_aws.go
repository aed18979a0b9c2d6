package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// Values of dev's --aws flag.
const (
	devAWSAuto     = "auto"
	devAWSEmulator = "emulator"
	devAWSReal     = "aws"
)

// devAWSMode resolves --aws: "emulator" runs an in-process AWS emulator,
// "aws" uses whatever AWS the environment configures, and "auto" (the
// default) picks the emulator when this binary has one (built with -tags
// emulator) and the environment names no AWS credentials or endpoint at
// all, so that a laptop without an AWS account gets a working loop.
func devAWSMode(flag string, getenv func(string) string) (string, error) {
	switch flag {
	case devAWSEmulator:
		if !emulatorBuilt {
			return "", errNoEmulator
		}
		return flag, nil
	case devAWSReal:
		return flag, nil
	case devAWSAuto, "":
	default:
		return "", fmt.Errorf("--aws=%q is not one of auto, emulator, aws", flag)
	}
	if !emulatorBuilt {
		return devAWSReal, nil
	}
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL",
	} {
		if getenv(v) != "" {
			return devAWSReal, nil
		}
	}
	if home := getenv("HOME"); home != "" {
		for _, f := range []string{"credentials", "config"} {
			if _, err := os.Stat(filepath.Join(home, ".aws", f)); err == nil {
				return devAWSReal, nil
			}
		}
	}
	return devAWSEmulator, nil
}

// errNoEmulator: the emulator is left out of default builds (it adds about
// 17 MB, half the binary again, to what production ships).
var errNoEmulator = fmt.Errorf("this tenantform was built without the AWS emulator; " +
	"build or run it with -tags emulator: go run -tags emulator ./cmd/tenantform dev --aws=emulator")
