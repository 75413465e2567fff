package cli

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newKeystoreCmd(e *env) *cobra.Command { return &cobra.Command{Use: "keystore", Hidden: true} }
