package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
)

// ksLockTimeout bounds how long a keystore writer waits for another escert run (an
// install, a renewal, another keystore command) to finish with the keystore; tests
// shorten it.
var ksLockTimeout = 2 * time.Minute

// ksNewMode is the mode of a new keystore: KeyStoreWrapper.save sets rw-rw----, so
// the elasticsearch group (which Elasticsearch runs as) can read it.
const ksNewMode fs.FileMode = 0o660

// notFound is BaseKeyStoreCommand's error for a command that needs the keystore.
func (s *ksSession) notFound() error {
	return ksErrorf(ksDataError, "Elasticsearch keystore not found at [%s]. Use 'create' command to create one.", s.path)
}

// openKeystore is the keystore with its password; nil, nil, nil when there is no file.
type openKeystore struct {
	ks       *eskeystore.Keystore
	password []byte
}

// lock takes the lock every escert writer of this keystore takes, waiting for it up
// to ksLockTimeout: the one in the keystore's directory, which for a config directory
// is the lock of install and renew. A writer loads the keystore only once it holds
// the lock and saves before releasing it, so concurrent writers queue and none loses
// another's change.
func (s *ksSession) lock() (unlock func(), err error) {
	// A --path such as /dev/zero must not leave a lock file beside it.
	if info, err := os.Stat(s.path); err == nil && !info.Mode().IsRegular() {
		return nil, ksErrorf(ksDataError, "[%s] is not a regular file: --path must name an elasticsearch.keystore", s.path)
	}
	dir := filepath.Dir(s.path)
	unlock, err = atomicfs.LockWait(dir, ksLockTimeout, func() {
		if !s.o.silent {
			fmt.Fprintf(s.cmd.ErrOrStderr(), "Waiting for another escert run to finish with [%s]\n", dir)
		}
	})
	if err == nil {
		return unlock, nil
	}
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		// No keystore and nowhere to write one: the command says which it needs.
		return func() {}, nil
	}
	switch {
	case errors.Is(err, atomicfs.ErrLocked):
		return nil, ksErrorf(ksTempFail, "%v", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, s.unwritable(err)
	}
	return nil, ksErrorf(ksIOError, "%v", err)
}

// read reads the keystore file; a missing one gives (nil, nil).
func (s *ksSession) read() ([]byte, error) {
	data, err := infile.Read(s.path, infile.Keystore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, ksErrorf(readErrorCode(err), "read keystore [%s]: %v", s.path, unwrapPathError(err))
	}
	return data, nil
}

// readErrorCode is DATA_ERROR for a file too large to be what it should (a wrong
// path such as /dev/zero), IO_ERROR for one that cannot be read.
func readErrorCode(err error) int {
	if errors.Is(err, infile.ErrTooLarge) {
		return ksDataError
	}
	return ksIOError
}

// load reads and decrypts the keystore, asking for its password only when it has
// one (BaseKeyStoreCommand.execute). A missing file gives (nil, nil).
func (s *ksSession) load() (*openKeystore, error) {
	data, err := s.read()
	if data == nil || err != nil {
		return nil, err
	}
	password, err := keystorePassword(s.e, s.o.passFile, data)
	if err != nil {
		return nil, err
	}
	ks, err := eskeystore.Decode(data, password)
	if err != nil {
		return nil, err
	}
	return &openKeystore{ks, password}, nil
}

// lockedLoad takes the keystore's lock and loads it, for the commands that change an
// existing keystore: the caller saves, then unlocks.
func (s *ksSession) lockedLoad() (*openKeystore, func(), error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, nil, err
	}
	k, err := s.mustLoad()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return k, unlock, nil
}

// mustLoad is load for the commands that need an existing keystore.
func (s *ksSession) mustLoad() (*openKeystore, error) {
	k, err := s.load()
	if err == nil && k == nil {
		err = s.notFound()
	}
	return k, err
}

// save writes the keystore atomically in its format version: an existing file keeps
// its owner and mode, a new one gets mode 0660 like KeyStoreWrapper.save.
func (s *ksSession) save(k *openKeystore) error {
	data, err := k.ks.Encode(k.password, s.e.rand)
	if err != nil {
		return err
	}
	perm, err := atomicfs.PermOf(s.path, ksNewMode)
	if err == nil {
		err = s.e.write.WriteFileAs(s.path, data, perm)
	}
	if errors.Is(err, fs.ErrPermission) {
		return s.unwritable(err)
	}
	if err != nil {
		return ksErrorf(ksIOError, "%v", err)
	}
	return nil
}

// unwritable is KeyStoreWrapper.save's CONFIG error: an AccessDeniedException, or a
// write that would change the file's owner.
func (s *ksSession) unwritable(err error) error {
	return ksErrorf(ksConfig, "unable to write keystore at [%s], write permissions required for [%s] (and root to keep another user's keystore owned by them): %v",
		s.path, filepath.Dir(s.path), err)
}

// keystoreVersion is the format version for --es-version, the current one (6) when
// it is not given.
func keystoreVersion(cmd *cobra.Command, esVersion string) (int, error) {
	if !cmd.Flags().Changed("es-version") {
		return eskeystore.DefaultVersion, nil
	}
	v, err := eskeystore.VersionFor(esVersion)
	if err != nil {
		return 0, ksErrorf(ksUsage, "--es-version: %v", err)
	}
	return v, nil
}
