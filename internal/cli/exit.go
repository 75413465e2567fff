package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer/stepca"
	"github.com/escert/escert/internal/issuer/vault"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// Exit codes, the same for every command.
const (
	ExitOK      = 0
	ExitFailed  = 1 // the work failed: I/O, crypto or an unexpected error
	ExitUsage   = 2 // bad flags or arguments
	ExitInput   = 3 // invalid input: instances file, CA files, passwords, certificates
	ExitExists  = 4 // the output exists and --force was not given
	exitCodeDoc = `
EXIT CODES
  0  success
  1  the work failed (I/O, crypto); nothing was written
  2  usage error: unknown flag or missing argument
  3  invalid input: the message names the file, the instance and the field
  4  the output directory exists and is not empty: use --force`
)

// inputError marks an error as bad input (exit 3).
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error { return inputError{fmt.Errorf(format, args...)} }

// usageError marks a flag problem (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// codedError carries its own exit code, for commands whose codes follow another tool's
// contract (escert keystore mirrors elasticsearch-keystore). An empty message prints
// nothing.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	var coded codedError
	if errors.As(err, &coded) {
		return coded.code
	}
	var (
		in     inputError
		use    usageError
		spec   *spec.InputError
		input  *fault.InputError
		tooNew *eskeystore.TooNewError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &use), errors.Is(err, stepca.ErrNoProvisioner):
		return ExitUsage
	case errors.Is(err, atomicfs.ErrNotEmpty):
		return ExitExists
	case errors.As(err, &in), errors.As(err, &spec), errors.As(err, &input),
		errors.Is(err, eskeystore.ErrWrongPassword), errors.Is(err, eskeystore.ErrCorrupted), errors.As(err, &tooNew),
		errors.Is(err, p12.ErrWrongPassword), errors.Is(err, infile.ErrTooLarge),
		// Vault's answer about our request is bad input; Vault sealed or unreachable
		// is a failure (1), as Vault's own CLI tells local from remote errors.
		errors.Is(err, vault.ErrRoleRefused), errors.Is(err, vault.ErrPermissionDenied), errors.Is(err, vault.ErrLogin),
		errors.Is(err, stepca.ErrUnknownProvisioner), errors.Is(err, stepca.ErrWrongPassword), errors.Is(err, stepca.ErrFingerprint),
		errors.Is(err, stepca.ErrRefused), errors.Is(err, stepca.ErrExpired):
		return ExitInput
	}
	return ExitFailed
}

// Run executes the command tree with args and returns the process exit code, printing
// an error as one line on stderr.
func Run(args []string, stdout, stderr io.Writer) int { return run(defaultEnv(), args, stdout, stderr) }

func run(e *env, args []string, stdout, stderr io.Writer) int {
	e.write.Notify = func(msg string) { fmt.Fprintf(stderr, "escert: %s\n", msg) }
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	// cobra reports an unknown subcommand as a plain error.
	if code == ExitFailed && strings.HasPrefix(err.Error(), "unknown command") {
		code = ExitUsage
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "escert: %s\n", msg)
	}
	var bug *bundle.PanicError
	if errors.As(err, &bug) && e.getenv("ESCERT_DEBUG") != "" {
		stderr.Write(bug.Stack)
	}
	return code
}

// required checks that flags were given, as a usage error naming all that are missing.
func required(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("%s: missing %s (see %s --help)", cmd.CommandPath(), strings.Join(missing, " and "), cmd.CommandPath())}
	}
	return nil
}

// minArgs is cobra.MinimumNArgs as a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("%s needs at least %d argument(s): see --help", cmd.CommandPath(), n)}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])}
	}
	return nil
}
