// Package cli wires escert's cobra commands to the packages that do the work. Each
// command lives in its own file, starts its help with examples and ends it with an
// EXIT CODES section; errors are mapped to exit codes in one place (exit.go).
package cli

import (
	"crypto/rand"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/fips"
)

// Version is set at build time with -ldflags "-X github.com/escert/escert/internal/cli.Version=...".
var Version = "dev"

// env is what commands take from the outside world; tests replace it.
type env struct {
	rand   io.Reader
	now    func() time.Time
	getenv func(string) string
	stdin  io.Reader
	// prompt asks for a secret on a terminal; nil when there is none to ask on.
	prompt func(msg string) ([]byte, error)
	sleep  func(time.Duration)
	// write writes every file a command writes; run points its Notify at stderr.
	write atomicfs.Writer
}

func defaultEnv() *env {
	return &env{rand: rand.Reader, now: time.Now, getenv: os.Getenv, stdin: os.Stdin, prompt: terminalPrompt(), sleep: time.Sleep}
}

// NewRoot builds the escert command tree.
func NewRoot() *cobra.Command { return newRoot(defaultEnv()) }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "escert",
		Short: "Secure a self-managed Elasticsearch cluster: CAs, node certificates, keystores and settings",
		Long: `escert turns an unsecured Elasticsearch cluster into a secured one: it creates the
transport and HTTP certificate authorities, every node's certificates and keystores,
the elasticsearch.keystore with their passwords, and the elasticsearch.yml settings
that turn security on. One static binary; no Java needed.`,
		Example: `  # Everything for a three-node cluster, from elasticsearch-certutil's instances.yml:
  escert bootstrap --instances instances.yml --out escert-out

  # Look at what was made:
  escert inspect escert-out/nodes/node1/certs/http.p12 --pass-file p12.pass`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A FIPS build whose module is switched off must not do crypto work; version
		// and help still run, so the operator can see why.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == "version" || cmd.Name() == "help" {
				return nil
			}
			return fips.CheckRuntime()
		},
	}
	root.AddCommand(newBootstrapCmd(e), newCertCmd(e), newCACmd(e), newInstallCmd(e), newKeystoreCmd(e),
		newCSRCmd(e), newClientConfigCmd(e), newCheckCmd(e), newNeedsRenewalCmd(e), newRenewCmd(e), newProbeCmd(e), newVaultCmd(e), newStepCmd(),
		newInspectCmd(e), newPasswordsCmd(e), newVersionCmd())
	return root
}
