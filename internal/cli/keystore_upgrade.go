package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
)

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
			k, unlock, err := s.lockedLoad()
			if err != nil {
				return err
			}
			defer unlock()
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
