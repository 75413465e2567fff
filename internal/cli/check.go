package cli

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newCheckCmd(e *env) *cobra.Command { return &cobra.Command{Use: "check", Hidden: true} }
