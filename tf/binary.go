package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"go.uber.org/zap"
)

// MinVersion is the oldest terraform the engine supports: 1.5 has every
// command and flag it uses, and the pg backend with per-workspace ids.
var MinVersion = version.Must(version.NewVersion("1.5.0"))

// DefaultInstallVersion is the release FindBinary installs when no usable
// terraform is found. Pinned: a reconciler must not change terraform
// versions behind the operator's back.
var DefaultInstallVersion = version.Must(version.NewVersion("1.11.4"))

// FindOptions says where FindBinary looks. The caller (cmd/) reads the
// process environment; this package never does.
type FindOptions struct {
	// TFPath is an explicit binary (the TF_PATH variable). When set it is
	// the only candidate: an operator who names a binary means that one.
	TFPath string
	// SearchPath is a PATH-style list to search for "terraform". Empty
	// means the process's PATH.
	SearchPath string
	// InstallDir enables installation: when neither TFPath nor the search
	// path yields a usable terraform, InstallVersion is downloaded from
	// releases.hashicorp.com into InstallDir/terraform_<version>/, its
	// SHA256SUMS signature checked against HashiCorp's public key and the
	// archive against those sums (hashicorp/hc-install). This needs
	// internet access; later calls reuse the installed binary offline.
	// Empty disables installation.
	InstallDir     string
	InstallVersion *version.Version
	Logger         *zap.Logger
}

// FindBinary returns a terraform binary and its version: TFPath, else the
// first terraform on the search path, else an installed release. Versions
// older than MinVersion are refused.
func FindBinary(ctx context.Context, opts FindOptions) (string, *version.Version, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if opts.TFPath != "" {
		v, err := BinaryVersion(ctx, opts.TFPath)
		if err != nil {
			return "", nil, fmt.Errorf("TF_PATH %s: %w", opts.TFPath, err)
		}
		if err := checkVersion(opts.TFPath, v); err != nil {
			return "", nil, err
		}
		return opts.TFPath, v, nil
	}

	var tooOld error
	if path, err := lookPath("terraform", opts.SearchPath); err == nil {
		v, err := BinaryVersion(ctx, path)
		switch {
		case err != nil:
			log.Warn("ignoring unusable terraform on PATH", zap.String("path", path), zap.Error(err))
		case checkVersion(path, v) != nil:
			tooOld = checkVersion(path, v)
			log.Warn("ignoring terraform on PATH", zap.Error(tooOld))
		default:
			return path, v, nil
		}
	}

	if opts.InstallDir == "" {
		if tooOld != nil {
			return "", nil, tooOld
		}
		return "", nil, fmt.Errorf("%w: set TF_PATH, put terraform >= %s on PATH, or allow installation", ErrBinaryNotFound, MinVersion)
	}
	want := opts.InstallVersion
	if want == nil {
		want = DefaultInstallVersion
	}
	if want.Core().LessThan(MinVersion) {
		return "", nil, fmt.Errorf("cannot install terraform %s: tenantform needs %s or newer", want, MinVersion)
	}
	dir := filepath.Join(opts.InstallDir, "terraform_"+want.String())
	bin := filepath.Join(dir, product.Terraform.BinaryName())
	if v, err := BinaryVersion(ctx, bin); err == nil && v.Equal(want) {
		return bin, v, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	log.Info("installing terraform", zap.Stringer("version", want), zap.String("dir", dir))
	inst := &releases.ExactVersion{
		Product:    product.Terraform,
		Version:    want,
		InstallDir: dir,
		Timeout:    5 * time.Minute,
	}
	bin, err := inst.Install(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("installing terraform %s (needs access to releases.hashicorp.com): %w", want, err)
	}
	v, err := BinaryVersion(ctx, bin)
	if err != nil {
		return "", nil, err
	}
	return bin, v, nil
}

func checkVersion(path string, v *version.Version) error {
	// Core() drops pre-release suffixes: a source build of 1.5.7 reports
	// "1.5.7-dev", which go-version would otherwise order before 1.5.7.
	if v.Core().LessThan(MinVersion) {
		return fmt.Errorf("terraform at %s is version %s; tenantform needs %s or newer", path, v, MinVersion)
	}
	return nil
}

// BinaryVersion runs `terraform version -json` with an empty environment
// and returns the reported version.
func BinaryVersion(ctx context.Context, path string) (*version.Version, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version", "-json")
	cmd.Env = []string{"CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null", "HOME=" + os.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running %s version: %w", path, err)
	}
	var doc struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || doc.Version == "" {
		return nil, fmt.Errorf("%s does not look like terraform (version -json said %q)", path, strings.TrimSpace(string(out)))
	}
	return version.NewVersion(doc.Version)
}

// lookPath is exec.LookPath over an explicit PATH list.
func lookPath(file, searchPath string) (string, error) {
	if searchPath == "" {
		return exec.LookPath(file)
	}
	for _, dir := range filepath.SplitList(searchPath) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("terraform not found on the search path")
}
