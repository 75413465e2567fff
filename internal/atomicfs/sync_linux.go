package atomicfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// A staged file is not synced on its own: syncStaged syncs the whole file system
// once before the tree is renamed into place. Thousands of per-file fsyncs each wait
// on the journal (on a VM's disk they made a 100-node bootstrap spend more time
// creating files than issuing certificates); one syncfs(2) gives the same guarantee,
// every file and directory of the tree on disk before the rename, in one wait.
const syncEachStagedFile = false

// syncStaged syncs the file system holding the staging directory root (dirs are
// covered with it). It also flushes whatever else is pending on that file system,
// which only costs time.
func syncStaged(root *os.File, _ map[string]bool) error {
	return unix.Syncfs(int(root.Fd()))
}
