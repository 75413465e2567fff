package cli

import (
	"github.com/spf13/cobra"
)

func newKeystoreListCmd(e *env, o *ksOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the setting names in the keystore, sorted, one per line",
		Example: `  escert keystore list
  ES_PATH_CONF=/usr/share/elasticsearch/config escert keystore list` +
			ksExitCodes(ksCodeOK, ksCodeUsage, ksCodeData, ksCodeIO),
		Args: cobra.ArbitraryArgs,
		RunE: ksRunE(e, o, func(s *ksSession, args []string) error {
			if len(args) > 0 {
				return ksErrorf(ksUsage, "list takes no arguments, got [%s]", args[0])
			}
			k, err := s.mustLoad()
			if err != nil {
				return err
			}
			for _, name := range k.ks.Names() {
				s.say("%s", name)
			}
			return nil
		}),
	}
}
