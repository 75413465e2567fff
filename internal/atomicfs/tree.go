package atomicfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Tree is a directory tree being built beside its destination, to be moved into
// place whole by Commit or removed by Discard. Files are added as they are made,
// so a caller writing thousands of node bundles holds one bundle in memory at a time,
// not all of them. Add may be called from several goroutines.
type Tree struct {
	w                      Writer
	given, dir, staging    string
	exists, empty, replace bool
	held                   *os.File
	mu                     sync.Mutex
	dirs                   map[string]bool // created below staging, to sync where syncfs is missing
	done                   bool
}

// StageTree starts the tree that Commit will install as dir, all or nothing: in a
// hidden staging directory beside dir. An existing empty dir will be replaced; one
// with content is refused now with ErrNotEmpty unless replace is set, in which case
// Commit keeps it as dir.bak-<time>. A dir that is a symbolic link is filled through
// it: the tree goes where the link points and the link stays. The staging directory
// of an earlier, killed run is removed first (see removeLeftovers).
func (w Writer) StageTree(dir string, replace bool) (*Tree, error) {
	given := filepath.Clean(dir)
	dir, err := resolveLink(given)
	if err != nil {
		return nil, writeError(given, given, err)
	}
	empty, exists, err := isEmptyDir(dir)
	if err != nil {
		return nil, err
	}
	if exists && !empty && !replace {
		return nil, fmt.Errorf("%s: %w: use --force to replace it (the old one is kept as a backup)", given, ErrNotEmpty)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, writeError(given, dir, err)
	}
	w.removeLeftovers(dir, true)
	staging, err := os.MkdirTemp(parent, tempPrefix(dir))
	if err != nil {
		return nil, writeError(given, dir, err)
	}
	held, err := holdTemp(staging)
	if err != nil {
		os.RemoveAll(staging)
		return nil, writeError(given, dir, err)
	}
	return &Tree{w: w, given: given, dir: dir, staging: staging, exists: exists, empty: empty, replace: replace,
		held: held, dirs: map[string]bool{staging: true}}, nil
}

// Add writes files (relative to the tree's root) into the staging directory. Errors
// name them as the user will find them, below the directory asked for, not below the
// staging directory, which will be gone.
func (t *Tree) Add(files ...File) error {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, f := range sorted {
		if err := t.AddStream(f.Path, f.Mode, func(w io.Writer) error {
			_, err := w.Write(f.Data)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// AddStream writes the file at rel (slash-separated, relative to the tree's root)
// with what write writes to it: for a file too large to build in memory first, such
// as the manifest of thousands of nodes.
func (t *Tree) AddStream(rel string, mode fs.FileMode, write func(io.Writer) error) error {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return fmt.Errorf("refusing to write %q outside the output directory", rel)
	}
	path := filepath.Join(t.staging, filepath.FromSlash(rel))
	shown := filepath.Join(t.given, rel)
	if err := t.mkdirs(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create directory for %s: %w", shown, cause(err))
	}
	if err := writeStaged(path, mode, write); err != nil {
		return fmt.Errorf("write %s: %w", shown, cause(err))
	}
	return nil
}

// mkdirs creates dir and its missing parents below the staging directory, once.
func (t *Tree) mkdirs(dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dirs[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	for d := dir; strings.HasPrefix(d, t.staging) && !t.dirs[d]; d = filepath.Dir(d) {
		t.dirs[d] = true
	}
	return nil
}

// Commit makes everything added durable, then moves the tree into place, keeping a
// non-empty previous tree as a backup whose path it returns. On failure the staging
// directory is removed and a previous tree is put back.
func (t *Tree) Commit(now time.Time) (backup string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return "", fmt.Errorf("%s: tree already committed or discarded", t.given)
	}
	t.done = true
	defer t.held.Close()
	defer func() {
		if err != nil {
			os.RemoveAll(t.staging)
		}
	}()
	if err := syncStaged(t.held, t.dirs); err != nil {
		return "", fmt.Errorf("write %s: sync: %w", t.given, cause(err))
	}
	if t.exists {
		if t.empty {
			if err := os.Remove(t.dir); err != nil {
				return "", fmt.Errorf("replace empty %s: %w", t.given, cause(err))
			}
		} else {
			backup = fmt.Sprintf("%s.bak-%s", t.dir, now.UTC().Format("20060102T150405Z"))
			if err := os.Rename(t.dir, backup); err != nil {
				return "", fmt.Errorf("keep %s as backup %s: %w", t.given, backup, cause(err))
			}
		}
	}
	if err := os.Rename(t.staging, t.dir); err != nil {
		if backup != "" {
			// Put the old tree back: the caller asked to replace, not to lose it.
			if rerr := os.Rename(backup, t.dir); rerr == nil {
				backup = ""
			}
		}
		return backup, writeError(t.given, t.dir, err)
	}
	return backup, syncDir(filepath.Dir(t.dir))
}

// Discard removes the staging directory and what was added to it; after Commit it
// does nothing, so callers can defer it.
func (t *Tree) Discard() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	os.RemoveAll(t.staging)
	t.held.Close()
}
