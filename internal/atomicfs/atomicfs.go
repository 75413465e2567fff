// Package atomicfs writes files so that nothing is lost or half-written: content goes
// to a temporary file in the destination directory, is synced, renamed over the target
// and the directory is synced, so a crash leaves either the old file or the new one,
// never a torn mix. Secrets are created with their final mode and owner, never widened
// later. It is the one package in escert that writes files; what to write is its
// callers' business.
//
// A target that is a symbolic link is written where it points, and the link stays. A
// target that is a mount point (a bind-mounted file), which no rename can replace, is
// the one exception to atomicity: it is backed up and rewritten in place, and the
// user is told. The temporary files and staging directories of a killed run are
// removed by the next write beside them. Writers that must not interleave (an install
// and a cron renewal of one config directory) take the directory's lock. Errors name
// the path the caller gave, never a temporary file.
package atomicfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/escert/escert/internal/fault"
)

// File is one file of a tree to write, relative to the tree's root.
type File struct {
	Path string      // slash-separated, relative
	Mode fs.FileMode // 0600 for secrets, 0644 for public certificates
	Data []byte
}

// Mode bits for the files escert writes.
const (
	SecretMode fs.FileMode = 0o600
	PublicMode fs.FileMode = 0o644
	dirMode    fs.FileMode = 0o700
)

// Writer writes files atomically. The zero Writer is ready to use and tells nobody.
type Writer struct {
	// Notify hears, one line each, what a write did besides writing that the user must
	// know although it succeeded: a leftover of an interrupted run removed, a
	// bind-mounted file rewritten in place. nil drops the messages; the CLI passes one
	// that prints them on standard error.
	Notify func(msg string)
}

func (w Writer) tell(format string, args ...any) {
	if w.Notify != nil {
		w.Notify(fmt.Sprintf(format, args...))
	}
}

// writeError says that writing given (whose link led to target) failed, with the
// system's reason, never naming the temporary file it happened on.
func writeError(given, target string, err error) error {
	if in := (*fault.InputError)(nil); errors.As(err, &in) && in.File == given {
		return err
	}
	err = cause(err)
	if dir := filepath.Dir(target); errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("write %s: the directory %s does not exist: create it first", given, dir)
		}
	}
	if target != given {
		return fmt.Errorf("write %s (a link to %s): %w", given, target, err)
	}
	return fmt.Errorf("write %s: %w", given, err)
}

// cause is the system's reason for a failed file operation without the path it
// names, which for escert's writes is a temporary file that means nothing to the user.
func cause(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	}
	return err
}

// ErrNotEmpty is returned when the output directory already has content and the
// caller did not ask to replace it.
var ErrNotEmpty = fault.Sentinel(fault.Exists, "output directory is not empty")

// WriteTree installs files as the directory dir, all or nothing: StageTree, Add and
// Commit in one call, for trees small enough to hold in memory. It returns the backup
// of a replaced tree, as Commit does.
func (w Writer) WriteTree(dir string, files []File, replace bool, now time.Time) (backup string, err error) {
	t, err := w.StageTree(dir, replace)
	if err != nil {
		return "", err
	}
	defer t.Discard()
	if err := t.Add(files...); err != nil {
		return "", err
	}
	return t.Commit(now)
}

// WriteInto writes files (relative to dir) into dir beside what it already holds,
// creating dir (0700) and subdirectories when missing. It takes dir's lock, so it does
// not interleave with another escert run there (the caller must not hold it), and
// writes every file before renaming them into place back to back (ReplaceTogether),
// so a failure leaves the files as they were.
func (w Writer) WriteInto(dir string, files []File) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	unlock, err := Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	replacements := make([]Replacement, len(files))
	for i, f := range files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("refusing to write %q outside %s", f.Path, dir)
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
			return fmt.Errorf("create directory for %s: %w", path, cause(err))
		}
		replacements[i] = Replacement{Path: path, Data: f.Data, Perm: Perm{Mode: f.Mode, UID: -1, GID: -1}}
	}
	return w.ReplaceTogether(replacements)
}

// Perm is the mode and owner a file must end up with. UID or GID -1 leaves that part
// to the process (the file's creator).
type Perm struct {
	Mode     fs.FileMode
	UID, GID int
}

// PermOf returns the mode and owner of an existing file, or fallback (owned by the
// process) when it does not exist, so that a rewrite never changes who may read it.
func PermOf(path string, fallback fs.FileMode) (Perm, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Perm{Mode: fallback, UID: -1, GID: -1}, nil
	}
	if err != nil {
		return Perm{}, err
	}
	uid, gid := ownerOf(info)
	return Perm{Mode: info.Mode().Perm(), UID: uid, GID: gid}, nil
}

// WriteFile atomically replaces (or creates) path with data and mode: temp file in the
// same directory, created with mode, fsync, rename, fsync the directory.
func (w Writer) WriteFile(path string, data []byte, mode fs.FileMode) error {
	return w.WriteFileAs(path, data, Perm{Mode: mode, UID: -1, GID: -1})
}

// WriteFileAs is WriteFile with an owner: the temporary file gets its owner and mode
// before any byte is written, so the content is never readable by anyone else, and
// the rename swaps in a complete file.
func (w Writer) WriteFileAs(path string, data []byte, perm Perm) error {
	return w.ReplaceTogether([]Replacement{{Path: path, Data: data, Perm: perm}})
}

// Replacement is one file of a group that must change together.
type Replacement struct {
	Path string
	Data []byte
	Perm Perm
}

// ReplaceTogether writes every file to a temporary file first and only then renames
// them into place back to back, so files that must match (a PEM key and its
// certificate) are apart for the time of one rename, never for the time of a write.
//
// A path that is a symbolic link is replaced where it points, atomically in the
// target's directory, and the link stays: package layouts and configuration
// management link elasticsearch.yml or the keystore elsewhere, and replacing the link
// would leave the real file stale. A target that is a mount point (a bind-mounted
// single file, as Docker does it), which no rename can replace, is rewritten in
// place after a backup (see rewriteInPlace). Temporary files that an earlier, killed
// run left beside a target are removed first.
func (w Writer) ReplaceTogether(files []Replacement) error {
	temps := make([]*temp, len(files))
	defer func() {
		for _, t := range temps {
			if t != nil {
				t.discard()
			}
		}
	}()
	for i, f := range files {
		target, err := resolveLink(f.Path)
		if err != nil {
			return writeError(f.Path, f.Path, err)
		}
		w.removeLeftovers(target, false)
		if temps[i], err = newTemp(target, f.Data, f.Perm); err != nil {
			return writeError(f.Path, target, err)
		}
		faultPoint()
	}
	dirs := map[string]bool{}
	for i, f := range files {
		if err := temps[i].commit(w); err != nil {
			return writeError(f.Path, temps[i].target, err)
		}
		dirs[filepath.Dir(temps[i].target)] = true
		temps[i] = nil
		faultPoint()
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// temp is the complete new content of target in a temporary file beside it, held
// open under a lock until it is renamed, so that another run never takes it for the
// leftover of a killed one.
type temp struct {
	f      *os.File
	target string
	data   []byte
	perm   Perm
}

func newTemp(target string, data []byte, perm Perm) (*temp, error) {
	f, err := os.CreateTemp(filepath.Dir(target), tempPrefix(target)+"*")
	if err != nil {
		return nil, err
	}
	t := &temp{f: f, target: target, data: data, perm: perm}
	if err := lockTemp(f); err != nil {
		t.discard()
		return nil, err
	}
	if err := fill(f, data, perm); err != nil {
		t.discard()
		return nil, err
	}
	return t, nil
}

// commit renames the temporary file over the target, or rewrites a target that is
// a mount point in place (and w tells so).
func (t *temp) commit(w Writer) error {
	err := os.Rename(t.f.Name(), t.target)
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		err = w.rewriteInPlace(t.target, t.data, t.perm)
		t.discard()
		return err
	}
	t.f.Close()
	return err
}

func (t *temp) discard() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// Move is one rename of MoveFiles.
type Move struct{ From, To string }

// MoveFiles renames files in order, creating target directories (0700) and syncing
// every directory touched. A move whose source is gone and whose target exists was
// done by an earlier, interrupted run and is skipped, so re-running finishes the job.
func MoveFiles(moves []Move) error {
	dirs := map[string]bool{}
	for _, m := range moves {
		if _, err := os.Stat(m.From); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(m.To); err == nil {
				continue
			}
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		if err := os.MkdirAll(filepath.Dir(m.To), dirMode); err != nil {
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		if err := os.Rename(m.From, m.To); err != nil {
			return fmt.Errorf("move %s: %w", m.From, err)
		}
		dirs[filepath.Dir(m.From)], dirs[filepath.Dir(m.To)] = true, true
		faultPoint()
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// writeStaged creates path exclusively with its final mode (no window where a secret
// is readable by others) and fills it with write, syncing it only where the tree
// cannot be synced at once (syncStaged).
func writeStaged(path string, mode fs.FileMode, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	err = setPerm(f, Perm{Mode: mode, UID: -1, GID: -1})
	if err == nil {
		err = write(f)
	}
	if err == nil && syncEachStagedFile {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fill gives a file that holds nothing yet its owner and mode, then data, and syncs
// it.
func fill(f *os.File, data []byte, perm Perm) error {
	if err := setPerm(f, perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// setPerm gives a file that holds nothing yet its owner and exact mode.
func setPerm(f *os.File, perm Perm) error {
	if perm.UID != -1 || perm.GID != -1 {
		if err := f.Chown(perm.UID, perm.GID); err != nil {
			return err
		}
	}
	// The umask may have narrowed the mode; Chmod makes it exact (never wider than asked).
	return f.Chmod(perm.Mode)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, cause(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, cause(err))
	}
	return nil
}

func isEmptyDir(dir string) (empty, exists bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, false, nil
	case err != nil:
		return false, true, fmt.Errorf("read %s: %w", dir, cause(err))
	}
	return len(entries) == 0, true, nil
}
