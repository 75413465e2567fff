//go:build unix

package atomicfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/escert/escert/internal/fault"
)

// LockFile is created in the directory being changed (a node's config directory); an
// exclusive flock on it keeps two escert runs (an install and a cron renewal, say)
// from interleaving their writes.
const LockFile = ".escert.lock"

// ErrLocked means another escert run holds the config directory.
var ErrLocked = fault.Sentinel(fault.Locked, "another escert run is changing this config directory")

// lockPoll is how often LockWait tries again.
const lockPoll = 20 * time.Millisecond

// Lock takes the config directory's lock without waiting; release it with the
// returned function.
func Lock(dir string) (func(), error) { return LockWait(dir, 0, nil) }

// LockWait takes dir's lock, waiting up to timeout while another run holds it, so
// that writers which must not fail for being second (escert keystore, as
// elasticsearch-keystore never does) queue instead. waiting, when not nil, is called
// once if the lock is taken. The error wraps ErrLocked when the time is up.
func LockWait(dir string, timeout time.Duration, waiting func()) (func(), error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, cause(err))
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			if timeout > 0 {
				return nil, fmt.Errorf("%s: %w (lock %s), still after %s: wait for it to finish, then re-run", dir, ErrLocked, path, timeout)
			}
			return nil, fmt.Errorf("%s: %w (lock %s): wait for it to finish", dir, ErrLocked, path)
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		time.Sleep(lockPoll)
	}
}
