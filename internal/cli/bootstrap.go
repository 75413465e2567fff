package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

func newBootstrapCmd(e *env) *cobra.Command {
	var (
		f         issueFlags
		iflags    issuerFlags
		instances string
		out       string
		caDir     string
		singleCA  bool
		output    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "bootstrap --instances FILE --out DIR",
		Short: "Create the CAs and every node's certificates, keystores and settings",
		Long: `Create everything a cluster needs to turn security on, for every instance of an
instances file (elasticsearch-certutil's format works unchanged):

  DIR/ca/transport-ca.crt, .key    the private transport CA (nodes only)
  DIR/ca/http-ca.crt, .key         the HTTP CA that clients trust
  DIR/nodes/<filename>/            a node's bundle, for escert install --bundle:
      certs/transport.p12, certs/http.p12, certs/*-ca.crt, certs/transport-trust.yml,
      elasticsearch.keystore (p12 passwords, bootstrap.password, keystore.seed),
      elasticsearch.yml (the settings block install merges)
  DIR/clients/http-ca.crt, http-ca.sha256, DIR/clients/<filename>/ for non-node instances
  DIR/elastic-bootstrap-password   the elastic user's initial password (mode 0600)
  DIR/manifest.json                what was made; never a secret

Instances may say what they are with "type: kibana|logstash|fleet|apm|beats|client"
(default elasticsearch), add HTTP-only names with http_dns/http_ip, and ask for a
client certificate with "client_auth: true".

With --issuer pki the certificates come from a company CA instead: 'escert csr' wrote
the keys and requests, the PKI team signed them, and bootstrap checks every signed
certificate (its key, names, usages and chain to --root) before it writes the same
bundle; the CSR directory decides the instances, cluster name and keys.

Everything is staged beside DIR as it is made and moved into place at the end: a
failure leaves nothing behind.`,
		Example: `  escert bootstrap --instances instances.yml --out escert-out
  escert bootstrap --instances instances.yml --out out --format pem --key-type rsa --key-size 3072
  ESCERT_CA_PASSWORD=... escert bootstrap --instances instances.yml --out out --cluster-name prod
  escert bootstrap --instances instances.yml --out out --ca-dir offline-ca/   # CAs made with 'escert ca create'
  VAULT_ADDR=https://vault:8200 VAULT_TOKEN=... escert bootstrap --instances instances.yml --out out \
      --issuer vault --vault-transport-mount pki_es_transport --vault-http-mount pki_es_http --vault-role es-node
  escert bootstrap --instances instances.yml --out out --issuer step --ca-url https://ca:9000 --root root_ca.crt \
      --provisioner escert --provisioner-password-file provisioner.pw
  escert bootstrap --issuer pki --csr-dir csr --signed signed/ --root corp-root.crt --out out   # after escert csr

  # instances.yml
  instances:
    - name: node1
      dns: [node1.example.com]
      ip: [192.0.2.11]
    - name: kibana
      type: kibana
      dns: [kibana.example.com]`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := iflags.check(); err != nil {
				return err
			}
			need := []string{"instances", "out"}
			if iflags.kind == "pki" {
				need = need[1:] // the CSR directory holds the instances file
			}
			if err := required(cmd, need...); err != nil {
				return err
			}
			clusterGiven := cmd.Flags().Changed("cluster-name")
			return runBootstrap(cmd.Context(), e, cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, &iflags, instances, out, caDir, singleCA, clusterGiven, output == "json")
		},
	}
	f.register(cmd.Flags())
	iflags.register(cmd.Flags())
	cmd.Flags().StringVar(&instances, "instances", "", "instances file (elasticsearch-certutil format, with escert's optional fields)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (must not exist or be empty, unless --force)")
	cmd.Flags().StringVar(&caDir, "ca-dir", "", "issue from existing CAs (from 'escert ca create') instead of creating new ones")
	cmd.Flags().BoolVar(&singleCA, "single-ca", false, "one CA for both layers (trust restrictions then keep non-node certificates off the transport layer)")
	outputFlag(cmd.Flags(), &output, "stdout format: text or json (the manifest)")
	return withExit(cmd, escertContract, fault.Exists, fault.Input, fault.Refused, fault.Credentials, fault.Unavailable, fault.Interrupted)
}

func runBootstrap(ctx context.Context, e *env, stdout, stderr io.Writer, f *issueFlags, iflags *issuerFlags, instancesFile, out, caDir string, singleCA, clusterGiven, asJSON bool) error {
	policy := fips.ForCurrent(f.fips)
	opts, err := f.options(e, policy)
	if err != nil {
		return err
	}
	if singleCA && caDir != "" {
		return fault.Mark(fault.Usage, errors.New("--single-ca and --ca-dir conflict: the CA directory decides how many CAs there are"))
	}
	if err := checkOutput(out, f.force); err != nil {
		return err
	}
	var (
		csrs *csrdir.Dir
		data []byte
	)
	if iflags.kind == "pki" {
		if csrs, err = iflags.pkiRequest(&opts); err != nil {
			return err
		}
		instancesFile, data = filepath.Join(csrs.Path, csrdir.InstancesFile), csrs.Instances
	} else if data, err = infile.Read(instancesFile, infile.Instances); err != nil {
		return badInput("%s: %v", instancesFile, unwrapPathError(err))
	}
	instances, err := spec.ParseInstances(instancesFile, data)
	if err != nil {
		return err
	}
	caPass, err := readSecret(e, f.caPassFile, "ESCERT_CA_PASSWORD", "--ca-pass-file")
	if err != nil {
		return err
	}
	log := progress{w: stderr, quiet: f.quiet}

	var (
		iss     issuer.Issuer
		caFiles []atomicfs.File
	)
	switch {
	case csrs != nil:
		var certs []spec.Certificate
		for _, inst := range instances {
			cs, err := spec.Certificates(inst, opts.Spec)
			if err != nil {
				return err
			}
			certs = append(certs, cs...)
		}
		if iss, err = iflags.buildPKI(csrs, certs, &opts, f.esVersion, e.now(), stderr); err != nil {
			return err
		}
		log.printf("[ca] checked %d signed certificate(s) against the requests in %s", len(certs), csrs.Path)
	case iflags.remote():
		if caDir != "" || singleCA {
			return usagef("--issuer %s takes its CAs from the issuer: drop --ca-dir and --single-ca", iflags.kind)
		}
		if iss, err = iflags.build(ctx, e, policy, opts.Key, stderr); err != nil {
			return err
		}
		// Instances wait on the issuer, not on the CPU: keep as many in flight as it takes.
		opts.Workers = max(iflags.concurrency, runtime.GOMAXPROCS(0))
		log.printf("[ca] issuing through %s", iflags.describe())
	case caDir != "":
		local, err := issuer.LoadLocal(caDir, caPass, policy, e.rand, e.now)
		if err != nil {
			return err
		}
		adoptClusterName(local, &opts, clusterGiven, stderr)
		log.printf("[ca] using the CAs in %s (cluster %s)", caDir, opts.Spec.ClusterName)
		iss = local
	default:
		if err := policy.CheckPassword("CA passphrase", "--ca-pass-file or ESCERT_CA_PASSWORD", caPass); err != nil {
			return fault.Mark(fault.Usage, err)
		}
		local, err := issuer.NewLocal(e.rand, policy, opts.Key, f.cluster, f.caDays, singleCA, e.now)
		if err != nil {
			return err
		}
		caFiles, err = cadir.Files(local.CAs, "ca/", e.rand, caPass)
		if err != nil {
			return err
		}
		log.printf("[ca] created %s (%s, %d days)", caSummary(singleCA), opts.Key, f.caDays)
		if len(caPass) == 0 {
			fmt.Fprintln(stderr, "warning: CA keys are written unencrypted (mode 0600): set ESCERT_CA_PASSWORD or --ca-pass-file to encrypt them, and keep ca/ offline")
		}
		iss = local
	}
	bootstrapPassword, err := bundle.RandomPassword(e.rand)
	if err != nil {
		return err
	}
	// The build keeps little (see bundle.MemoryLimit) and makes much short-lived
	// garbage: instead of collecting each time the heap doubles, collect only when it
	// nears the limit that bounds it. An operator's GOGC or GOMEMLIMIT wins.
	if e.getenv("GOMEMLIMIT") == "" && e.getenv("GOGC") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(bundle.MemoryLimit(len(instances))))
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	tree, err := e.write.StageTree(out, f.force)
	if err != nil {
		return err
	}
	defer tree.Discard()
	bar := log.bar(len(instances), "[certs] issuing")
	opts.Progress = func() { bar.Add(1) }
	res, err := bundle.BuildInto(ctx, bundle.Request{
		Issuer: iss, Instances: instances, CAFiles: caFiles,
		CAKeyEncrypted: len(caPass) > 0, BootstrapPassword: bootstrapPassword, Bootstrap: true,
	}, opts, tree)
	bar.Finish()
	if err != nil {
		return err
	}
	backup, err := tree.Commit(e.now())
	if err != nil {
		return err
	}
	if backup != "" {
		log.printf("[out] kept the previous %s as %s", out, backup)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	if asJSON {
		return printJSON(stdout, res.Manifest)
	}
	if !f.quiet {
		printSummary(stdout, out, res.Manifest)
	}
	return nil
}

func caSummary(single bool) string {
	if single {
		return "one CA for both layers"
	}
	return "the transport CA and the HTTP CA"
}

// checkOutput fails early, before any key is generated, when --out has content.
func checkOutput(out string, force bool) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) || (err == nil && force) {
		return nil
	}
	if err != nil {
		return badInput("--out %s: %v", out, unwrapPathError(err))
	}
	return fmt.Errorf("%s: %w: use --force to replace it (the old one is kept as a backup)", out, atomicfs.ErrNotEmpty)
}

func printSummary(w io.Writer, out string, m manifest.Manifest) {
	nodes := 0
	for _, i := range m.Instances {
		if i.Type == string(spec.Elasticsearch) {
			nodes++
		}
	}
	fmt.Fprintf(w, "Wrote %s: %d node bundle(s), %d other instance(s), %s keys, %s format.\n\n", out, nodes, len(m.Instances)-nodes, m.Key, m.Format)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range m.CAs {
		file := c.File
		if file == "" {
			file = "(external CA)"
		} else {
			file = filepath.Join(out, file)
		}
		fmt.Fprintf(tw, "CA\t%s\t%s\texpires %s\tsha256 %s\n", c.Layer, file, c.NotAfter.Format(time.DateOnly), c.SHA256)
	}
	for _, i := range m.Instances {
		var names []string
		expires := time.Time{}
		for _, c := range i.Certificates {
			names = append(names, c.Name)
			if expires.IsZero() || c.NotAfter.Before(expires) {
				expires = c.NotAfter
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\texpires %s\t%s\n", i.Type, i.Name, filepath.Join(out, i.Dir), expires.Format(time.DateOnly), strings.Join(names, "+"))
	}
	tw.Flush()
	if m.BootstrapPasswordFile != "" {
		fmt.Fprintf(w, "\nThe elastic user's initial password is in %s (mode 0600).\n", filepath.Join(out, m.BootstrapPasswordFile))
	}
	if m.Target == string(target.OpenSearch) {
		printOpenSearchSummary(w, out, m)
		return
	}
	fmt.Fprintf(w, "HTTP CA fingerprint (Beats ssl.ca_trusted_fingerprint): %s\n", m.HTTPCAFingerprint)
	if slices.Contains(m.Files, "clients/kibana.yml") {
		fmt.Fprintf(w, "Client settings (kibana.yml, Beats and Logstash outputs, curl.sh) are in %s.\n", filepath.Join(out, "clients"))
	}
	fmt.Fprintf(w, "Next: on each node, escert install --bundle %s/nodes/<name> --es-config /etc/elasticsearch (add --dry-run to see the changes first).\n", out)
}

// progress writes human progress to stderr: lines, and a bar on a terminal.
type progress struct {
	w     io.Writer
	quiet bool
}

func (p progress) printf(format string, args ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p progress) bar(n int, label string) *progressbar.ProgressBar {
	if f, ok := p.w.(*os.File); p.quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		p.printf("%s %d instance(s)", label, n)
		return progressbar.DefaultSilent(int64(n))
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
}

// printOpenSearchSummary ends an OpenSearch bootstrap's summary: where the passwords
// and the admin certificate are, and the securityadmin.sh line that uploads a changed
// security configuration.
func printOpenSearchSummary(w io.Writer, out string, m manifest.Manifest) {
	if m.PasswordsFile != "" {
		fmt.Fprintf(w, "\nThe internal users' passwords (admin, kibanaserver) are in %s (mode 0600);\n", filepath.Join(out, m.PasswordsFile))
		fmt.Fprintf(w, "the nodes' opensearch-security/internal_users.yml holds only their bcrypt hashes.\n")
		fmt.Fprintf(w, "Client settings (opensearch_dashboards.yml, curl.sh) are in %s.\n", filepath.Join(out, "clients"))
	}
	fmt.Fprintf(w, "HTTP CA fingerprint: %s\n", m.HTTPCAFingerprint)
	fmt.Fprintf(w, "Next: on each node, escert install --bundle %s/nodes/<name> --es-config /etc/opensearch (add --dry-run to see the changes first).\n", out)
	if m.Admin != nil {
		fmt.Fprintf(w, "\nThe admin certificate (%s) is in %s: keep it off the nodes. Once the cluster runs,\n", m.Admin.Subject, filepath.Join(out, bundle.AdminDir))
		fmt.Fprintf(w, "upload a changed security configuration from a node (its OpenSearch home) with:\n  %s\n", clientconfig.SecurityAdminCommand(out, "/etc/opensearch", m.Cluster, "NODE_HOST"))
	}
}
