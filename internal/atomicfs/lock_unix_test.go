//go:build unix

package atomicfs

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/escert/escert/internal/fault"
)

// TestLockWaitQueuesBehindAnotherRunAndGivesUpInTime: a writer that waits for the
// lock gets it when the holder lets go, having been told once that it waits; one that
// waits too long gives up with ErrLocked naming the lock file.
func TestLockWaitQueuesBehindAnotherRunAndGivesUpInTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockWait(dir, 100*time.Millisecond, nil)
	if want := dir + ": another escert run is changing this config directory (lock " + filepath.Join(dir, LockFile) + "), still after 100ms: wait for it to finish, then re-run"; !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("LockWait while held = %v, want %q", err, want)
	}

	waited := 0
	got := make(chan error)
	go func() {
		again, err := LockWait(dir, time.Minute, func() { waited++ })
		if err == nil {
			again()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("LockWait returned %v while the lock was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	if err := <-got; err != nil || waited != 1 {
		t.Fatalf("LockWait after the release = %v, told it waits %d times; want the lock, told once", err, waited)
	}
}

// TestLockKeepsASecondRunOut: while one run holds a directory's lock, another is
// refused at once with ErrLocked, of kind Locked (retry when it is done); once it is
// released the lock can be taken again.
func TestLockKeepsASecondRunOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	if !errors.Is(err, ErrLocked) || fault.KindOf(err) != fault.Locked {
		t.Fatalf("second lock = %v (kind %v), want ErrLocked of kind locked", err, fault.KindOf(err))
	}
	unlock()
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
