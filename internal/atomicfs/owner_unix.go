//go:build unix

package atomicfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

func ownerOf(info fs.FileInfo) (uid, gid int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// chownGroupLike gives path the group of like. Without the right to (a non-root run
// in a directory of another group) the new directory keeps the caller's group, which
// is then the group Elasticsearch runs as.
func chownGroupLike(path string, like fs.FileInfo) error {
	_, want := ownerOf(like)
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if _, gid := ownerOf(info); want < 0 || gid == want {
		return nil
	}
	if err := os.Lchown(path, -1, want); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return nil
}
