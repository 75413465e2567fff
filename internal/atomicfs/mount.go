package atomicfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// rewriteInPlace writes data into target itself. It is for a target that is a mount
// point: Docker's pattern of bind-mounting a single elasticsearch.yml (or keystore)
// into the container makes every rename over it fail (EBUSY, or EXDEV), so an atomic
// replace can never succeed there. The old content is first copied beside the target
// (target.escert-backup-N, mode 0600), and the user is told that this write was not
// atomic and where the copy is.
func (w Writer) rewriteInPlace(target string, data []byte, perm Perm) error {
	backup, err := copyAside(target)
	if err != nil {
		return fmt.Errorf("back up the mount point before rewriting it in place: %w", err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	// The owner and mode change before the new content goes in, as for a new file.
	if err := fill(f, nil, perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	w.tell("warning: %s is a mount point (a bind-mounted file), which no rename can replace: rewrote it in place, which is not atomic (a crash while writing would leave it torn); its previous content is in %s", target, backup)
	return nil
}

// copyAside copies path to a new file beside it, readable only by this user, and
// returns the copy's name.
func copyAside(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".escert-backup-*")
	if err != nil {
		return "", err
	}
	if err := dst.Chmod(SecretMode); err == nil {
		_, err = io.Copy(dst, src)
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), syncDir(filepath.Dir(path))
}
