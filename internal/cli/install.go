package cli

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newInstallCmd(e *env) *cobra.Command { return &cobra.Command{Use: "install", Hidden: true} }
