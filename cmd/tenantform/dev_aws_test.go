package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDevAWSMode(t *testing.T) {
	t.Parallel()
	emptyHome := t.TempDir()
	awsHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(awsHome, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(awsHome, ".aws", "credentials"), []byte("[default]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Without the emulator built in, auto means aws.
	emulator := "aws"
	if emulatorBuilt {
		emulator = "emulator"
	}
	for _, tc := range []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"", map[string]string{"HOME": emptyHome}, emulator},
		{"auto", map[string]string{"HOME": emptyHome, "AWS_ACCESS_KEY_ID": "AKID"}, "aws"},
		{"auto", map[string]string{"HOME": emptyHome, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "aws"},
		{"auto", map[string]string{"HOME": awsHome}, "aws"},
		{"aws", map[string]string{"HOME": emptyHome}, "aws"},
	} {
		got, err := devAWSMode(tc.flag, func(k string) string { return tc.env[k] })
		if err != nil || got != tc.want {
			t.Errorf("devAWSMode(%q, %v) = %q, %v; want %q", tc.flag, tc.env, got, err, tc.want)
		}
	}
	if _, err := devAWSMode("localstack", func(string) string { return "" }); err == nil {
		t.Error("an unknown --aws value was accepted")
	}
	got, err := devAWSMode("emulator", func(string) string { return "AKID" })
	if emulatorBuilt && (got != "emulator" || err != nil) || !emulatorBuilt && err != errNoEmulator {
		t.Errorf("--aws=emulator: %q, %v", got, err)
	}
}
