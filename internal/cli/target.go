package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/escert/escert/internal/target"
)

// targetFlagVar registers --target on a command that works on a node's config
// directory, where the directory itself says which engine it is for.
func targetFlagVar(fs *pflag.FlagSet, v *string) {
	fs.StringVar(v, "target", "", "elasticsearch or opensearch; default: what the config directory holds (elasticsearch.yml or opensearch.yml), and a mismatch is refused")
}

// nodeTarget is the engine of a node's config directory, refusing a --target that
// says otherwise.
func nodeTarget(cmd *cobra.Command, flag, configDir string) (target.Target, error) {
	found, err := target.Detect(configDir)
	if err != nil {
		return "", badInput("%s: %v", configDir, err)
	}
	if cmd.Flags().Changed("target") {
		want, err := target.Parse(flag)
		if err != nil {
			return "", usagef("--target %w", err)
		}
		if want != found {
			return "", badInput("%s: --target %s, but the directory holds %s, so it is %s's: point --es-config at the %s node's config directory", configDir, want, found.SettingsFile(), found.Product(), want.Product())
		}
	}
	return found, nil
}

// checkTargetFlag refuses a --target the config directory contradicts; without
// --target the directory decides and there is nothing to check.
func checkTargetFlag(cmd *cobra.Command, flag, configDir string) error {
	if !cmd.Flags().Changed("target") || configDir == "" {
		return nil
	}
	_, err := nodeTarget(cmd, flag, configDir)
	return err
}
