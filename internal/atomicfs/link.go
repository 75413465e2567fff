package atomicfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/escert/escert/internal/fault"
)

// maxLinks is how many symbolic links resolveLink follows, as Linux's path lookup
// (ELOOP after 40).
const maxLinks = 40

// resolveLink follows path while it is a symbolic link and returns where it ends,
// which may not exist yet (a dangling link is created through). Only links of root
// or of this user are followed. Package layouts and
// configuration management link elasticsearch.yml or the keystore to a file
// elsewhere; a rename over the link would replace it with a regular file and leave
// the real file stale.
func resolveLink(path string) (string, error) {
	for range maxLinks {
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && info.Mode()&fs.ModeSymlink == 0) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		// As the kernel's protected_symlinks does in shared directories: whoever can
		// plant a link where root writes (the elasticsearch user, in a config
		// directory it owns) must not steer root's write onto another file.
		if uid, _ := ownerOf(info); uid != 0 && uid != os.Geteuid() {
			return "", fault.BadFile(path, "a symbolic link of uid %d, which escert running as uid %d does not follow, so that no other user can steer its writes onto another file: make it a regular file, or a link of root's or uid %d's", uid, os.Geteuid(), os.Geteuid())
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			// Relative to the link's real directory: a ".." in link climbs out of
			// where the directory is, not out of how path spells it.
			dir, err := filepath.EvalSymlinks(filepath.Dir(path))
			if err != nil {
				return "", err
			}
			link = filepath.Join(dir, link)
		}
		path = link
	}
	return "", syscall.ELOOP
}
