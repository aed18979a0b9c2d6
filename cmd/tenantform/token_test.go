package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type tokenClaims struct {
	Admin bool `json:"admin"`
	jwt.RegisteredClaims
}

// verify checks tok the way a server with secret would.
func verify(t *testing.T, tok, secret string) tokenClaims {
	t.Helper()
	var c tokenClaims
	_, err := jwt.ParseWithClaims(strings.TrimSpace(tok), &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return c
}

func TestTokenFromJWTSecret(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("z", 40)
	var stdout, stderr bytes.Buffer
	before := time.Now()
	code := run([]string{"token", "--user", "alice", "--admin", "--ttl", "2h"}, &stdout, &stderr, env{"HOME": "/h", "JWT_SECRET": secret}.get)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	c := verify(t, stdout.String(), secret)
	if c.Subject != "alice" || !c.Admin {
		t.Errorf("sub=%q admin=%v, want alice, true", c.Subject, c.Admin)
	}
	if exp := c.ExpiresAt.Time; exp.Before(before.Add(2*time.Hour-time.Second)) || exp.After(time.Now().Add(2*time.Hour+time.Second)) {
		t.Errorf("expires %s, want two hours from now", exp)
	}

	// Not admin unless asked; one hour by default.
	stdout.Reset()
	if code := run([]string{"token", "--user", "bob"}, &stdout, &stderr, env{"HOME": "/h", "JWT_SECRET": secret}.get); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	c = verify(t, stdout.String(), secret)
	if c.Subject != "bob" || c.Admin || time.Until(c.ExpiresAt.Time) > time.Hour {
		t.Errorf("got %+v", c)
	}
}

func TestTokenFromDevDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, err := devJWTSecret(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := devJWTSecret(dir, true); again != secret {
		t.Error("a second call made a new secret; dev tokens would not survive a restart")
	}
	if fi, err := os.Stat(filepath.Join(dir, devSecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v, mode %v; want 0600", err, fi.Mode())
	}
	for _, e := range []env{{"HOME": "/h", "TENANTFORM_DATA_DIR": dir}, {"HOME": "/h"}} {
		args := []string{"token", "--user", "demo"}
		if e["TENANTFORM_DATA_DIR"] == "" {
			args = append(args, "--data-dir", dir)
		}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, e.get); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		verify(t, stdout.String(), secret)
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("z", 40)
	tests := []struct {
		name string
		args []string
		env  env
		code int
		want string
	}{
		{"no user", []string{"token"}, env{"JWT_SECRET": secret}, 2, "--user is required"},
		{"bad user id", []string{"token", "--user", "Alice!"}, env{"JWT_SECRET": secret}, 1, `user id "Alice!" must be`},
		{"negative ttl", []string{"token", "--user", "a", "--ttl", "-1h"}, env{"JWT_SECRET": secret}, 1, "ttl -1h0m0s must be positive"},
		{"no secret anywhere", []string{"token", "--user", "a", "--data-dir", "/nonexistent/tf"}, env{}, 1, "JWT_SECRET is not set and /nonexistent/tf/jwt-secret does not exist"},
		{"stray argument", []string{"token", "--user", "a", "extra"}, env{"JWT_SECRET": secret}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.env["HOME"] = "/h"
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr, tt.env.get)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tt.code, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a token on failure: %s", stdout.String())
			}
		})
	}
}

func TestUsageAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{args: nil, code: 2, err: "Usage:"},
		{args: []string{"help"}, code: 0, out: "Usage:"},
		{args: []string{"-h"}, code: 0, out: "Usage:"},
		{args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`},
		{args: []string{"version"}, code: 0, out: "tenantform "},
		{args: []string{"serve", "-h"}, code: 0, err: "Usage: tenantform serve"},
		{args: []string{"dev", "--bogus"}, code: 2, err: "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr, env{"HOME": "/h"}.get)
		if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.err) {
			t.Errorf("%q: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.code, stdout.String(), stderr.String())
		}
	}
}
