package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantform/tenantform/api"
)

// devSecretFile is where dev mode keeps its generated JWT secret, inside
// the data directory, so tokens survive restarts and `tenantform token`
// can sign for the same server.
const devSecretFile = "jwt-secret"

// runToken is `tenantform token`: print a signed API token.
func runToken(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	flags := newFlagSet("token", "token --user U [--admin] [--ttl 1h] [--data-dir DIR]", stderr)
	user := flags.String("user", "", "user id the token acts as (its sub claim)")
	admin := flags.Bool("admin", false, "let the token act for any user")
	ttl := flags.Duration("ttl", time.Hour, "how long the token is valid")
	dataDir := flags.String("data-dir", "", "dev data directory whose secret signs the token when JWT_SECRET is unset (default TENANTFORM_DATA_DIR or the per-user default)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(stderr, "tenantform token: --user is required")
		flags.Usage()
		return errUsage
	}
	if *dataDir != "" {
		getenv = withEnv(getenv, "TENANTFORM_DATA_DIR", *dataDir)
	}
	cfg, err := parseConfig(modeToken, getenv)
	if err != nil {
		return configError{err}
	}
	secret := cfg.JWTSecret
	if secret == "" {
		secret, err = devJWTSecret(cfg.DataDir, false)
		if err != nil {
			return err
		}
	}
	tok, err := api.SignToken([]byte(secret), *user, *admin, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// devJWTSecret returns the secret kept in dataDir. With create it makes a
// random one (256 bits, hex) on first use, readable only by this user;
// without, a missing secret is an error that says what to do.
func devJWTSecret(dataDir string, create bool) (string, error) {
	path := filepath.Join(dataDir, devSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot read the dev JWT secret: %w", err)
	}
	if !create {
		return "", fmt.Errorf("JWT_SECRET is not set and %s does not exist; set JWT_SECRET to the server's secret, or run `tenantform dev` once (or pass its --data-dir)", path)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	// O_EXCL: two dev processes starting at once must not each write a
	// different secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return devJWTSecret(dataDir, false)
	}
	if err != nil {
		return "", fmt.Errorf("cannot store the dev JWT secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return s, f.Close()
}
