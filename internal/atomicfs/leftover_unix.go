//go:build unix

package atomicfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tempPrefix is how the temporary files and staging directories of target are named:
// ".<name>.escert-", followed by the digits os.CreateTemp and os.MkdirTemp add.
func tempPrefix(target string) string { return "." + filepath.Base(target) + ".escert-" }

// removeLeftovers removes what a killed run left beside target: its staging
// directories (dirs) or temporary files, which hold CA keys, private keys and
// passwords that no later run would ever look at again. Only entries of escert's
// exact name pattern and kind, owned by this user and held by no running escert
// (which keeps a lock on its temporaries) are removed; each removal is told.
func (w Writer) removeLeftovers(target string, dirs bool) {
	parent, prefix := filepath.Dir(target), tempPrefix(target)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return // the write that follows reports a directory it cannot use
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		path := filepath.Join(parent, e.Name())
		removed, err := removeLeftover(path, dirs)
		switch {
		case err != nil:
			w.tell("could not remove the leftover of an interrupted run %s: %v: remove it by hand", path, cause(err))
		case removed:
			w.tell("removed the leftover of an interrupted run: %s", path)
		}
	}
}

// removeLeftover removes path when it is escert's: of the kind asked for, owned by
// this user, and not locked by a running escert.
func removeLeftover(path string, dir bool) (bool, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	if uid, _ := ownerOf(info); uid != os.Geteuid() || info.IsDir() != dir || (!dir && !info.Mode().IsRegular()) {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if dir {
		return true, os.RemoveAll(path)
	}
	return true, os.Remove(path)
}

// holdTemp opens and locks a staging directory for as long as it is being filled.
func holdTemp(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := lockTemp(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockTemp marks a temporary file or staging directory as a running escert's until
// f is closed, so removeLeftovers leaves it alone.
func lockTemp(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
