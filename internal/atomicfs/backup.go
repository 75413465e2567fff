package atomicfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// backupDirMode lets the group list the backups but not read them (the files are
// 0600). Elasticsearch 9 watches its whole config directory for the file realm and
// refuses to start when it cannot list a subdirectory, so a 0700 directory there
// stops the node.
const backupDirMode fs.FileMode = 0o750

// Backup copies files (config-relative path to content) into
// <config>/escert-backups/<time>/ with mode 0600, in 0750 directories of the config
// directory's group, and returns that directory ("" when there is nothing to keep).
func (w Writer) Backup(configDir string, now time.Time, files map[string][]byte) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	config, err := os.Stat(configDir)
	if err != nil {
		return "", fmt.Errorf("back up into %s: %w", configDir, err)
	}
	// Two runs in one second (a re-run after a failure) must not overwrite each
	// other's backups.
	base := filepath.Join(configDir, "escert-backups", now.UTC().Format("20060102T150405Z"))
	dir := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	for rel, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := mkdirAllLike(configDir, filepath.Dir(dst), backupDirMode, config); err != nil {
			return "", fmt.Errorf("create backup directory: %w", err)
		}
		if err := w.WriteFile(dst, data, SecretMode); err != nil {
			return "", fmt.Errorf("back up %s: %w", rel, err)
		}
	}
	return dir, nil
}

// mkdirAllLike creates dir and its missing parents below root with mode, giving each
// new directory the group of like (the config directory), so whoever can list the
// config directory can list them too.
func mkdirAllLike(root, dir string, mode fs.FileMode, like fs.FileInfo) error {
	if dir == root {
		return nil
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := mkdirAllLike(root, filepath.Dir(dir), mode, like); err != nil {
		return err
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil { // the umask may have narrowed it
		return err
	}
	return chownGroupLike(dir, like)
}

// MakeDir creates the directory path with perm's mode and owner unless it exists,
// and syncs its parent so that the new directory survives a crash.
func MakeDir(path string, perm Perm) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Mkdir(path, perm.Mode); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if perm.UID != -1 || perm.GID != -1 {
		if err := os.Chown(path, perm.UID, perm.GID); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return syncDir(filepath.Dir(path))
}
