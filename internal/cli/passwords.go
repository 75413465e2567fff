package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/esapi"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/passwords"
	"github.com/escert/escert/internal/target"
)

func newPasswordsCmd(e *env) *cobra.Command {
	var r passwordsRun
	cmd := &cobra.Command{
		Use:   "passwords --bundle DIR [--url URL]... [--users NAME,...] [--force]",
		Short: "Give the built-in users (elastic, kibana_system, ...) random passwords of their own",
		Long: `Set random passwords for the built-in users of a running cluster, over HTTPS that
trusts only the bundle's clients/http-ca.crt, signed in as elastic with the bootstrap
password of the bundle's elastic-bootstrap-password (never a flag). Until then, elastic
answers to the bootstrap password that sits in every node's keystore.

The users are elastic, kibana_system, logstash_system, beats_system, apm_system and
remote_monitoring_user, or those of --users; elastic is set last. The passwords (24
random letters and digits) go to DIR/` + passwords.File + `, mode 0600, one user=password
per line, written before the cluster changes and rewritten to what is in force if a
user fails. No password is printed. The bundle's client files are then rewritten
(Kibana's encryption keys and hosts kept): they say where each client's password
goes, e.g. for Kibana the exact kibana-keystore line, since that keystore is Kibana's.

Re-running changes nothing: a user whose password in the file works is left alone,
and elastic signs in with its password from the file once it has one. --force sets
new passwords for all the users named (a rotation).

Refused before any change, on the cluster or on disk: elastic accepting neither its
password in the file nor the bootstrap password (it was changed elsewhere: put it in
the file as elastic=...), a cluster that is not green, a user whose password was set
outside escert (the cluster stores one and the file's does not work; --force
replaces it), and a cluster that cannot be reached.

The cluster is reached at --url (https://host:port), else at each node of the bundle
(the first DNS name or IP of its HTTP certificate, port 9200), the first that answers.`,
		Example: `  # After bootstrap, install and the first start:
  escert passwords --bundle escert-out --url https://node1.example.com:9200

  # Then give Kibana its password, on the Kibana host:
  sed -n 's/^kibana_system=//p' escert-out/` + passwords.File + ` | bin/kibana-keystore add elasticsearch.password --stdin

  # Rotate kibana_system's password only:
  escert passwords --bundle escert-out --users kibana_system --force`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "bundle"); err != nil {
				return err
			}
			named, err := passwords.CheckUsers(r.users)
			if err != nil {
				return fmt.Errorf("--users %w", err)
			}
			r.users = named
			return runPasswords(cmd.Context(), e, cmd.OutOrStdout(), cmd.ErrOrStderr(), r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.bundleDir, "bundle", "", "the bundle directory (the --out of escert bootstrap)")
	f.StringSliceVar(&r.urls, "url", nil, "the cluster's https:// URL(s), tried in order (default: each node of the bundle, port 9200)")
	f.StringSliceVar(&r.users, "users", passwords.BuiltIn, "the built-in users to set, comma-separated")
	f.BoolVar(&r.force, "force", false, "set new passwords even for users whose password works, or was set outside escert")
	f.DurationVar(&r.timeout, "timeout", esapi.DefaultTimeout, "time allowed for each request")
	outputFlag(f, &r.output, "text, or json: the URL, the file and the users set and kept (no password)")
	return withExit(cmd, escertContract, fault.Input, fault.Exists, fault.Locked, fault.Credentials, fault.Unavailable)
}

// passwordsRun is what the flags ask for.
type passwordsRun struct {
	bundleDir string
	urls      []string
	users     []string
	force     bool
	timeout   time.Duration
	output    outputFormat
}

// passwordsResult is what passwords did, for -o json: never a password.
type passwordsResult struct {
	URL  string   `json:"url"`
	File string   `json:"file"`
	Set  []string `json:"set"`
	Kept []string `json:"kept"`
}

func runPasswords(ctx context.Context, e *env, stdout, stderr io.Writer, r passwordsRun) error {
	m, roots, err := bundleTrust(r.bundleDir)
	if err != nil {
		return err
	}
	if m.Target == string(target.OpenSearch) {
		return badInput("--bundle %s: an OpenSearch bundle, whose internal users got their passwords at bootstrap (%s): escert passwords sets Elasticsearch's built-in users", r.bundleDir, passwords.File)
	}
	bootstrapPassword, err := readBundleFile(r.bundleDir, bundle.BootstrapPasswordFile, infile.Secret)
	if err != nil {
		return err
	}
	file := filepath.Join(r.bundleDir, passwords.File)
	// One run at a time: two would each set passwords the other's file does not hold.
	unlock, err := atomicfs.Lock(r.bundleDir)
	if err != nil {
		return err
	}
	defer unlock()
	known, err := readPasswords(file)
	if err != nil {
		return err
	}
	clients, err := clusterClients(m, r.urls, roots, r.timeout)
	if err != nil {
		return err
	}
	req := passwords.Request{Users: r.users, Known: known, Bootstrap: []byte(strings.TrimRight(string(bootstrapPassword), "\r\n")), Force: r.force, Rand: e.rand}
	var plan *passwords.Plan
	for i, c := range clients {
		req.Client = c
		if plan, err = passwords.Prepare(ctx, req); !errors.Is(err, esapi.ErrUnreachable) || i == len(clients)-1 {
			break
		}
		fmt.Fprintf(stderr, "[passwords] %v: trying the next node\n", err)
	}
	switch {
	case errors.Is(err, passwords.ErrElasticUnknown):
		return fmt.Errorf("%s: %w (%s): elastic's password was changed outside escert: put it in %s as elastic=<password> (mode 0600) and re-run; nothing was changed", req.Client.URL(), err, filepath.Join(r.bundleDir, bundle.BootstrapPasswordFile), file)
	case errors.Is(err, esapi.ErrUnreachable), errors.Is(err, esapi.ErrUntrusted):
		return fmt.Errorf("%w; nothing was changed", err) // it names the URL
	case err != nil:
		return fmt.Errorf("%s: %w; nothing was changed", req.Client.URL(), err)
	}
	save := func(es passwords.Entries) error {
		return e.write.WriteFile(file, passwords.Render(m.Cluster, es), atomicfs.SecretMode)
	}
	res, err := plan.Apply(ctx, save)
	if err != nil {
		return fmt.Errorf("%s: %w", req.Client.URL(), err)
	}
	for _, u := range res.Set {
		fmt.Fprintf(stderr, "[passwords] %s: new password set\n", u)
	}
	for _, u := range res.Kept {
		fmt.Fprintf(stderr, "[passwords] %s: kept (its password in %s works)\n", u, passwords.File)
	}
	// The client files say where each client's password goes; a bundle written by an
	// older escert gets them too. They keep their hosts and Kibana's keys.
	if err := refreshClientFiles(e, stderr, r.bundleDir); err != nil {
		return fmt.Errorf("the passwords are set and in %s, but the client files were not rewritten: %w: run escert client-config --bundle %s --force", file, err, r.bundleDir)
	}
	if r.output == "json" {
		return printJSON(stdout, passwordsResult{URL: req.Client.URL(), File: file, Set: nonNil(res.Set), Kept: nonNil(res.Kept)})
	}
	switch {
	case len(res.Set) == 0:
		fmt.Fprintf(stdout, "Nothing to do: every user's password in %s works on %s (--force sets new ones).\n", file, req.Client.URL())
	default:
		fmt.Fprintf(stdout, "Set new passwords for %s on %s; every password is in %s (mode 0600).\n", strings.Join(res.Set, ", "), req.Client.URL(), file)
	}
	fmt.Fprintf(stdout, "Next: give each client its password from that file, as %s/ says:\n", filepath.Join(r.bundleDir, clientconfig.Dir))
	fmt.Fprintf(stdout, "  Kibana:   %s\n", clientconfig.KeystoreLine(file, "kibana_system"))
	fmt.Fprintf(stdout, "  Logstash: %s\n", clientconfig.KeystoreLine(file, "logstash_system"))
	fmt.Fprintf(stdout, "  Beats:    %s\n", clientconfig.KeystoreLine(file, "beats_system"))
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// bundleTrust reads the bundle's manifest and the HTTP CA its nodes' certificates
// verify to.
func bundleTrust(bundleDir string) (*manifest.Manifest, *x509.CertPool, error) {
	data, err := readBundleFile(bundleDir, manifest.File, infile.Manifest)
	if err != nil {
		return nil, nil, err
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return nil, nil, badInput("--bundle %s: %s: %v: %v", bundleDir, manifest.File, clientconfig.ErrBundle, err)
	}
	caFile := filepath.Join(clientconfig.Dir, "http-ca.crt")
	if _, err := readBundleFile(bundleDir, caFile, infile.PEM); err != nil {
		return nil, nil, err
	}
	roots, _, err := probeRoots([]string{filepath.Join(bundleDir, caFile)}, false)
	if err != nil {
		return nil, nil, badInput("%v", err)
	}
	return m, roots, nil
}

// readPasswords reads the passwords file, if there is one.
func readPasswords(file string) (passwords.Entries, error) {
	data, err := infile.Read(file, infile.Secret)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, badInput("%s: %v", file, unwrapPathError(err))
	}
	es, err := passwords.Parse(data)
	if err != nil {
		return nil, badInput("%s: %v: fix the line or move the file away", file, err)
	}
	return es, nil
}

// clusterClients are clients of --url, else of each node of the bundle.
func clusterClients(m *manifest.Manifest, urls []string, roots *x509.CertPool, timeout time.Duration) ([]*esapi.Client, error) {
	if len(urls) == 0 {
		var err error
		if urls, _, err = clientconfig.Hosts(m); err != nil {
			return nil, fault.Mark(fault.Usage, fmt.Errorf("%w (give --url)", err))
		}
	}
	var clients []*esapi.Client
	for _, u := range urls {
		c, err := esapi.New(u, esapi.Config{Roots: roots, Timeout: timeout})
		if err != nil {
			return nil, usagef("--url %v", err)
		}
		clients = append(clients, c)
	}
	return clients, nil
}

// refreshClientFiles rewrites the bundle's client files, when it has them, with the
// hosts they name and Kibana's keys.
func refreshClientFiles(e *env, stderr io.Writer, bundleDir string) error {
	kibana := filepath.Join(bundleDir, clientconfig.Dir, clientconfig.KibanaFile)
	data, err := infile.Read(kibana, infile.Settings)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	hosts, err := clientconfig.KibanaHosts(data)
	if err != nil {
		return fmt.Errorf("%s: %v", kibana, err)
	}
	return runClientConfig(e, io.Discard, stderr, bundleDir, hosts, "", true, "text")
}
