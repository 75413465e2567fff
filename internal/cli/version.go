package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
)

func newVersionCmd() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print escert's version, Go version and crypto mode",
		Example: "  escert version\n  escert version -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The keystore formats read, so that a "too new" keystore can be matched
			// to an escert that reads it.
			info := struct {
				Version         string    `json:"version"`
				Go              string    `json:"go"`
				Crypto          fips.Mode `json:"crypto"`
				KeystoreFormats []int     `json:"keystore_formats"`
			}{Version, runtime.Version(), fips.Current(), eskeystore.Formats()}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "escert %s\ngo %s\ncrypto %s\nkeystore formats %d to %d\n", info.Version, info.Go, info.Crypto,
				info.KeystoreFormats[0], info.KeystoreFormats[len(info.KeystoreFormats)-1])
			return nil
		},
	}
	outputFlag(cmd.Flags(), &output, "text or json")
	return withExit(cmd, escertContract)
}
