package cli

import (
	"github.com/spf13/cobra"
)

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
			k, unlock, err := s.lockedLoad()
			if err != nil {
				return err
			}
			defer unlock()
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
