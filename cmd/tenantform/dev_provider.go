package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/tenantform/tenantform/tf/providers"
)

// The hashicorp/aws provider of a dev session against the emulator.
//
// Terraform needs hashicorp/aws at the locked version; offline, nothing can
// download it. An emulator build of tenantform carries a test double of the
// provider (aws/awstest/providerdouble: S3 buckets and DynamoDB tables, the
// emulator only) and serves it by re-executing itself under the provider's
// file name, from a private filesystem mirror in the data directory. Only
// runDev in emulator mode sets this up: serve and reconcile never do, and
// their engines keep the platform's lock.

// Values of dev's --aws-provider flag.
const (
	devProviderAuto     = "auto"
	devProviderDouble   = "double"
	devProviderRegistry = "registry"
)

// defaultProviderMirror is where a real hashicorp/aws is looked for when
// TF_PROVIDER_MIRROR is unset (build machines install it there).
const defaultProviderMirror = "/opt/tf-plugins"

// providerDoubleNote is how the banner, the log and every run's log name
// the double.
const providerDoubleNote = "test double of hashicorp/aws, emulator only"

// providerDoubleExecName is the double's executable in its mirror, the name
// terraform runs it by; main recognises it in os.Args[0].
const providerDoubleExecPrefix = "terraform-provider-aws_v"

// devProvider is the provider choice of one dev session.
type devProvider struct {
	// mirror becomes TF_PROVIDER_MIRROR for the engine ("" keeps the
	// configured one).
	mirror string
	// lock replaces the platform's provider lock (nil keeps it).
	lock *providers.Lock
	// double: the mirror holds the test double.
	double bool
	// note says what was chosen and why, for the banner and the log.
	note string
}

// chooseDevProvider decides where a dev session against the emulator gets
// hashicorp/aws. flag is --aws-provider; configured is TF_PROVIDER_MIRROR.
// "auto" takes the real provider at the locked version from configured
// (else /opt/tf-plugins) when it is there, else the double; "double"
// always the double; "registry" leaves everything as configured (the
// registry, or TF_PROVIDER_MIRROR). doubleVersion is "" when this binary
// carries no double.
func chooseDevProvider(flag, configured, doubleVersion string) (devProvider, error) {
	locked, _ := providers.Platform().Provider("aws")
	switch flag {
	case devProviderRegistry:
		return devProvider{note: "hashicorp/aws " + locked.Version + " from " + orDefault(configured, "the registry")}, nil
	case devProviderAuto, devProviderDouble:
	default:
		return devProvider{}, fmt.Errorf("%w: --aws-provider=%q is not one of auto, double, registry", errUsage, flag)
	}
	if doubleVersion == "" {
		return devProvider{}, errors.New("this tenantform carries no test double of hashicorp/aws; build it with -tags emulator")
	}
	if flag == devProviderAuto {
		mirror := orDefault(configured, defaultProviderMirror)
		if mirrorHolds(mirror, locked.Version) {
			return devProvider{mirror: mirror, note: "hashicorp/aws " + locked.Version + " from the mirror " + mirror}, nil
		}
		return devProvider{double: true, note: fmt.Sprintf("%s: aws_s3_bucket and aws_dynamodb_table, as %s (no hashicorp/aws %s in %s)",
			providerDoubleNote, doubleVersion, locked.Version, mirror)}, nil
	}
	return devProvider{double: true, note: fmt.Sprintf("%s: aws_s3_bucket and aws_dynamodb_table, as %s (--aws-provider=double)",
		providerDoubleNote, doubleVersion)}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mirrorHolds says whether the filesystem mirror dir holds hashicorp/aws
// at version for this platform, unpacked or packed.
func mirrorHolds(dir, version string) bool {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	base := filepath.Join(dir, providers.DefaultRegistry, "hashicorp", "aws")
	unpacked, _ := filepath.Glob(filepath.Join(base, version, platform, "terraform-provider-aws*"))
	for _, f := range unpacked {
		if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return true
		}
	}
	_, err := os.Stat(filepath.Join(base, "terraform-provider-aws_"+version+"_"+platform+".zip"))
	return err == nil
}

// installProviderDouble puts exe (this tenantform binary) into a private
// filesystem mirror under dataDir as hashicorp/aws version, for this
// platform, and returns the mirror and a provider lock that is the
// platform's with hashicorp/aws replaced by exactly that package (its h1
// hash, so terraform checks what it runs). The copy is replaced only when
// exe changed, atomically (a terraform of a previous session never sees a
// half-written provider).
func installProviderDouble(dataDir, exe, version string) (string, *providers.Lock, error) {
	mirror := filepath.Join(dataDir, "aws-provider-double")
	pkgDir := filepath.Join(mirror, providers.DefaultRegistry, "hashicorp", "aws", version, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("cannot create the provider mirror: %w", err)
	}
	target := filepath.Join(pkgDir, providerDoubleExecPrefix+version)
	want, err := fileSHA256(exe)
	if err != nil {
		return "", nil, fmt.Errorf("cannot read this tenantform binary to serve the provider double: %w", err)
	}
	if have, err := fileSHA256(target); err != nil || !bytes.Equal(have, want) {
		if err := copyExecutable(exe, target, dataDir); err != nil {
			return "", nil, fmt.Errorf("cannot install the provider double in %s: %w", mirror, err)
		}
	}
	// The package directory must hold nothing else: terraform hashes it
	// whole.
	entries, err := os.ReadDir(pkgDir)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(target) {
			if err := os.RemoveAll(filepath.Join(pkgDir, e.Name())); err != nil {
				return "", nil, err
			}
		}
	}
	// terraform's h1 package hash of an unpacked directory.
	h1, err := dirhash.HashDir(pkgDir, "", dirhash.Hash1)
	if err != nil {
		return "", nil, err
	}
	var ps []providers.Provider
	for _, p := range providers.Platform().Providers() {
		if p.Type() == "aws" {
			p = providers.Provider{Source: p.Source, Version: version, Hashes: []string{h1}}
		}
		ps = append(ps, p)
	}
	lock, err := providers.New(ps...)
	if err != nil {
		return "", nil, err
	}
	return mirror, lock, nil
}

func fileSHA256(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// copyExecutable copies src to dst through a temporary file in tmpDir
// (outside the mirror, on the same file system) and a rename.
func copyExecutable(src, dst, tmpDir string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(tmpDir, ".provider-double-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// useDevProvider applies the --aws-provider choice to cfg (the engine's
// mirror) and returns the banner's line about it and, when the double
// serves, the provider lock to run it under (else nil: the platform's).
func useDevProvider(cfg *Config, flag string, log *zap.Logger) (string, *providers.Lock, error) {
	p, err := chooseDevProvider(flag, cfg.TFProviderMirror, providerDoubleVersion())
	if err != nil {
		return "", nil, err
	}
	if p.mirror != "" {
		cfg.TFProviderMirror = p.mirror
	}
	if !p.double {
		log.Info("terraform's aws provider", zap.String("provider", p.note))
		return p.note, nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("cannot find this tenantform binary to serve the provider double: %w", err)
	}
	mirror, lock, err := installProviderDouble(cfg.DataDir, exe, providerDoubleVersion())
	if err != nil {
		return "", nil, err
	}
	cfg.TFProviderMirror = mirror
	log.Warn("terraform's aws provider is the "+providerDoubleNote, zap.String("provider", p.note), zap.String("mirror", mirror))
	return p.note, lock, nil
}
