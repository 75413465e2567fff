package cli

import (
	"github.com/spf13/cobra"
)

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
			k, unlock, err := s.lockedLoad()
			if err != nil {
				return err
			}
			defer unlock()
			for _, name := range names {
				if !k.ks.Remove(name) {
					return ksErrorf(ksConfig, "Setting [%s] does not exist in the keystore.", name)
				}
			}
			return s.save(k)
		}),
	}
}
