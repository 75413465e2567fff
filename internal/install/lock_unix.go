//go:build unix

package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is created in the config directory; an exclusive flock on it keeps two
// escert runs (an install and a cron renewal, say) from interleaving their writes.
const LockFile = ".escert.lock"

// ErrLocked means another escert run holds the config directory.
var ErrLocked = errors.New("another escert run is changing this config directory")

// Lock takes the config directory's lock without waiting; release it with the
// returned function.
func Lock(dir string) (func(), error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (lock %s): wait for it to finish", dir, ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
