package tf

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf/providers"
)

// What `terraform init` leaves in a workdir (.terraform and the dependency
// lock file) depends only on what the init digest covers: the binary, the
// CLI configuration, the provider lock, the generated backend and provider
// files, and the init-relevant parts of the tenant configuration (module
// sources and provider requirements). So every project with the same
// digest (every terraform_data project; every project using the aws
// provider and the same modules) gets the same result, and a new project
// can start from a copy of it instead of running init: one terraform
// process fewer on the path that matters most to users, a new project.
//
// A snapshot is taken right after a successful init into a workdir that
// had no .terraform (a tenant's files can never be there, safeFileName),
// before any command evaluates the tenant's configuration, and kept
// outside every workdir, where no sandboxed terraform process may write. Restoring one writes the
// platform's lock (checked with lockIntact, as after an init). Provider
// plugins stay in the shared plugin cache: a workdir links to them. A
// snapshot holding large files (a provider copied rather than linked,
// downloaded modules) is not taken: copying it would cost more than init.

const (
	// initSnapshotsDir holds one snapshot per init digest, under WorkRoot.
	initSnapshotsDir = ".tenantform-inits"
	// maxInitSnapshotBytes bounds the regular files of one snapshot.
	maxInitSnapshotBytes = 4 << 20
	// maxInitSnapshots bounds how many are kept (the least recently used
	// go first).
	maxInitSnapshots = 64
)

// initSnapshot is where the snapshot of digest is kept.
func (e *Engine) initSnapshot(digest string) string {
	return filepath.Join(e.cfg.WorkRoot, initSnapshotsDir, digest)
}

// restoreInit brings the workdir to what an init with the run's digest
// leaves, from a snapshot, and reports whether it could.
func (r *run) restoreInit() bool {
	snap := r.e.initSnapshot(r.initDigest)
	if _, err := os.Stat(snap); err != nil {
		return false
	}
	dotTerraform := filepath.Join(r.dir, ".terraform")
	if err := os.RemoveAll(dotTerraform); err != nil {
		return false
	}
	err := copyTree(filepath.Join(snap, ".terraform"), dotTerraform)
	if err == nil {
		err = copyFile(filepath.Join(snap, providers.LockFileName), filepath.Join(r.dir, providers.LockFileName))
	}
	if err != nil || !r.lockIntact() {
		r.e.log.Warn("cannot use the init snapshot; running init", zap.String("snapshot", snap), zap.Error(err))
		os.RemoveAll(dotTerraform)
		return false
	}
	now := time.Now()
	os.Chtimes(snap, now, now) // recently used: kept longest
	r.log.note("no init: the workdir starts from a snapshot of an identical init")
	return true
}

// saveInit keeps the workdir's init result as the snapshot of its digest.
// Failing to is not an error: the next new project runs init.
func (r *run) saveInit() {
	snap := r.e.initSnapshot(r.initDigest)
	if _, err := os.Stat(snap); err == nil {
		return
	}
	if size, err := treeSize(filepath.Join(r.dir, ".terraform")); err != nil || size > maxInitSnapshotBytes {
		return
	}
	parent := filepath.Dir(snap)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return
	}
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	err = copyTree(filepath.Join(r.dir, ".terraform"), filepath.Join(tmp, ".terraform"))
	if err == nil {
		err = copyFile(filepath.Join(r.dir, providers.LockFileName), filepath.Join(tmp, providers.LockFileName))
	}
	// Not the workdir's own records: the digest file is written by
	// ensureInit, and the selected workspace is the project's.
	for _, name := range []string{initHashFile, environmentFile} {
		os.Remove(filepath.Join(tmp, name))
	}
	if err != nil {
		r.e.log.Warn("cannot keep the init snapshot", zap.Error(err))
		return
	}
	if err := os.Rename(tmp, snap); err != nil {
		return // another engine on this work root kept one first
	}
	pruneInitSnapshots(parent, maxInitSnapshots)
}

// pruneInitSnapshots removes the least recently used snapshots beyond keep.
func pruneInitSnapshots(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type snap struct {
		path string
		used time.Time
	}
	var snaps []snap
	for _, en := range entries {
		if fi, err := en.Info(); err == nil && en.IsDir() && en.Name()[0] != '.' {
			snaps = append(snaps, snap{filepath.Join(dir, en.Name()), fi.ModTime()})
		}
	}
	if len(snaps) <= keep {
		return
	}
	slices.SortFunc(snaps, func(a, b snap) int { return b.used.Compare(a.used) })
	for _, s := range snaps[keep:] {
		os.RemoveAll(s.path)
	}
}

// treeSize is the size of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	})
	return size, err
}

// copyTree copies directories, regular files and symbolic links (as links:
// provider plugins link into the shared cache) from src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return fmt.Errorf("%s: not a file, directory or link", path)
		}
	})
}

// copyFile copies a regular file, keeping its permission bits (provider
// binaries are executable).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
