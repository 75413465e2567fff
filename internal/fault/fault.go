// Package fault says what kind of failure an error is, so that the CLI maps each kind
// to one exit code in one place. Every package that returns an error a user must act
// on marks it with a kind here (bad input, refused by the issuer, bad credentials, an
// issuer that cannot be reached, an existing output, a lock held by another run);
// everything unmarked is a failure of the work itself. fault imports nothing of escert,
// so every package may use it.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is what the operator must do about an error.
type Kind int

const (
	// Failed: the work failed (I/O, crypto, a bug): nothing the input could change.
	Failed Kind = iota
	// Usage: a bad flag or argument.
	Usage
	// Input: invalid input (a file, a field, a password, a certificate): fix it and re-run.
	Input
	// Exists: the output exists and overwriting it needs an explicit flag.
	Exists
	// Locked: another escert run holds the lock; retry when it is done.
	Locked
	// Refused: the issuer (Vault's role, step-ca's policy) refused the request.
	Refused
	// Credentials: the server refused the credentials (an issuer's token, AppRole or
	// provisioner password; the cluster's elastic password).
	Credentials
	// Unavailable: the server could not be reached or is not serving (down, sealed,
	// timed out, a cluster not green): retry later.
	Unavailable
	// Interrupted: the run was interrupted (Ctrl-C, SIGTERM) and stopped cleanly.
	Interrupted
)

var kindNames = [...]string{"failed", "usage", "input", "exists", "locked", "refused", "credentials", "unavailable", "interrupted"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// Kinds lists every kind, in the order of the exit-code table.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// kinded is implemented by every error that knows its kind.
type kinded interface{ Kind() Kind }

// KindOf is the kind of the outermost error in err's chain that has one, Failed when
// none has.
func KindOf(err error) Kind {
	var k kinded
	if errors.As(err, &k) {
		return k.Kind()
	}
	return Failed
}

// Error is an error marked with a kind.
type Error struct {
	kind Kind
	err  error
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }
func (e *Error) Kind() Kind    { return e.kind }

// New is fmt.Errorf (with %w) marked with kind.
func New(kind Kind, format string, args ...any) error {
	return &Error{kind, fmt.Errorf(format, args...)}
}

// Mark gives err a kind; nil stays nil.
func Mark(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{kind, err}
}

// Sentinel is an error value of a kind, for errors.Is: var ErrX = fault.Sentinel(...).
func Sentinel(kind Kind, msg string) error { return &Error{kind, errors.New(msg)} }

// InputError is bad input in one line: the file, where in it (line, instance, field),
// what is wrong and how to fix it.
type InputError struct {
	File     string
	Line     int
	Instance string
	Field    string
	Problem  string
}

func (e *InputError) Kind() Kind { return Input }

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Instance != "" {
		fmt.Fprintf(&b, ": instance %q", e.Instance)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %s", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// BadFile is the InputError naming only a file and its problem.
func BadFile(file, format string, args ...any) *InputError {
	return &InputError{File: file, Problem: fmt.Sprintf(format, args...)}
}
