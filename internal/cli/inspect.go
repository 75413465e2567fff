package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/inspect"
)

func newInspectCmd(e *env) *cobra.Command {
	var passFile string
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "inspect FILE...",
		Short: "Describe certificates, keys, PKCS#12 files and elasticsearch.keystore files",
		Long: `Describe each file: a PEM or DER certificate or chain (names, usages, expiry,
SHA-256 fingerprint), a private key (its type only: key material is never shown),
a PKCS#12 file (entries, aliases, chains, trusted certificates) or an
elasticsearch.keystore (format version and setting names: values are never shown).

A password for a PKCS#12 file or a password-protected keystore comes from
--pass-file or the ESCERT_PASSWORD environment variable, never from a flag value.
Without one, a PKCS#12 file whose certificates are not encrypted (escert's) is
described from its certificates alone: the key is not decrypted and the MAC not
verified, and the report says so ("unverified"). A PKCS#12 file with encrypted
certificates in a node bundle (certs/*.p12) is opened with the passwords in the
bundle's elasticsearch.keystore, when that has no password.`,
		Example: `  escert inspect escert-out/ca/http-ca.crt
  escert inspect escert-out/nodes/node1/elasticsearch.keystore -o json
  escert inspect escert-out/nodes/node1/certs/transport.p12 --pass-file transport.pass`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var reports []*inspect.Report
			for _, file := range args {
				data, err := infile.Read(file, infile.Anything)
				if err != nil {
					return badInput("%s: %v", file, unwrapPathError(err))
				}
				r, err := inspect.File(file, data, p12Passwords(e, file, passFile), e.now())
				if err != nil {
					if fault.KindOf(err) == fault.Failed {
						err = fault.Mark(fault.Input, err)
					}
					return fmt.Errorf("%s: %w", file, err)
				}
				reports = append(reports, r)
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), reports)
			}
			for _, r := range reports {
				inspect.Render(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "pass-file", "", "file holding the PKCS#12 or keystore password (or set ESCERT_PASSWORD)")
	outputFlag(cmd.Flags(), &output, "text or json")
	return withExit(cmd, escertContract, fault.Input)
}

// passwordsFor lists the passwords to try for file, in order (see p12Passwords), for
// callers that need the key and so always decrypt, as probe --p12 does.
func passwordsFor(e *env, file, passFile string) func() ([][]byte, error) {
	return p12Passwords(e, file, passFile).List
}

// p12Passwords gives the passwords to try for file: the one the operator gave, or
// else the secure passwords of the node bundle's elasticsearch.keystore next to it.
// inspect asks for the keystore's only when it must decrypt, since that means
// decrypting the keystore too.
func p12Passwords(e *env, file, passFile string) inspect.Passwords {
	given := func() ([]byte, error) { return readSecret(e, passFile, "ESCERT_PASSWORD", "--pass-file") }
	return inspect.Passwords{Given: given, Candidates: func() ([][]byte, error) {
		candidates := [][]byte{nil}
		for _, dir := range []string{filepath.Dir(file), filepath.Dir(filepath.Dir(file))} {
			data, err := infile.Read(filepath.Join(dir, "elasticsearch.keystore"), infile.Keystore)
			if err != nil {
				continue
			}
			ks, err := eskeystore.Decode(data, nil)
			if err != nil {
				continue
			}
			for _, name := range ks.Names() {
				if strings.HasSuffix(name, ".secure_password") {
					value, _ := ks.Get(name)
					candidates = append(candidates, value)
				}
			}
		}
		return candidates, nil
	}}
}
