package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/spec"
)

func newCSRCmd(e *env) *cobra.Command {
	var (
		key                 keyFlags
		instances, out      string
		cluster             string
		noTrust, noLocal    bool
		force, quiet, fipsF bool
		output              outputFormat
	)
	cmd := &cobra.Command{
		Use:   "csr --instances FILE --out DIR",
		Short: "Write keys and certificate requests for a company CA to sign",
		Long: `Write, for every instance of an instances file, a private key and a certificate
request per certificate it needs, for a company's own CA (its PKI team) to sign:

  DIR/transport/<name>.csr     node-to-node certificates (send to the PKI team)
  DIR/http/<name>[-<cert>].csr HTTPS certificates; may go to another issuing CA
  DIR/PKI-REQUEST.md           for the PKI team: the usages and names each needs, and why
  DIR/keys/                    the private keys (mode 0600): they never leave this machine
  DIR/request.json, instances.yml  what was requested, for 'escert bootstrap --issuer pki'

Each request asks for every name (DNS, IP and, on the transport layer, the node-name
otherName the trust restrictions match) and the usages its layer needs. When the
signed certificates are back, build the bundles with

  escert bootstrap --issuer pki --csr-dir DIR --signed SIGNED --root ROOT --out OUT`,
		Example: `  escert csr --instances instances.yml --out csr --cluster-name prod
  escert csr --instances instances.yml --out csr --key-type rsa --key-size 3072   # if the PKI signs RSA only`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "instances", "out"); err != nil {
				return err
			}
			policy := fips.ForCurrent(fipsF)
			keySpec, err := key.spec(policy)
			if err != nil {
				return err
			}
			if err := spec.CheckClusterName(cluster); err != nil {
				return usagef("--cluster-name: %w", err)
			}
			opts := spec.Options{ClusterName: cluster, TrustRestrictions: !noTrust, Localhost: !noLocal}
			return runCSR(e, cmd.OutOrStdout(), cmd.ErrOrStderr(), instances, out, opts, keySpec, policy, force, quiet, output == "json")
		},
	}
	key.registerKey(cmd.Flags())
	cmd.Flags().StringVar(&instances, "instances", "", "instances file (elasticsearch-certutil format, with escert's optional fields)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (must not exist or be empty, unless --force)")
	cmd.Flags().StringVar(&cluster, "cluster-name", "elasticsearch", "cluster.name, used in the transport node names <node>.node.<name>")
	cmd.Flags().BoolVar(&noTrust, "no-trust-restrictions", false, "do not ask for the node-name otherName the transport trust restrictions match")
	cmd.Flags().BoolVar(&noLocal, "no-localhost", false, "leave localhost, 127.0.0.1 and ::1 out of HTTP requests")
	cmd.Flags().BoolVar(&force, "force", false, "replace a non-empty --out (the old one is kept as <out>.bak-<time>)")
	cmd.Flags().BoolVar(&fipsF, "fips", false, "keys and requests under the FIPS 140 policy (implied by a FIPS build)")
	quietFlag(cmd.Flags(), &quiet)
	outputFlag(cmd.Flags(), &output, "stdout format: text or json (request.json)")
	return withExit(cmd, escertContract, fault.Exists, fault.Input, fault.Interrupted)
}

func runCSR(e *env, stdout, stderr io.Writer, instancesFile, out string, opts spec.Options, key fips.KeySpec, policy fips.Policy, force, quiet, asJSON bool) error {
	if err := checkOutput(out, force); err != nil {
		return err
	}
	data, err := infile.Read(instancesFile, infile.Instances)
	if err != nil {
		return badInput("%s: %v", instancesFile, unwrapPathError(err))
	}
	instances, err := spec.ParseInstances(instancesFile, data)
	if err != nil {
		return err
	}
	var certs []spec.Certificate
	for _, inst := range instances {
		cs, err := spec.Certificates(inst, opts)
		if err != nil {
			return err
		}
		certs = append(certs, cs...)
	}
	log := progress{w: stderr, quiet: quiet}
	tree, err := e.write.StageTree(out, force)
	if err != nil {
		return err
	}
	defer tree.Discard()
	bar := log.bar(len(certs), "[keys] making keys and requests for")
	files, req, err := csrdir.Files(csrdir.Input{
		Certificates: certs, Options: opts, Instances: data, Key: key, Policy: policy,
		Rand: e.rand, Now: e.now(), Tool: "escert " + Version, Progress: func() { bar.Add(1) },
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if err := tree.Add(files...); err != nil {
		return err
	}
	backup, err := tree.Commit(e.now())
	if err != nil {
		return err
	}
	if backup != "" {
		log.printf("[out] kept the previous %s as %s", out, backup)
	}
	if asJSON {
		return printJSON(stdout, req)
	}
	if quiet {
		return nil
	}
	counts := map[spec.Layer]int{}
	for _, c := range req.Certificates {
		counts[c.Layer]++
	}
	fmt.Fprintf(stdout, "Wrote %d certificate request(s) for %d instance(s) to %s (%s keys).\n\n", len(req.Certificates), len(instances), out, req.Key)
	fmt.Fprintf(stdout, "Send to the PKI team: %s (%d transport requests), %s (%d HTTP requests)\n  and %s, which says what each certificate must carry.\n",
		filepath.Join(out, string(spec.Transport)), counts[spec.Transport], filepath.Join(out, string(spec.HTTP)), counts[spec.HTTP], filepath.Join(out, csrdir.NotesFile))
	fmt.Fprintf(stdout, "Keep %s here (mode 0600): the keys never leave this machine.\n", filepath.Join(out, csrdir.KeysDir))
	fmt.Fprintf(stdout, "Next, with the signed certificates and the issuing chain in SIGNED/ and the root in ROOT:\n  escert bootstrap --issuer pki --csr-dir %s --signed SIGNED --root ROOT --out escert-out\n", out)
	return nil
}
