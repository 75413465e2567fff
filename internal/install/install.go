// Package install is the only package in escert that writes files. Every write is
// atomic: content goes to a temporary file in the destination directory, is synced,
// renamed over the target and the directory is synced, so a crash leaves either the
// old file or the new one, never a torn mix. Secrets are created with their final
// mode, never widened later.
package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file of a tree to install, relative to the tree's root.
type File struct {
	Path string      // slash-separated, relative
	Mode fs.FileMode // 0600 for secrets, 0644 for public certificates
	Data []byte
}

// Mode bits for the files escert writes.
const (
	SecretMode fs.FileMode = 0o600
	PublicMode fs.FileMode = 0o644
	dirMode    fs.FileMode = 0o700
)

// ErrNotEmpty is returned when the output directory already has content and the
// caller did not ask to replace it.
var ErrNotEmpty = errors.New("output directory is not empty")

// WriteTree installs files as the directory dir, all or nothing. The tree is built in
// a hidden staging directory beside dir and renamed into place, so a failure leaves
// nothing behind. An existing empty dir is replaced; one with content is refused
// with ErrNotEmpty unless replace is set, in which case it is kept as
// dir.bak-<time> and that path is returned.
func WriteTree(dir string, files []File, replace bool, now time.Time) (backup string, err error) {
	dir = filepath.Clean(dir)
	empty, exists, err := isEmptyDir(dir)
	if err != nil {
		return "", err
	}
	if exists && !empty && !replace {
		return "", fmt.Errorf("%s: %w: use --force to replace it (the old one is kept as a backup)", dir, ErrNotEmpty)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", parent, err)
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".escert-")
	if err != nil {
		return "", fmt.Errorf("create staging directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	if err := writeAll(staging, files); err != nil {
		return "", err
	}
	if exists {
		if empty {
			if err := os.Remove(dir); err != nil {
				return "", fmt.Errorf("replace empty %s: %w", dir, err)
			}
		} else {
			backup = fmt.Sprintf("%s.bak-%s", dir, now.UTC().Format("20060102T150405Z"))
			if err := os.Rename(dir, backup); err != nil {
				return "", fmt.Errorf("keep %s as backup: %w", dir, err)
			}
		}
	}
	if err := os.Rename(staging, dir); err != nil {
		if backup != "" {
			// Put the old tree back: the caller asked to replace, not to lose it.
			if rerr := os.Rename(backup, dir); rerr == nil {
				backup = ""
			}
		}
		return backup, fmt.Errorf("move %s into place: %w", dir, err)
	}
	return backup, syncDir(parent)
}

func writeAll(root string, files []File) error {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	dirs := map[string]bool{root: true}
	for _, f := range sorted {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("refusing to write %q outside the output directory", f.Path)
		}
		path := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
			return fmt.Errorf("create directory for %s: %w", f.Path, err)
		}
		for d := filepath.Dir(path); strings.HasPrefix(d, root) && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := writeNew(path, f.Data, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// Perm is the mode and owner a file must end up with. UID or GID -1 leaves that part
// to the process (the file's creator).
type Perm struct {
	Mode     fs.FileMode
	UID, GID int
}

// PermOf returns the mode and owner of an existing file, or fallback (owned by the
// process) when it does not exist, so that a rewrite never changes who may read it.
func PermOf(path string, fallback fs.FileMode) (Perm, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Perm{Mode: fallback, UID: -1, GID: -1}, nil
	}
	if err != nil {
		return Perm{}, err
	}
	uid, gid := ownerOf(info)
	return Perm{Mode: info.Mode().Perm(), UID: uid, GID: gid}, nil
}

// WriteFile atomically replaces (or creates) path with data and mode: temp file in the
// same directory, created with mode, fsync, rename, fsync the directory.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	return WriteFileAs(path, data, Perm{Mode: mode, UID: -1, GID: -1})
}

// WriteFileAs is WriteFile with an owner: the temporary file gets its owner and mode
// before any byte is written, so the content is never readable by anyone else, and
// the rename swaps in a complete file.
func WriteFileAs(path string, data []byte, perm Perm) error {
	mode := perm.Mode
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".escert-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	tmp.Close()
	os.Remove(name)
	if err := writeNewAs(name, data, mode, perm.UID, perm.GID); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	faultPoint()
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	faultPoint()
	return syncDir(dir)
}

// Replacement is one file of a group that must change together.
type Replacement struct {
	Path string
	Data []byte
	Perm Perm
}

// ReplaceTogether writes every file to a temporary file first and only then renames
// them into place back to back, so files that must match (a PEM key and its
// certificate) are apart for the time of one rename, never for the time of a write.
func ReplaceTogether(files []Replacement) error {
	temps := make([]string, len(files))
	defer func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()
	for i, f := range files {
		tmp, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".escert-*")
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		name := tmp.Name()
		tmp.Close()
		os.Remove(name)
		if err := writeNewAs(name, f.Data, f.Perm.Mode, f.Perm.UID, f.Perm.GID); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		temps[i] = name
		faultPoint()
	}
	dirs := map[string]bool{}
	for i, f := range files {
		if err := os.Rename(temps[i], f.Path); err != nil {
			return fmt.Errorf("move %s into place: %w", f.Path, err)
		}
		temps[i] = ""
		dirs[filepath.Dir(f.Path)] = true
		faultPoint()
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// Move is one rename of MoveFiles.
type Move struct{ From, To string }

// MoveFiles renames files in order, creating target directories (0700) and syncing
// every directory touched. A move whose source is gone and whose target exists was
// done by an earlier, interrupted run and is skipped, so re-running finishes the job.
func MoveFiles(moves []Move) error {
	dirs := map[string]bool{}
	for _, m := range moves {
		if _, err := os.Stat(m.From); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(m.To); err == nil {
				continue
			}
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		if err := os.MkdirAll(filepath.Dir(m.To), dirMode); err != nil {
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		if err := os.Rename(m.From, m.To); err != nil {
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		dirs[filepath.Dir(m.From)], dirs[filepath.Dir(m.To)] = true, true
		faultPoint()
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path exclusively with its final mode (no window where a secret is
// readable by others), writes and syncs it.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	return writeNewAs(path, data, mode, -1, -1)
}

func writeNewAs(path string, data []byte, mode fs.FileMode, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if uid != -1 || gid != -1 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return err
		}
	}
	// The umask may have narrowed the mode; Chmod makes it exact (never wider than asked).
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func isEmptyDir(dir string) (empty, exists bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, false, nil
	case err != nil:
		return false, true, fmt.Errorf("read %s: %w", dir, err)
	}
	return len(entries) == 0, true, nil
}
