package cli

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/escert/escert/internal/eskeystore"
)

// keystorePassword returns the password for an existing elasticsearch.keystore (its
// bytes in data): the empty password when the keystore has none, as Elasticsearch does
// without asking; otherwise --keystore-pass-file, ESCERT_KEYSTORE_PASSWORD, or a prompt
// when stdin is a terminal. Cron jobs and containers never block on a prompt.
func keystorePassword(e *env, passFile string, data []byte) ([]byte, error) {
	has, err := eskeystore.HasPassword(data)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, nil
	}
	return newKeystorePassword(e, passFile, "Enter password for the elasticsearch keystore: ")
}

// newKeystorePassword reads a keystore password from the file, the environment or a
// prompt; it returns nil (no password) when none of them gives one.
func newKeystorePassword(e *env, passFile, prompt string) ([]byte, error) {
	pw, err := readSecret(e, passFile, "ESCERT_KEYSTORE_PASSWORD", "--keystore-pass-file")
	if err != nil || pw != nil {
		return pw, err
	}
	if e.prompt == nil {
		return nil, badInput("the keystore is password-protected: give the password with --keystore-pass-file or ESCERT_KEYSTORE_PASSWORD")
	}
	return e.prompt(prompt)
}

// terminalPrompt asks on the terminal without echo; nil when stdin is not a terminal.
func terminalPrompt() func(string) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func(msg string) ([]byte, error) {
		fmt.Fprint(os.Stderr, msg)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if len(pw) == 0 {
			return nil, errors.New("empty password")
		}
		return pw, nil
	}
}
