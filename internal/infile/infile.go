// Package infile reads the files a user hands escert (instances files, passwords,
// keystores, certificates, keys, settings) with a size limit per kind, so that a wrong
// path such as /dev/zero or a multi-gigabyte log ends in one line instead of an
// out-of-memory crash. Every reader of user input goes through Read.
package infile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/escert/escert/internal/fault"
)

// Kind is what a file is expected to hold; it sets the limit and names the file in the
// error.
type Kind struct {
	Name  string // "an instances file"
	Limit int64  // bytes
}

// The kinds of input, each limit far above any real file of that kind: a 10,000-node
// instances file is about 1 MiB, a keystore holding a dozen credential files a few
// hundred KiB, a system CA bundle about 250 KiB.
var (
	Instances   = Kind{"an instances file", 16 << 20}
	Secret      = Kind{"a password file", 64 << 10}
	SettingFile = Kind{"a keystore setting file", 16 << 20}
	Keystore    = Kind{"an elasticsearch.keystore", 64 << 20}
	PEM         = Kind{"a PEM file", 16 << 20}
	Key         = Kind{"a key file", 1 << 20}
	PKCS12      = Kind{"a PKCS#12 file", 16 << 20}
	Settings    = Kind{"a settings file", 16 << 20}
	Manifest    = Kind{"a bundle manifest", 64 << 20}
	// Anything is for `escert inspect`, which reads every kind above.
	Anything = Kind{"a file escert inspects", 64 << 20}
)

// TooLargeError says a file is larger than its kind allows. Read returns it inside an
// *fs.PathError, like every other failure to read the file, so callers name the path
// the way they do for "no such file or directory".
type TooLargeError struct{ Kind Kind }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than %s can be (%s): check the path names the right file", e.Kind.Name, size(e.Kind.Limit))
}

// ErrTooLarge matches every TooLargeError.
var ErrTooLarge = fault.Sentinel(fault.Input, "input file too large")

// Unwrap makes every TooLargeError match ErrTooLarge, and bad input.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// Read reads path, refusing it once it passes kind's limit. Devices and pipes are read
// too (a password from /dev/stdin or <(...)), under the same bound.
func Read(path string, kind Kind) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f, path, kind)
}

// ReadFrom reads r as Read reads a file named path.
func ReadFrom(r io.Reader, path string, kind Kind) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, kind.Limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > kind.Limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Kind: kind}}
	}
	return data, nil
}

// Problem says what went wrong reading a file whose path the message already names:
// a missing file gets fix, the rest their cause alone.
func Problem(err error, fix string) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "missing: " + fix
	}
	if errors.Is(err, fs.ErrPermission) {
		return "cannot read it (permission denied): run as a user who can"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprint(pe.Err)
	}
	return fmt.Sprint(err)
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
