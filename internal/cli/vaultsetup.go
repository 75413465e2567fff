package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer/vault"
)

func newVaultCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "vault", Short: "Prepare Vault's PKI engine for escert"}
	var (
		sc           vault.SetupConfig
		addr, caCert string
	)
	setup := &cobra.Command{
		Use:   "setup --domain DOMAIN",
		Short: "Create one PKI mount per layer, its root CA and role, and print the node policy",
		Long: `For a team without a PKI mount yet: enable the PKI engine at one mount per layer
(transport and HTTP, so HTTP certificates never come from the issuer the transport
layer trusts), create each root CA, write a role per mount that allows what escert's
certificates carry (names under --domain, localhost, IP SANs, the transport node
otherName, server and client usage), and print the policy a node needs: sign on its
roles, nothing else. Safe to run again: existing mounts and CAs are kept.

Needs an admin token in VAULT_TOKEN (never a flag).`,
		Example: `  VAULT_ADDR=https://vault:8200 VAULT_TOKEN=... escert vault setup --domain es.example.com --policy escert-node
  vault token create -policy=escert-node        # a token for each node's renew job`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "domain"); err != nil {
				return err
			}
			sc.Vault.Addr = firstNonEmpty(addr, e.getenv("VAULT_ADDR"))
			sc.Vault.CACert = firstNonEmpty(caCert, e.getenv("VAULT_CACERT"))
			sc.Vault.Auth.Token = e.getenv("VAULT_TOKEN")
			if sc.Vault.Addr == "" || sc.Vault.Auth.Token == "" {
				return usagef("vault setup needs VAULT_ADDR (or --vault-addr) and an admin token in VAULT_TOKEN")
			}
			policy, done, err := vault.Setup(cmd.Context(), sc)
			for _, d := range done {
				fmt.Fprintln(cmd.ErrOrStderr(), "[vault] "+d)
			}
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), policy)
			return nil
		},
	}
	fl := setup.Flags()
	fl.StringVar(&addr, "vault-addr", "", "Vault's address (default $VAULT_ADDR)")
	fl.StringVar(&caCert, "vault-cacert", "", "CA file to trust Vault's TLS certificate (default $VAULT_CACERT)")
	fl.StringVar(&sc.Domain, "domain", "", "the domain node names live under (allowed_domains)")
	fl.StringVar(&sc.Cluster, "cluster-name", "elasticsearch", "named in the CAs' common names")
	fl.StringVar(&sc.TransportMount, "transport-mount", "pki_es_transport", "PKI mount for the transport layer")
	fl.StringVar(&sc.HTTPMount, "http-mount", "pki_es_http", "PKI mount for the HTTP layer")
	fl.StringVar(&sc.Role, "role", "es-node", "role name on both mounts")
	fl.StringVar(&sc.CATTL, "ca-ttl", "87600h", "root CA lifetime and the mounts' max lease TTL")
	fl.StringVar(&sc.MaxTTL, "max-ttl", "8760h", "longest certificate the roles issue")
	fl.StringVar(&sc.PolicyName, "policy", "", "also write the node policy to Vault under this name")
	cmd.AddCommand(withExit(setup, escertContract, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted))
	return cmd
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
