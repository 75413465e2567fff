package cli

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
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
		out outcome
	)
	switch {
	case errors.As(err, &ke):
		return ke.code, ke.msg
	case errors.As(err, &out):
		return out.code, out.Error()
	case errors.Is(err, eskeystore.ErrWrongPassword):
		return ksDataError, "Provided keystore password was incorrect"
	case errors.Is(err, eskeystore.ErrCorrupted):
		detail := strings.TrimPrefix(err.Error(), eskeystore.ErrCorrupted.Error()+": ")
		return ksDataError, "Keystore has been corrupted or tampered with: " + detail
	}
	return ksCode(kindOf(err)), err.Error()
}

// ksCode is elasticsearch-keystore's code for an error of a kind: bad input is
// DATA_ERROR, a lock held too long TEMP_FAILURE, anything unclassified IO_ERROR.
func ksCode(k fault.Kind) int {
	switch k {
	case fault.Usage, fault.Exists:
		return ksUsage
	case fault.Input:
		return ksDataError
	case fault.Locked:
		return ksTempFail
	case fault.Interrupted:
		return ExitInterrupted
	}
	return ksIOError
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
		return silentOutcome(code)
	}
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
			ksExitCodes(ksCodeOK, "64  usage: missing or unknown subcommand, unknown flag"),
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
		return silentOutcome(ksUsage)
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
	return withExit(cmd, keystoreContract)
}
