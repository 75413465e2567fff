//go:build !linux

package atomicfs

import "os"

// Without syncfs(2), each staged file is synced as it is written and every staged
// directory before the rename.
const syncEachStagedFile = true

func syncStaged(_ *os.File, dirs map[string]bool) error {
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
