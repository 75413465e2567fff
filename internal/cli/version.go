package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/fips"
)

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print escert's version, Go version and crypto mode",
		Example: "  escert version\n  escert version -o json" + exitCodeDoc,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := struct {
				Version string    `json:"version"`
				Go      string    `json:"go"`
				Crypto  fips.Mode `json:"crypto"`
			}{Version, runtime.Version(), fips.Current()}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "escert %s\ngo %s\ncrypto %s\n", info.Version, info.Go, info.Crypto)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
