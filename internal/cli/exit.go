package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/fault"
)

// Exit codes of escert's own contract, the same for every command that does not
// follow another tool's (see contracts).
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInput       = 3
	ExitExists      = 4
	ExitLocked      = 5
	ExitRefused     = 6
	ExitCredentials = 7
	ExitUnavailable = 8
	ExitInterrupted = 130
)

// exitLine is one documented exit code.
type exitLine struct {
	code int
	text string
}

// escertCodes is escert's contract: one code per kind of error, in the words every
// command's EXIT CODES section and the README's table use.
var escertCodes = map[fault.Kind]exitLine{
	fault.Failed:      {ExitFailed, "the work failed (I/O, crypto, a bug); the message says what was done and how to continue"},
	fault.Usage:       {ExitUsage, "usage error: unknown flag, missing flag or argument"},
	fault.Input:       {ExitInput, "invalid input: the message names the file, field and fix"},
	fault.Exists:      {ExitExists, "the output exists: --force replaces it"},
	fault.Locked:      {ExitLocked, "another escert run holds the lock: retry when it is done"},
	fault.Refused:     {ExitRefused, "the issuer refused the certificate (a Vault role's or step-ca's policy)"},
	fault.Credentials: {ExitCredentials, "the server refused the credentials (Vault token or AppRole, step-ca provisioner password, the elastic user's password)"},
	fault.Unavailable: {ExitUnavailable, "the server is unavailable (unreachable, sealed, timed out, a cluster not green): retry later"},
	fault.Interrupted: {ExitInterrupted, "interrupted (Ctrl-C, SIGTERM) between steps: nothing is half-written"},
}

// contract is how one command's outcomes and errors become exit codes. Most commands
// use escert's; check, probe, needs-renewal and keystore keep the contract of the
// tool their callers already script against.
type contract struct {
	name    string     // the annotation commands carry
	title   string     // the heading of the help's section
	results []exitLine // codes that are outcomes, not errors (check's warnings, ...)
	errors  []exitLine // how errors are documented, for contracts with one code for many kinds
	// code maps an error's kind; nil is escert's table.
	code func(fault.Kind) int
}

// The annotations withExit gives a command: its contract, and the kinds of error
// its EXIT CODES section lists (for the README's table, which is made from them).
const (
	exitAnnotation      = "escert-exit-contract"
	exitKindsAnnotation = "escert-exit-kinds"
)

var (
	escertContract = &contract{name: "escert", title: "EXIT CODES"}
	// check and probe answer like Nagios plugins, so a monitoring system runs them as
	// they are: anything that stops the check is UNKNOWN.
	checkContract = &contract{name: "check", title: "EXIT CODES (those of Nagios plugins)",
		results: []exitLine{{0, "clean: no problems and no warnings"}, {1, "warnings only"}, {2, "at least one problem"}},
		errors:  []exitLine{{3, "the node could not be checked: a bad flag, a missing or unparsable config directory, elasticsearch.yml or elasticsearch.keystore, a wrong keystore password, or a file that cannot be read (run as root or as the Elasticsearch user); with --url, a cluster that cannot be reached or refuses the password"}},
		code:    func(fault.Kind) int { return 3 }}
	probeContract = &contract{name: "probe", title: "EXIT CODES (those of Nagios and Icinga plugins)",
		results: []exitLine{
			{0, "OK: every target completed a handshake and nothing below applies"},
			{probeWarning, "WARNING: a certificate of a chain (or the CA it verified to) expires within --warn-days, a server does not send its CA (Beats' ca_trusted_fingerprint then cannot match), or it does not send the intermediate CA its chain needs, which only --ca held"},
			{probeCritical, "CRITICAL: a handshake failed (nothing listening, no answer within --timeout, not TLS, the client certificate refused), the chain does not verify to --ca (or its issuer is neither sent nor in --ca), the certificate does not name the host, or a certificate expired or is not yet valid"}},
		errors: []exitLine{{probeUnknown, "UNKNOWN: nothing probed: a bad target, flag or argument, an unreadable --ca, --cert, --key or --p12 file, or a wrong password"}},
		code:   func(fault.Kind) int { return probeUnknown }}
	// needs-renewal answers like step certificate needs-renewal, so scripts written
	// for step work unchanged: 0 due, 1 not due, 2 missing, 255 anything else.
	needsRenewalContract = &contract{name: "needs-renewal", title: "EXIT CODES (those of step certificate needs-renewal)",
		results: []exitLine{{exitRenewNow, "renew now: at least one certificate is due"}, {exitNotYet, "not yet"}, {exitMissing, "missing: no certificate configured, or a configured file does not exist"}},
		errors:  []exitLine{{exitNeedsRenewalError, "any other error: a bad flag, unreadable files, a wrong keystore password"}},
		code:    func(fault.Kind) int { return exitNeedsRenewalError }}
	// keystore answers like elasticsearch-keystore (sysexits.h codes); each
	// subcommand documents its codes (keystore.go).
	keystoreContract = &contract{name: "keystore", code: ksCode}
)

var contracts = []*contract{escertContract, checkContract, probeContract, needsRenewalContract, keystoreContract}

// withExit gives cmd its contract and ends its help with the EXIT CODES section: for
// escert's contract, the lines of the kinds the command can answer with (success,
// failure and usage always).
func withExit(cmd *cobra.Command, c *contract, kinds ...fault.Kind) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[exitAnnotation] = c.name
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	cmd.Annotations[exitKindsAnnotation] = strings.Join(names, ",")
	if c != keystoreContract {
		cmd.Example += "\n\n" + c.section(kinds)
	}
	return cmd
}

// lines are the codes the section documents, in order.
func (c *contract) lines(kinds []fault.Kind) []exitLine {
	if c.code != nil {
		return append(append([]exitLine{}, c.results...), c.errors...)
	}
	lines := []exitLine{{ExitOK, "success"}, escertCodes[fault.Failed], escertCodes[fault.Usage]}
	for _, k := range fault.Kinds() {
		if k != fault.Failed && k != fault.Usage && slices.Contains(kinds, k) {
			lines = append(lines, escertCodes[k])
		}
	}
	return lines
}

// section renders the help's EXIT CODES section, wrapped at 88 columns.
func (c *contract) section(kinds []fault.Kind) string {
	var b strings.Builder
	b.WriteString(c.title)
	for _, l := range c.lines(kinds) {
		code := fmt.Sprintf("%-3d", l.code)
		indent := "\n  " + code + "  "
		for _, line := range wrap(l.text, 88-len(indent)+1) {
			b.WriteString(indent + line)
			indent = "\n  " + strings.Repeat(" ", len(code)) + "  "
		}
	}
	return b.String()
}

func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// kindOf is the error's kind, with a cancelled context (Ctrl-C) as Interrupted
// whichever package returned it.
func kindOf(err error) fault.Kind {
	if errors.Is(err, context.Canceled) {
		return fault.Interrupted
	}
	return fault.KindOf(err)
}

// code maps an error to the contract's exit code.
func (c *contract) exitCode(err error) int {
	var out outcome
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &out):
		return out.code
	case c.code != nil:
		return c.code(kindOf(err))
	}
	return escertCodes[kindOf(err)].code
}

// outcome is a result that is not an error but has its own exit code (check found
// problems, a certificate is not due yet). An empty message prints nothing.
type outcome struct {
	code int
	err  error
}

func (o outcome) Error() string { return o.err.Error() }
func (o outcome) Unwrap() error { return o.err }

// silentOutcome is an outcome whose output already said everything.
func silentOutcome(code int) error { return outcome{code, errors.New("")} }

func badInput(format string, args ...any) error { return fault.New(fault.Input, format, args...) }

func usagef(format string, args ...any) error { return fault.New(fault.Usage, format, args...) }

// Run executes the command tree with args and returns the process exit code, printing
// an error as one line on stderr. SIGINT and SIGTERM cancel the context commands pass
// to Vault, step-ca and every step between writes; a second signal kills at once.
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	return runContext(ctx, defaultEnv(), args, stdout, stderr)
}

func run(e *env, args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), e, args, stdout, stderr)
}

func runContext(ctx context.Context, e *env, args []string, stdout, stderr io.Writer) int {
	e.write.Notify = func(msg string) { fmt.Fprintf(stderr, "escert: %s\n", msg) }
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fault.Mark(fault.Usage, err) })
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	// cobra reports an unknown subcommand as a plain error.
	if strings.HasPrefix(err.Error(), "unknown command") {
		err = fault.Mark(fault.Usage, err)
	}
	code := contractOf(cmd).exitCode(err)
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "escert: %s\n", msg)
	}
	var bug *bundle.PanicError
	if errors.As(err, &bug) && e.getenv("ESCERT_DEBUG") != "" {
		stderr.Write(bug.Stack)
	}
	return code
}

// contractOf is the contract of cmd or of its nearest parent that has one.
func contractOf(cmd *cobra.Command) *contract {
	for c := cmd; c != nil; c = c.Parent() {
		name := c.Annotations[exitAnnotation]
		for _, k := range contracts {
			if k.name == name {
				return k
			}
		}
	}
	return escertContract
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
		return usagef("%s: missing %s (see %s --help)", cmd.CommandPath(), strings.Join(missing, " and "), cmd.CommandPath())
	}
	return nil
}

// minArgs is cobra.MinimumNArgs as a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("%s needs at least %d argument(s): see --help", cmd.CommandPath(), n)
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
