package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer/stepca"
)

func newStepCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "step", Short: "Prepare a step-ca for escert"}
	template := &cobra.Command{
		Use:   "template",
		Short: "Print the provisioner template escert's node certificates need",
		Long: `Print an X.509 template for the JWK provisioner escert issues through. It is
step-ca's default leaf template plus one thing: the transport node names escert
sends in the token's ` + stepca.NodeNameClaim + ` claim become otherName SANs (OID
2.5.4.3), which Elasticsearch's transport trust restrictions match. Without it
step-ca leaves them out and escert refuses the certificate.`,
		Example: `  escert step template > /etc/step-ca/templates/escert-node.tpl
  step ca provisioner update escert --x509-template /etc/step-ca/templates/escert-node.tpl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), stepca.NodeTemplate)
			return err
		},
	}
	cmd.AddCommand(withExit(template, escertContract, fault.Input))
	return cmd
}
