package cli

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newClientConfigCmd(e *env) *cobra.Command { return &cobra.Command{Use: "client-config", Hidden: true} }
