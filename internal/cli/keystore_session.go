package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

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

// isTerminal reports whether w is a terminal, where show prints text with a line
// break and refuses binary values (Terminal.getOutputStream is null on a console).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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
