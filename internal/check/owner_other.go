//go:build !unix

package check

import "io/fs"

// ownerOf: file owners are a Unix notion here; the owner checks are skipped.
func ownerOf(fs.FileInfo) (uid, gid int) { return -1, -1 }
