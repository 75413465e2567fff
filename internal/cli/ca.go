package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

func newCACmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Manage certificate authorities",
	}
	var (
		f          keyFlags
		out        string
		cluster    string
		single     bool
		force      bool
		caPassFile string
		fipsMode   bool
		quiet      bool
	)
	create := &cobra.Command{
		Use:   "create --out DIR",
		Short: "Create the transport and HTTP CAs alone, for CAs kept offline",
		Long: `Create the CAs without any node: DIR/transport-ca.crt/.key and DIR/http-ca.crt/.key
(or DIR/ca.crt/.key with --single-ca). Issue from them later with
'escert bootstrap --ca-dir DIR' or 'escert cert --ca-dir DIR'.`,
		Example: `  ESCERT_CA_PASSWORD=... escert ca create --out offline-ca
  escert ca create --out offline-ca --key-type rsa --key-size 4096 --ca-pass-file ca.pass`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "out"); err != nil {
				return err
			}
			policy := fips.ForCurrent(fipsMode)
			key, err := f.spec(policy)
			if err != nil {
				return err
			}
			if err := spec.CheckClusterName(cluster); err != nil {
				return usagef("--cluster-name: %w", err)
			}
			if err := checkOutput(out, force); err != nil {
				return err
			}
			caPass, err := readSecret(e, caPassFile, "ESCERT_CA_PASSWORD", "--ca-pass-file")
			if err != nil {
				return err
			}
			if err := policy.CheckPassword("CA passphrase", "--ca-pass-file or ESCERT_CA_PASSWORD", caPass); err != nil {
				return fault.Mark(fault.Usage, err)
			}
			local, err := issuer.NewLocal(e.rand, policy, key, cluster, f.caDays, single, e.now)
			if err != nil {
				return err
			}
			files, err := cadir.Files(local.CAs, "", e.rand, caPass)
			if err != nil {
				return err
			}
			if _, err := e.write.WriteTree(out, files, force, e.now()); err != nil {
				return err
			}
			if len(caPass) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: CA keys are written unencrypted (mode 0600): set ESCERT_CA_PASSWORD or --ca-pass-file to encrypt them")
			}
			for _, file := range files {
				if !quiet {
					fmt.Fprintf(cmd.OutOrStdout(), "%s/%s\n", out, file.Path)
				}
			}
			return nil
		},
	}
	f.register(create.Flags())
	create.Flags().StringVar(&out, "out", "", "output directory")
	quietFlag(create.Flags(), &quiet)
	create.Flags().StringVar(&cluster, "cluster-name", "elasticsearch", "cluster name, shown in the CA subjects")
	create.Flags().BoolVar(&single, "single-ca", false, "one CA for both layers")
	create.Flags().BoolVar(&force, "force", false, "replace a non-empty --out (the old one is kept as a backup)")
	create.Flags().BoolVar(&fipsMode, "fips", false, "FIPS 140 policy: the CA passphrase must have 14+ bytes (implied by a FIPS build)")
	create.Flags().StringVar(&caPassFile, "ca-pass-file", "", "file holding the CA key passphrase (or set ESCERT_CA_PASSWORD)")
	cmd.AddCommand(withExit(create, escertContract, fault.Input, fault.Exists), newCARotateCmd(e))
	return cmd
}
