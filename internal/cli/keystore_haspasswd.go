package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
)

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
