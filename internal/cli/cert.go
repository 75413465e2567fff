package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

func newCertCmd(e *env) *cobra.Command {
	var (
		f                                issueFlags
		iflags                           issuerFlags
		name, filename, kind, caDir, out string
		dns, ips, cns, httpDNS, httpIPs  []string
		clientAuth                       bool
	)
	cmd := &cobra.Command{
		Use:   "cert --name N --ca-dir DIR --out DIR",
		Short: "Issue one more instance (a new node, a Kibana host) from existing CAs",
		Long: `Issue the bundle of one instance from the CAs of an earlier bootstrap (its ca/
folder) or of 'escert ca create'. The output has the same layout as a bootstrap,
without the CAs' keys and without a bootstrap password (a node joining a running
cluster does not use one). The cluster name in the node's transport otherName is
taken from the CA, so the node matches the cluster's trust restrictions.`,
		Example: `  escert cert --name node4 --dns node4.example.com --ip 192.0.2.14 --ca-dir escert-out/ca --out node4-bundle
  escert cert --name kibana --type kibana --dns kibana.example.com --ca-dir escert-out/ca --out kibana-bundle
  escert cert --name node4 --dns node4.example.com --out node4-bundle --cluster-name prod --issuer step --ca-url https://ca:9000 \
      --root root_ca.crt --provisioner escert --provisioner-password-file provisioner.pw`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := iflags.check(); err != nil {
				return err
			}
			need := []string{"name", "out"}
			if !iflags.remote() {
				need = append(need, "ca-dir")
			}
			if err := required(cmd, need...); err != nil {
				return err
			}
			inst, err := spec.NewInstance(name, filename, spec.Kind(kind), dns, ips, cns, httpDNS, httpIPs, clientAuth)
			if err != nil {
				return err
			}
			policy := fips.ForCurrent(f.fips)
			opts, err := f.options(e, policy)
			if err != nil {
				return err
			}
			if err := checkOutput(out, f.force); err != nil {
				return err
			}
			var iss issuer.Issuer
			if iflags.remote() {
				if iss, err = iflags.build(cmd.Context(), e, policy, opts.Key, cmd.ErrOrStderr()); err != nil {
					return err
				}
			} else {
				caPass, err := readSecret(e, f.caPassFile, "ESCERT_CA_PASSWORD", "--ca-pass-file")
				if err != nil {
					return err
				}
				local, err := issuer.LoadLocal(caDir, caPass, policy, e.rand, e.now)
				if err != nil {
					return err
				}
				adoptClusterName(local, &opts, cmd.Flags().Changed("cluster-name"), cmd.ErrOrStderr())
				iss = local
			}
			res, err := bundle.Build(cmd.Context(), bundle.Request{Issuer: iss, Instances: []spec.Instance{inst}}, opts)
			if err != nil {
				return err
			}
			if _, err := e.write.WriteTree(out, res.Files, f.force, e.now()); err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
			}
			if !f.quiet {
				printSummary(cmd.OutOrStdout(), out, res.Manifest)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	iflags.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "instance name, or a full DN such as CN=node4,O=Example")
	fl.StringVar(&filename, "filename", "", "bundle directory name (default: the name)")
	fl.StringVar(&kind, "type", string(spec.Elasticsearch), "what the instance is: elasticsearch, kibana, logstash, fleet, apm, beats or client")
	fl.StringSliceVar(&dns, "dns", nil, "DNS names (repeat or comma-separate)")
	fl.StringSliceVar(&ips, "ip", nil, "IP addresses")
	fl.StringSliceVar(&cns, "cn", nil, "otherName SANs (certutil's cn)")
	fl.StringSliceVar(&httpDNS, "http-dns", nil, "DNS names only on the HTTP certificate")
	fl.StringSliceVar(&httpIPs, "http-ip", nil, "IP addresses only on the HTTP certificate")
	fl.BoolVar(&clientAuth, "client-auth", false, "also issue a client certificate for mutual TLS to Elasticsearch's HTTP layer")
	fl.StringVar(&caDir, "ca-dir", "", "directory with transport-ca.crt/.key and http-ca.crt/.key (or ca.crt/.key)")
	fl.StringVar(&out, "out", "", "output directory")
	return withExit(cmd, escertContract, fault.Exists, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted)
}
