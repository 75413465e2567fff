//go:build unix

package check

import (
	"io/fs"
	"syscall"
)

// ownerOf returns a file's owner and group; -1 when unknown.
func ownerOf(info fs.FileInfo) (uid, gid int) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
