package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/manifest"
)

func newClientConfigCmd(e *env) *cobra.Command {
	var (
		bundleDir string
		hosts     []string
		out       string
		force     bool
		output    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "client-config --bundle DIR [--es-hosts URL,...] [--out DIR]",
		Short: "Write Kibana, Beats, Logstash and curl settings that trust the bundle's HTTP CA",
		Long: `Write the settings that connect Elasticsearch's clients to a bootstrapped cluster over
verified HTTPS, from the bundle's manifest.json and clients/http-ca.crt:

  kibana.yml            elasticsearch.hosts, the HTTP CA with verificationMode full,
                        Kibana's own HTTPS (PEM) and client certificate when the bundle
                        has a kibana instance, the three encryption keys (32 random
                        characters each) and session timeouts. Mode 0600: it holds the
                        keys. Several kibana instances get kibana-<filename>.yml each,
                        with the same keys.
  beats-output.yml      output.elasticsearch for Filebeat, Metricbeat...: the HTTP CA,
                        verification_mode full and ssl.ca_trusted_fingerprint
  logstash-output.conf  the elasticsearch output of a pipeline (ssl_enabled,
                        ssl_certificate_authorities, ssl_verification_mode,
                        ca_trusted_fingerprint)
  curl.sh               curl --cacert http-ca.crt -u elastic https://<first host>:9200/

The hosts are --es-hosts (https:// URLs with a port), or else one per node: the first
DNS name of its HTTP certificate, else its first IP, port 9200. No password is written:
curl asks for it, and kibana.yml says how to set kibana_system's password and store it
in Kibana's keystore.

Files go to DIR/clients/ unless --out names another directory (which then also gets a
copy of http-ca.crt). Existing files are refused unless --force; with --force the
encryption keys of the kibana.yml being replaced are kept, since a new saved-objects
key makes Kibana's encrypted saved objects unreadable.`,
		Example: `  # Settings for the cluster of a bootstrap, hosts from the node certificates:
  escert client-config --bundle escert-out

  # Clients that reach the cluster through a load balancer, written elsewhere:
  escert client-config --bundle escert-out --es-hosts https://es.example.com:9200 --out kibana-settings

  # Regenerate with other hosts, keeping Kibana's encryption keys:
  escert client-config --bundle escert-out --es-hosts https://node1.example.com:9200,https://node2.example.com:9200 --force

  # Then check a node's certificate as clients will (curl asks for the elastic password):
  sh escert-out/clients/curl.sh`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "bundle"); err != nil {
				return err
			}
			var given []string
			if cmd.Flags().Changed("es-hosts") {
				var err error
				if given, err = clientconfig.ParseHosts(hosts); err != nil {
					return usagef("--es-hosts %w", err)
				}
			}
			return runClientConfig(e, cmd.OutOrStdout(), cmd.ErrOrStderr(), bundleDir, given, out, force, output)
		},
	}
	cmd.Flags().StringVar(&bundleDir, "bundle", "", "the bundle directory (the --out of escert bootstrap)")
	cmd.Flags().StringSliceVar(&hosts, "es-hosts", nil, "Elasticsearch URLs, comma-separated, e.g. https://node1.example.com:9200 (default: one per node)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (default: DIR/clients)")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files, keeping Kibana's encryption keys")
	outputFlag(cmd.Flags(), &output, "text, or json: the hosts, the files written and the HTTP CA fingerprint")
	return withExit(cmd, escertContract, fault.Input, fault.Exists, fault.Locked)
}

// clientConfigResult is what client-config wrote, for -o json.
type clientConfigResult struct {
	Hosts       []string            `json:"hosts"`
	Written     []clientConfigWrite `json:"written"`
	Kept        []string            `json:"kept_kibana_keys,omitempty"`
	Fingerprint string              `json:"http_ca_sha256"`
}

type clientConfigWrite struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
}

func runClientConfig(e *env, stdout, stderr io.Writer, bundleDir string, hosts []string, out string, force bool, output outputFormat) error {
	data, err := readBundleFile(bundleDir, manifest.File, infile.Manifest)
	if err != nil {
		return err
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return badInput("--bundle %s: %s: %v: %v", bundleDir, manifest.File, clientconfig.ErrBundle, err)
	}
	httpCA, err := readBundleFile(bundleDir, filepath.Join(clientconfig.Dir, "http-ca.crt"), infile.PEM)
	if err != nil {
		return err
	}
	clientsDir := filepath.Join(bundleDir, clientconfig.Dir)
	if out == "" {
		out = clientsDir
	}
	in := clientconfig.Input{Manifest: m, HTTPCA: httpCA, Hosts: hosts, Rand: e.rand}
	var keysFrom string
	if force {
		if in.KibanaKeys, keysFrom, err = existingKibanaKeys(out); err != nil {
			return err
		}
	}
	res, err := clientconfig.Generate(in)
	switch {
	case errors.Is(err, clientconfig.ErrNoHosts):
		return fault.Mark(fault.Usage, err)
	case errors.Is(err, clientconfig.ErrBundle):
		return badInput("--bundle %s: %v", bundleDir, err)
	case err != nil:
		return err
	}
	files := res.Files
	if !samePath(out, clientsDir) {
		// curl.sh names http-ca.crt beside itself: make the directory complete.
		files = append(files, atomicfs.File{Path: clientconfig.Dir + "/http-ca.crt", Mode: atomicfs.PublicMode, Data: httpCA})
	}
	// targets are the files that change, relative to out.
	var targets []atomicfs.File
	var exist []string
	for _, f := range files {
		f.Path = strings.TrimPrefix(f.Path, clientconfig.Dir+"/")
		p := filepath.Join(out, f.Path)
		old, err := infile.Read(p, infile.Settings)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return badInput("%s: %v", p, unwrapPathError(err))
		case bytes.Equal(old, f.Data):
			continue // already there: nothing to replace
		case !force:
			exist = append(exist, p)
		}
		targets = append(targets, f)
	}
	if len(exist) > 0 {
		verb := "exists"
		if len(exist) > 1 {
			verb = "exist"
		}
		return fault.New(fault.Exists, "%s %s: use --force to replace (Kibana's encryption keys are kept)", strings.Join(exist, ", "), verb)
	}
	if len(targets) > 0 {
		if err := e.write.WriteInto(out, targets); err != nil {
			return err
		}
	}
	if keysFrom != "" && len(res.Kept) > 0 {
		fmt.Fprintf(stderr, "[kibana] kept %s from %s\n", strings.Join(res.Kept, ", "), keysFrom)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	if output == "json" {
		result := clientConfigResult{Hosts: res.Hosts, Written: []clientConfigWrite{}, Kept: res.Kept, Fingerprint: res.Fingerprint}
		for _, f := range targets {
			result.Written = append(result.Written, clientConfigWrite{Path: filepath.Join(out, f.Path), Mode: fmt.Sprintf("%04o", f.Mode)})
		}
		return printJSON(stdout, result)
	}
	fmt.Fprintf(stdout, "Client settings for %s:\n", strings.Join(res.Hosts, ", "))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, f := range targets {
		note := ""
		if f.Mode == atomicfs.SecretMode {
			note = "holds Kibana's encryption keys"
		}
		fmt.Fprintf(tw, "  wrote\t%s\tmode %04o\t%s\n", filepath.Join(out, f.Path), f.Mode, note)
	}
	tw.Flush()
	if len(targets) == 0 {
		fmt.Fprintf(stdout, "  nothing to do: %s already holds these files\n", out)
	}
	fmt.Fprintf(stdout, "HTTP CA fingerprint (SHA-256): %s\n", res.Fingerprint)
	fmt.Fprintf(stdout, "Next: merge each file into its client's configuration (kibana.yml says how to set kibana_system's password); check a node with: sh %s\n",
		filepath.Join(out, clientconfig.CurlFile))
	return nil
}

// readBundleFile reads a file of the bundle, as invalid input when it is missing.
func readBundleFile(bundleDir, name string, kind infile.Kind) ([]byte, error) {
	p := filepath.Join(bundleDir, name)
	data, err := infile.Read(p, kind)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, badInput("--bundle %s: no %s: give the directory escert bootstrap wrote", bundleDir, name)
	case err != nil:
		return nil, badInput("%s: %v", p, unwrapPathError(err))
	}
	return data, nil
}

// existingKibanaKeys reads the encryption keys of the kibana*.yml that --force will
// replace, so that Kibana can still decrypt what it encrypted with them.
func existingKibanaKeys(out string) (map[string]string, string, error) {
	candidates, _ := filepath.Glob(filepath.Join(out, "kibana-*.yml"))
	candidates = append([]string{filepath.Join(out, clientconfig.KibanaFile)}, candidates...)
	for _, p := range candidates {
		data, err := infile.Read(p, infile.Settings)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", badInput("%s: %v", p, unwrapPathError(err))
		}
		keys, err := clientconfig.KibanaKeys(data)
		if err != nil {
			return nil, "", badInput("%s: not YAML, so its encryption keys cannot be kept: %v (move it away to start afresh)", p, err)
		}
		if len(keys) > 0 {
			return keys, p, nil
		}
	}
	return nil, "", nil
}

func samePath(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return absA == absB
}
