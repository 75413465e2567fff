package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
)

// escert keystore mirrors Elasticsearch's elasticsearch-keystore tool
// (distribution/tools/keystore-cli): the same subcommands, messages and exit codes,
// so that scripts written for it keep working in containers and cron jobs without a
// JVM. The differences are escert's rules: secrets never come from argv, a question
// that needs a terminal is an error without one (use -f/--force), and an existing
// keystore keeps its format version, owner and mode.

// Exit codes of elasticsearch-keystore: org.elasticsearch.cli.ExitCodes (POSIX
// sysexits) and HasPasswordKeyStoreCommand.NO_PASSWORD_EXIT_CODE.
const (
	ksNoPassword = 1  // has-passwd: no keystore, or one without a password
	ksUsage      = 64 // ExitCodes.USAGE
	ksDataError  = 65 // ExitCodes.DATA_ERROR
	ksIOError    = 74 // ExitCodes.IO_ERROR
	ksTempFail   = 75 // ExitCodes.TEMP_FAILURE
	ksConfig     = 78 // ExitCodes.CONFIG
)

// ksLockTimeout bounds how long a keystore writer waits for another escert run (an
// install, a renewal, another keystore command) to finish with the keystore; tests
// shorten it.
var ksLockTimeout = 2 * time.Minute

// ksNewMode is the mode of a new keystore: KeyStoreWrapper.save sets rw-rw----, so
// the elasticsearch group (which Elasticsearch runs as) can read it.
const ksNewMode fs.FileMode = 0o660

// ksError is an elasticsearch-keystore UserException: an exit code and the message
// printed after "ERROR: ". An empty message prints nothing.
type ksError struct {
	code int
	msg  string
}

func (e ksError) Error() string { return e.msg }

func ksErrorf(code int, format string, args ...any) error {
	return ksError{code, fmt.Sprintf(format, args...)}
}

// ksExit maps an error to elasticsearch-keystore's exit code and message, the way
// BaseKeyStoreCommand and Command.main do: a wrong password or a damaged keystore is
// DATA_ERROR (KeyStoreWrapper.decrypt's SecurityException), everything else that
// is not a user error is an I/O error.
func ksExit(err error) (int, string) {
	var (
		ke  ksError
		ce  codedError
		use usageError
		in  inputError
		new *eskeystore.TooNewError
	)
	switch {
	case errors.As(err, &ke):
		return ke.code, ke.msg
	case errors.As(err, &ce):
		return ce.code, ce.Error()
	case errors.As(err, &use):
		return ksUsage, err.Error()
	case errors.Is(err, eskeystore.ErrWrongPassword):
		return ksDataError, "Provided keystore password was incorrect"
	case errors.Is(err, eskeystore.ErrCorrupted):
		detail := strings.TrimPrefix(err.Error(), eskeystore.ErrCorrupted.Error()+": ")
		return ksDataError, "Keystore has been corrupted or tampered with: " + detail
	case errors.Is(err, eskeystore.ErrPasswordTooShortFIPS), errors.As(err, &in), errors.As(err, &new):
		return ksDataError, err.Error()
	}
	return ksIOError, err.Error()
}

// ksOptions are the flags every keystore subcommand takes.
type ksOptions struct {
	path     string
	passFile string
	silent   bool
}

// ksSession is one run of a keystore subcommand.
type ksSession struct {
	e    *env
	o    *ksOptions
	cmd  *cobra.Command
	path string
	in   *bufio.Reader
}

// defaultKeystorePath is where Elasticsearch looks: the config directory
// ($ES_PATH_CONF, /etc/elasticsearch for the deb and rpm packages).
func defaultKeystorePath(getenv func(string) string) string {
	if dir := getenv("ES_PATH_CONF"); dir != "" {
		return filepath.Join(dir, "elasticsearch.keystore")
	}
	return "/etc/elasticsearch/elasticsearch.keystore"
}

// ksRunE adapts a subcommand to elasticsearch-keystore's error reporting: one
// "ERROR: message" line on stderr and the mapped exit code (escert's own
// "escert: ..." line is suppressed by the empty codedError).
func ksRunE(e *env, o *ksOptions, fn func(s *ksSession, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s := &ksSession{e: e, o: o, cmd: cmd, path: o.path}
		if !cmd.Flags().Changed("path") {
			s.path = defaultKeystorePath(e.getenv)
		}
		err := fn(s, args)
		if err == nil {
			return nil
		}
		code, msg := ksExit(err)
		if msg != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "ERROR: %s\n", msg)
		}
		return codedError{code, errors.New("")}
	}
}

// say prints an informational line on stdout unless --silent, as Terminal.println
// at Verbosity.NORMAL does.
func (s *ksSession) say(format string, args ...any) {
	if !s.o.silent {
		fmt.Fprintf(s.cmd.OutOrStdout(), format+"\n", args...)
	}
}

// stdin is the reader for values and answers; one per run so that several values
// can be read line by line.
func (s *ksSession) stdin() *bufio.Reader {
	if s.in == nil {
		var r io.Reader = strings.NewReader("")
		if s.e.stdin != nil {
			r = s.e.stdin
		}
		s.in = bufio.NewReader(r)
	}
	return s.in
}

// readLine reads one line from stdin without its line break (\n or \r\n); ok is
// false at the end of input with nothing read.
func (s *ksSession) readLine() (line []byte, ok bool, err error) {
	line, err = s.stdin().ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, ksErrorf(ksIOError, "read standard input: %v", err)
	}
	if len(line) == 0 && err != nil {
		return nil, false, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, true, nil
}

// terminal reports whether there is a terminal to ask questions on.
func (s *ksSession) terminal() bool { return s.e.prompt != nil }

// confirm asks a yes/no question on the terminal, default no (Terminal.promptYesNo).
// Without a terminal it returns needForce: escert never takes an answer from a pipe,
// so a keystore or setting is only replaced when asked for by a flag.
func (s *ksSession) confirm(question string, needForce error) (bool, error) {
	if !s.terminal() {
		return false, needForce
	}
	for {
		fmt.Fprintf(s.cmd.ErrOrStderr(), "%s [y/N] ", question)
		line, ok, err := s.readLine()
		if err != nil || !ok {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(string(line))) {
		case "":
			return false, nil
		case "y":
			return true, nil
		case "n":
			return false, nil
		}
		fmt.Fprintln(s.cmd.ErrOrStderr(), "Did not understand the answer: type y or n")
	}
}

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

// newPassword reads a new keystore password from file or envName, else asks twice
// on the terminal (KeyStoreAwareCommand.readPassword with verification).
func (s *ksSession) newPassword(file, envName, flag, missing string) ([]byte, error) {
	pw, err := readSecret(s.e, file, envName, flag)
	if err != nil || pw != nil {
		return pw, err
	}
	if !s.terminal() {
		return nil, ksErrorf(ksUsage, "%s", missing)
	}
	pw, err = s.e.prompt("Enter new password for the elasticsearch keystore: ")
	if err != nil {
		return nil, ksErrorf(ksIOError, "read the new keystore password: %v", err)
	}
	again, err := s.e.prompt("Enter same password again: ")
	if err != nil {
		return nil, ksErrorf(ksIOError, "read the new keystore password: %v", err)
	}
	defer clear(again)
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, ksErrorf(ksDataError, "Passwords are not equal, exiting.")
	}
	return pw, nil
}

// checkNames validates setting names the way KeyStoreWrapper.validateSettingName
// does, before any value is read.
func checkNames(names []string) error {
	for _, name := range names {
		if err := eskeystore.ValidName(name); err != nil {
			if len(name) > math.MaxUint16 {
				return ksErrorf(ksDataError, "%v", err)
			}
			return ksErrorf(ksDataError, "Setting name [%s] does not match the allowed setting name pattern [[A-Za-z0-9_\\-.]+]", name)
		}
	}
	return nil
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

// createForAdd opens the keystore for add and add-file, creating an empty one with no
// password when it is missing: with -f, or when the user agrees on the terminal
// (BaseKeyStoreCommand with keyStoreMustExist false). declined is true when the
// user said no; nothing is written then.
func (s *ksSession) createForAdd(force bool, version int) (k *openKeystore, declined bool, err error) {
	if k, err = s.load(); err != nil || k != nil {
		return k, false, err
	}
	if !force {
		needForce := ksErrorf(ksUsage, "The elasticsearch keystore does not exist at [%s]: use -f to create it (there is no terminal to ask on).", s.path)
		yes, err := s.confirm("The elasticsearch keystore does not exist. Do you want to create it?", needForce)
		if err != nil {
			return nil, false, err
		}
		if !yes {
			s.say("Exiting without creating keystore.")
			return nil, true, nil
		}
	}
	ks, err := eskeystore.New(version, s.e.rand)
	if err != nil {
		return nil, false, err
	}
	return &openKeystore{ks: ks}, false, nil
}

// overwriteOK decides whether setting name, which exists, may be replaced: with -f,
// or when the user agrees on the terminal.
func (s *ksSession) overwriteOK(name string, force bool) (bool, error) {
	if force {
		return true, nil
	}
	needForce := ksErrorf(ksUsage, "Setting [%s] already exists in the keystore: use -f to overwrite it (there is no terminal to ask on).", name)
	yes, err := s.confirm(fmt.Sprintf("Setting %s already exists. Overwrite?", name), needForce)
	if err == nil && !yes {
		s.say("Exiting without modifying keystore.")
	}
	return yes, err
}

// prepareAdd is what add and add-file do before writing values: check the names,
// take the keystore's lock, open (or, when confirmed, create) the keystore, refuse
// existing settings without -f, and note which settings already exist. A nil
// keystore means the user declined or an error; otherwise the caller saves and then
// calls unlock.
func (s *ksSession) prepareAdd(names []string, force bool, esVersion string) (k *openKeystore, existed map[string]bool, unlock func(), err error) {
	if err := checkNames(names); err != nil {
		return nil, nil, nil, err
	}
	version, err := keystoreVersion(s.cmd, esVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	release, err := s.lock()
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if k == nil {
			release()
		}
	}()
	k, declined, err := s.createForAdd(force, version)
	if err != nil || declined {
		return nil, nil, nil, err
	}
	if err := s.refuseExisting(k, names, force); err != nil {
		return nil, nil, nil, err
	}
	existed = map[string]bool{}
	for _, name := range names {
		_, existed[name] = k.ks.Get(name)
	}
	return k, existed, release, nil
}

// refuseExisting fails early, before any value is read, when a setting exists, -f
// is not given and there is no terminal to ask on.
func (s *ksSession) refuseExisting(k *openKeystore, names []string, force bool) error {
	if force || s.terminal() {
		return nil
	}
	for _, name := range names {
		if _, ok := k.ks.Get(name); ok {
			return ksErrorf(ksUsage, "Setting [%s] already exists in the keystore: use -f to overwrite it (there is no terminal to ask on).", name)
		}
	}
	return nil
}

// isTerminal reports whether w is a terminal, where show prints text with a line
// break and refuses binary values (Terminal.getOutputStream is null on a console).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func ksExitCodes(lines ...string) string {
	return "\n\nEXIT CODES (those of elasticsearch-keystore)\n  " + strings.Join(lines, "\n  ")
}

const (
	ksCodeOK        = "0   success"
	ksCodeUsage     = "64  usage: unknown flag, missing or extra arguments"
	ksCodeData      = "65  keystore not found, wrong or unreadable keystore password, damaged keystore, --path not a keystore file"
	ksCodeDataAdd   = "65  wrong or unreadable keystore password, damaged keystore, --path not a keystore file"
	ksCodeIO        = "74  a file could not be read or written"
	ksCodeConfig    = "78  no permission to write the keystore or keep its owner"
	ksCodeLocked    = "75  another escert run (install, renew, keystore) kept the keystore's lock for 2 minutes; nothing changed"
	ksCodeForce     = "64  also: the keystore or setting exists, there is no terminal to confirm on and -f was not given"
	ksCodeBadName   = "65  also: invalid setting name (allowed: A-Z a-z 0-9 _ - .)"
	ksCodeNoSetting = "78  the setting does not exist in the keystore"
)

func newKeystoreCmd(e *env) *cobra.Command {
	o := &ksOptions{}
	cmd := &cobra.Command{
		Use:   "keystore",
		Short: "Manage elasticsearch.keystore secure settings, like elasticsearch-keystore, without Java",
		Long: `Manage Elasticsearch's secure settings file, elasticsearch.keystore, with the
subcommands, messages and exit codes of Elasticsearch's elasticsearch-keystore tool,
so that containers and cron jobs need no JVM.

The keystore is --path, by default $ES_PATH_CONF/elasticsearch.keystore when
ES_PATH_CONF is set, else /etc/elasticsearch/elasticsearch.keystore.

A keystore password comes from --keystore-pass-file, the ESCERT_KEYSTORE_PASSWORD
environment variable or a terminal prompt; a keystore without a password is opened
without asking, as Elasticsearch does. Setting values come from standard input or a
prompt, never from the command line.

Unlike elasticsearch-keystore, escert writes an existing keystore back in the format
version it had (use upgrade to change it), keeps its owner and mode, and never
replaces a keystore or a setting on an answer piped into standard input: without a
terminal, say -f (--force).`,
		Example: `  escert keystore create
  echo "$BOOTSTRAP_PASSWORD" | escert keystore add -x bootstrap.password
  escert keystore list --path /usr/share/elasticsearch/config/elasticsearch.keystore` +
			ksExitCodes(ksCodeOK, "64  missing or unknown subcommand"),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) == 0 {
				s.cmd.SetOut(s.cmd.ErrOrStderr())
				s.cmd.Help()
				return ksErrorf(ksUsage, "Missing command")
			}
			return ksErrorf(ksUsage, "Unknown command [%s]", args[0])
		}),
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "ERROR: %v\n", err)
		return codedError{ksUsage, errors.New("")}
	})
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.path, "path", "", "the elasticsearch.keystore file (default $ES_PATH_CONF/elasticsearch.keystore, else /etc/elasticsearch/elasticsearch.keystore)")
	pf.StringVar(&o.passFile, "keystore-pass-file", "", "file holding the keystore password (or set ESCERT_KEYSTORE_PASSWORD; asked on a terminal otherwise)")
	pf.BoolVarP(&o.silent, "silent", "s", false, "show minimal output")
	cmd.AddCommand(
		newKeystoreCreateCmd(e, o), newKeystoreListCmd(e, o), newKeystoreAddCmd(e, o),
		newKeystoreAddFileCmd(e, o), newKeystoreRemoveCmd(e, o), newKeystoreShowCmd(e, o),
		newKeystorePasswdCmd(e, o), newKeystoreUpgradeCmd(e, o), newKeystoreHasPasswdCmd(e, o),
	)
	return cmd
}

func newKeystoreCreateCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		password, force bool
		esVersion       string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a new keystore holding only keystore.seed",
		Long: `Create a new elasticsearch.keystore, mode 0660, holding a fresh keystore.seed, in
format 6 (Elasticsearch 8.14 and later) or the one --es-version reads
(` + esVersionFormats + `).

With -p the keystore is protected by a password: --keystore-pass-file,
ESCERT_KEYSTORE_PASSWORD or a prompt (twice). Without -p it has none, as
elasticsearch-keystore create makes it.

An existing keystore is replaced only when confirmed on the terminal or with
--force; the replacement keeps the old file's owner and mode.`,
		Example: `  escert keystore create
  escert keystore create -p --keystore-pass-file /run/secrets/keystore.pass
  escert keystore create --es-version 7.17 --path /etc/elasticsearch/elasticsearch.keystore --force` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to replacing an existing keystore",
				ksCodeUsage, "64  also: the keystore exists, there is no terminal to confirm on and --force was not given",
				"65  the passwords typed differ, or the password file cannot be read", ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "create takes no arguments, got [%s]", args[0])
			}
			version, err := keystoreVersion(s.cmd, esVersion)
			if err != nil {
				return err
			}
			unlock, err := s.lock()
			if err != nil {
				return err
			}
			defer unlock()
			if _, err := os.Lstat(s.path); err == nil && !force {
				needForce := ksErrorf(ksUsage, "An elasticsearch keystore already exists at [%s]: use --force to replace it (there is no terminal to ask on).", s.path)
				yes, err := s.confirm("An elasticsearch keystore already exists. Overwrite?", needForce)
				if err != nil {
					return err
				}
				if !yes {
					s.say("Exiting without creating keystore.")
					return nil
				}
			}
			k := &openKeystore{}
			if password || s.o.passFile != "" {
				k.password, err = s.newPassword(s.o.passFile, "ESCERT_KEYSTORE_PASSWORD", "--keystore-pass-file",
					"create -p: no terminal to ask for the password on: give it with --keystore-pass-file or ESCERT_KEYSTORE_PASSWORD")
				if err != nil {
					return err
				}
			}
			if k.ks, err = eskeystore.New(version, s.e.rand); err != nil {
				return err
			}
			if err := s.save(k); err != nil {
				return err
			}
			s.say("Created elasticsearch keystore in %s", s.path)
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&password, "password", "p", false, "protect the keystore with a password (from --keystore-pass-file, ESCERT_KEYSTORE_PASSWORD or a prompt)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "replace an existing keystore without asking")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "target Elasticsearch version; picks the format ("+esVersionFormats+")")
	return cmd
}

func newKeystoreListCmd(e *env, o *ksOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the setting names in the keystore, sorted, one per line",
		Example: `  escert keystore list
  ES_PATH_CONF=/usr/share/elasticsearch/config escert keystore list` +
			ksExitCodes(ksCodeOK, ksCodeUsage, ksCodeData, ksCodeIO),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "list takes no arguments, got [%s]", args[0])
			}
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			for _, name := range k.ks.Names() {
				s.say("%s", name)
			}
			return nil
		}),
	}
}

func newKeystoreAddCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		stdin, force bool
		esVersion    string
	)
	cmd := &cobra.Command{
		Use:   "add SETTING...",
		Short: "Add string settings; values from standard input or a prompt, never from arguments",
		Long: `Add string settings to the keystore. With -x (--stdin), or when standard input is
not a terminal, each value is one line of standard input, in the order of the
settings; otherwise each is asked for on the terminal ("Enter value for SETTING: ").

An existing setting is replaced only when confirmed on the terminal or with -f.
A missing keystore is created (no password, mode 0660) when confirmed or with -f.`,
		Example: `  echo "$BOOTSTRAP_PASSWORD" | escert keystore add -x bootstrap.password
  printf '%s\n%s\n' "$KEY_ID" "$SECRET" | escert keystore add -x -f s3.client.default.access_key s3.client.default.secret_key
  escert keystore add xpack.notification.email.account.work.smtp.secure_password` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to a question, nothing changed then",
				ksCodeUsage, ksCodeForce, ksCodeDataAdd, ksCodeBadName,
				"65  also: standard input ended before the value of a setting", ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, names []string) error {
			if len(names) == 0 {
				return ksErrorf(ksUsage, "the setting names can not be empty")
			}
			k, existed, unlock, err := s.prepareAdd(names, force, esVersion)
			if err != nil || k == nil {
				return err
			}
			defer unlock()
			for _, name := range names {
				if existed[name] {
					ok, err := s.overwriteOK(name, force)
					if err != nil || !ok {
						return err
					}
				}
				value, err := s.value(name, stdin)
				if err != nil {
					return err
				}
				err = k.ks.Set(name, value)
				clear(value)
				if err != nil {
					return ksErrorf(ksDataError, "%v", err)
				}
			}
			return s.save(k)
		}),
	}
	cmd.Flags().BoolVarP(&stdin, "stdin", "x", false, "read the values from standard input, one line per setting")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing settings without asking, creating the keystore if needed")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "format of a keystore this creates ("+esVersionFormats+")")
	return cmd
}

// value reads the value of setting name: a line of standard input with -x or when
// there is no terminal (as elasticsearch-keystore reads a piped stdin), else a prompt.
func (s *ksSession) value(name string, stdin bool) ([]byte, error) {
	if stdin || !s.terminal() {
		line, ok, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ksErrorf(ksDataError, "standard input ended before the value for setting [%s]", name)
		}
		return line, nil
	}
	v, err := s.e.prompt("Enter value for " + name + ": ")
	if err != nil {
		return nil, ksErrorf(ksIOError, "read the value for setting [%s]: %v", name, err)
	}
	return v, nil
}

func newKeystoreAddFileCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		force     bool
		esVersion string
	)
	cmd := &cobra.Command{
		Use:   "add-file SETTING FILE [SETTING FILE]...",
		Short: "Add file settings: the content of each FILE under SETTING",
		Long: `Add the content of each FILE to the keystore under SETTING. An existing setting is
replaced only when confirmed on the terminal or with -f; a missing keystore is
created (no password, mode 0660) when confirmed or with -f.`,
		Example: `  escert keystore add-file xpack.watcher.encryption_key system_key
  escert keystore add-file -f gcs.client.default.credentials_file gcs.json azure.client.default.key azure.key` +
			ksExitCodes(ksCodeOK+"; also when the user answers no to a question, nothing changed then",
				"64  usage: no arguments, or settings and files not in pairs", ksCodeForce, ksCodeDataAdd, ksCodeBadName,
				"65  also: a FILE is larger than a setting file can be (16 MiB)",
				"74  a FILE does not exist or cannot be read; the keystore cannot be written", ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) == 0 {
				return ksErrorf(ksUsage, "Missing setting name")
			}
			if len(args)%2 != 0 {
				return ksErrorf(ksUsage, "settings and filenames must come in pairs")
			}
			var names []string
			for i := 0; i < len(args); i += 2 {
				names = append(names, args[i])
			}
			k, existed, unlock, err := s.prepareAdd(names, force, esVersion)
			if err != nil || k == nil {
				return err
			}
			defer unlock()
			for i := 0; i < len(args); i += 2 {
				name, file := args[i], args[i+1]
				if existed[name] {
					ok, err := s.overwriteOK(name, force)
					if err != nil || !ok {
						return err
					}
				}
				data, err := infile.Read(file, infile.SettingFile)
				if errors.Is(err, fs.ErrNotExist) {
					return ksErrorf(ksIOError, "File [%s] does not exist", file)
				}
				if err != nil {
					return ksErrorf(readErrorCode(err), "read [%s]: %v", file, unwrapPathError(err))
				}
				err = k.ks.SetFile(name, data)
				clear(data)
				if err != nil {
					return ksErrorf(ksDataError, "%v", err)
				}
			}
			return s.save(k)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite existing settings without asking, creating the keystore if needed")
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "format of a keystore this creates ("+esVersionFormats+")")
	return cmd
}

func newKeystoreRemoveCmd(e *env, o *ksOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove SETTING...",
		Short: "Remove settings from the keystore",
		Long: `Remove settings from the keystore. If any of them does not exist, nothing is
removed.`,
		Example: `  escert keystore remove bootstrap.password
  escert keystore remove s3.client.default.access_key s3.client.default.secret_key` +
			ksExitCodes(ksCodeOK, ksCodeUsage, ksCodeData, ksCodeIO, ksCodeLocked, ksCodeNoSetting+" (nothing was removed)", ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, names []string) error {
			if len(names) == 0 {
				return ksErrorf(ksUsage, "Must supply at least one setting to remove")
			}
			unlock, err := s.lock()
			if err != nil {
				return err
			}
			defer unlock()
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			for _, name := range names {
				if !k.ks.Remove(name) {
					return ksErrorf(ksConfig, "Setting [%s] does not exist in the keystore.", name)
				}
			}
			return s.save(k)
		}),
	}
}

func newKeystoreShowCmd(e *env, o *ksOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show SETTING",
		Short: "Print the value of one setting (or write it to a file with -o)",
		Long: `Print the value of one setting on standard output: with a line break on a terminal,
as is when standard output is redirected. A value that is not UTF-8 text (a file
setting) is not printed on a terminal: redirect it, or write it with -o FILE (mode
0600 for a new file; an existing file keeps its owner and mode).`,
		Example: `  escert keystore show bootstrap.password
  escert keystore show xpack.watcher.encryption_key -o system_key` +
			ksExitCodes(ksCodeOK, "64  usage: not exactly one setting name", ksCodeData,
				"74  a binary value would go to a terminal, or -o FILE cannot be written", ksCodeNoSetting),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, names []string) error {
			if len(names) != 1 {
				return ksErrorf(ksUsage, "Must provide a single setting name to show")
			}
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			value, ok := k.ks.Get(names[0])
			if !ok {
				return ksErrorf(ksConfig, "Setting [%s] does not exist in the keystore.", names[0])
			}
			defer clear(value)
			if output != "" {
				perm, err := atomicfs.PermOf(output, atomicfs.SecretMode)
				if err == nil {
					err = s.e.write.WriteFileAs(output, value, perm)
				}
				if err != nil {
					return ksErrorf(ksIOError, "%v", err)
				}
				return nil
			}
			out := s.cmd.OutOrStdout()
			switch {
			case !isTerminal(out):
				_, err = out.Write(value)
			case utf8.Valid(value):
				_, err = fmt.Fprintf(out, "%s\n", value)
			default:
				fmt.Fprintf(s.cmd.ErrOrStderr(), "The value for the setting [%s] is not a string and cannot be printed to the console\n", names[0])
				return ksErrorf(ksIOError, "Please redirect binary output to a file instead")
			}
			if err != nil {
				return ksErrorf(ksIOError, "write standard output: %v", err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the value to this file instead of standard output")
	return cmd
}

func newKeystorePasswdCmd(e *env, o *ksOptions) *cobra.Command {
	var (
		newPassFile string
		noPassword  bool
	)
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change the keystore password",
		Long: `Change the keystore password. The current one comes from --keystore-pass-file,
ESCERT_KEYSTORE_PASSWORD or a prompt (not asked when the keystore has none); the new
one from --new-pass-file, ESCERT_KEYSTORE_NEW_PASSWORD or a prompt (twice).
--no-password removes the password. The keystore keeps its format version, owner
and mode.`,
		Example: `  escert keystore passwd
  escert keystore passwd --keystore-pass-file old.pass --new-pass-file new.pass
  ESCERT_KEYSTORE_PASSWORD=old escert keystore passwd --no-password` +
			ksExitCodes(ksCodeOK, ksCodeUsage, "64  also: no terminal to ask for the new password on, and none given",
				ksCodeData, "65  also: the new passwords typed differ", ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "passwd takes no arguments, got [%s]", args[0])
			}
			if noPassword && newPassFile != "" {
				return ksErrorf(ksUsage, "--no-password and --new-pass-file exclude each other")
			}
			unlock, err := s.lock()
			if err != nil {
				return err
			}
			defer unlock()
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			k.password = nil
			if !noPassword {
				k.password, err = s.newPassword(newPassFile, "ESCERT_KEYSTORE_NEW_PASSWORD", "--new-pass-file",
					"no terminal to ask for the new password on: give it with --new-pass-file or ESCERT_KEYSTORE_NEW_PASSWORD, or use --no-password")
				if err != nil {
					return err
				}
			}
			if err := s.save(k); err != nil {
				return err
			}
			s.say("Elasticsearch keystore password changed successfully.")
			return nil
		}),
	}
	cmd.Flags().StringVar(&newPassFile, "new-pass-file", "", "file holding the new password (or set ESCERT_KEYSTORE_NEW_PASSWORD; asked on a terminal otherwise)")
	cmd.Flags().BoolVar(&noPassword, "no-password", false, "remove the password")
	return cmd
}

func newKeystoreUpgradeCmd(e *env, o *ksOptions) *cobra.Command {
	var esVersion string
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Rewrite the keystore in format 6, or the one --es-version reads",
		Long: `Rewrite the keystore in format 6 (Elasticsearch 8.14 and later), or in the format
the Elasticsearch version --es-version reads (` + esVersionFormats + `), adding
keystore.seed if it is missing. A keystore already in that format or a newer one is
left alone; one newer than an explicit --es-version reads is refused (escert does
not downgrade). The password, owner and mode are kept.`,
		Example: `  escert keystore upgrade
  escert keystore upgrade --es-version 8.13` +
			ksExitCodes(ksCodeOK+"; also when the keystore is already in the format", ksCodeUsage, ksCodeData, ksCodeIO, ksCodeLocked, ksCodeConfig),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "upgrade takes no arguments, got [%s]", args[0])
			}
			version, err := keystoreVersion(s.cmd, esVersion)
			if err != nil {
				return err
			}
			unlock, err := s.lock()
			if err != nil {
				return err
			}
			defer unlock()
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			_, seeded := k.ks.Get(eskeystore.SeedSetting)
			// Upgrading never lowers the format: a 9.x node's format-7 keystore
			// rewritten as 6 would make the node upgrade it again on start, which it
			// cannot do in a config directory it may not write.
			if k.ks.Version > version && s.cmd.Flags().Changed("es-version") {
				return ksErrorf(ksDataError, "keystore is in format %d, newer than Elasticsearch %s reads (format %d): escert does not downgrade keystores", k.ks.Version, esVersion, version)
			}
			if k.ks.Version >= version && seeded {
				if !s.o.silent {
					fmt.Fprintf(s.cmd.ErrOrStderr(), "Elasticsearch keystore is already in format %d\n", k.ks.Version)
				}
				return nil
			}
			from := k.ks.Version
			k.ks.Version = version
			if err := s.save(k); err != nil {
				return err
			}
			if !s.o.silent {
				fmt.Fprintf(s.cmd.ErrOrStderr(), "Rewrote elasticsearch keystore %s from format %d to %d\n", s.path, from, version)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&esVersion, "es-version", "8.14", "target Elasticsearch version; picks the format ("+esVersionFormats+")")
	return cmd
}

func newKeystoreHasPasswdCmd(e *env, o *ksOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "has-passwd",
		Short: "Succeed if the keystore exists and is password-protected, exit 1 otherwise",
		Example: `  escert keystore has-passwd
  if escert keystore has-passwd -s; then echo "give the keystore password to Elasticsearch"; fi` +
			ksExitCodes("0   the keystore is password-protected",
				"1   the keystore does not exist, or is not password-protected",
				ksCodeUsage, "65  damaged keystore, --path not a keystore file", ksCodeIO),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "has-passwd takes no arguments, got [%s]", args[0])
			}
			// HasPasswordKeyStoreCommand prints its own messages so that --silent
			// hides them, and exits 1 with no further message.
			fail := func(msg string) error {
				if !s.o.silent {
					fmt.Fprintf(s.cmd.ErrOrStderr(), "ERROR: %s\n", msg)
				}
				return ksError{ksNoPassword, ""}
			}
			data, err := s.read()
			if err != nil {
				return err
			}
			if data == nil {
				return fail(fmt.Sprintf("Elasticsearch keystore not found at [%s]", s.path))
			}
			has, err := eskeystore.HasPassword(data)
			if err != nil {
				return err
			}
			if !has {
				return fail("Keystore is not password-protected")
			}
			s.say("Keystore is password-protected")
			return nil
		}),
	}
}
