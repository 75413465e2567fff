package cli

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/probe"
	"github.com/escert/escert/internal/target"
)

// probe's exit codes are those of monitoring plugins (Nagios, Icinga, Zabbix agents),
// so `escert probe` can be a check command as it is.
const (
	probeWarning  = 1
	probeCritical = 2
	probeUnknown  = 3
)

func newProbeCmd(e *env) *cobra.Command {
	var (
		caFiles                          []string
		name, certFile, keyFile, p12File string
		output                           outputFormat
		passFile                         string
		systemRoots, noVerifyName        bool
		timeout                          time.Duration
		warnDays                         int
		engine                           string
	)
	cmd := &cobra.Command{
		Use:   "probe HOST[:PORT]...",
		Short: "Handshake with live nodes and check the certificates they serve",
		Long: `Make a TLS handshake with each target (port 9200, the HTTP layer, unless one is given;
the transport layer listens on 9300) and print what it serves: the certificate chain
(subject, issuer, DNS/IP/otherName names, expiry, days left, SHA-256 fingerprint, key
and signature), the negotiated protocol and cipher suite, whether the server sends its
CA (Beats' and Elastic Agent's ssl.ca_trusted_fingerprint only match a CA the server
sends), and whether the chain verifies to the CA files of --ca and names the host.

The handshake always completes: the chain is verified afterwards, so an untrusted or
expired chain is still shown. Without --ca nothing is verified ("not verified"); the
system roots count only with --system-roots. The name checked is the target's host, an
IP target is checked against the IP names; --name checks another name (and sends it as
SNI), --no-verify-name checks the chain only, as the transport layer's
verification_mode: certificate does.

The transport layer requires a client certificate: give a node's --cert and --key (PEM)
or --p12. A password (for --p12 or an encrypted --key) comes from --pass-file or the
ESCERT_PASSWORD environment variable, never from a flag value; a p12 of a node bundle
(certs/*.p12) is opened with the passwords in the bundle's elasticsearch.keystore.

With --target opensearch the report gives each leaf's subject as OpenSearch's security
plugin compares it with plugins.security.nodes_dn and authcz.admin_dn (Java's RFC 2253
form: a transport port's line is the one to paste), and a CA left out of the chain is
not flagged, since only Elastic's clients pin a CA by fingerprint.

Targets are probed 8 at a time, each within --timeout. In a FIPS 140 mode, Go's TLS
client offers only approved protocols and suites, as a FIPS client of the cluster would.`,
		Example: `  # Is node1's HTTP certificate trusted, named right and far from expiry?
  escert probe node1.escert.test --ca escert-out/clients/http-ca.crt

  # Every node at once, by IP, warning 60 days ahead, as JSON for a script:
  escert probe 10.0.0.11 10.0.0.12:9200 10.0.0.13 --ca http-ca.crt --warn-days 60 -o json

  # Connect by IP but check the DNS name clients use:
  escert probe 10.0.0.11 --name node1.example.com --ca http-ca.crt

  # The transport layer, with a node's client certificate:
  escert probe node1:9300 --ca transport-ca.crt --cert certs/transport.crt --key certs/transport.key
  escert probe node1:9300 --p12 escert-out/nodes/node2/certs/transport.p12 --no-verify-name

  # An OpenSearch node's transport certificate, and its DN as nodes_dn must list it:
  escert probe --target opensearch node1:9300 --ca os-out/ca/transport-ca.crt \
      --cert os-out/nodes/node2/certs/transport.crt --key os-out/nodes/node2/certs/transport.key`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%s needs at least one HOST[:PORT]: see --help", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			unknown := func(format string, a ...any) error {
				return fmt.Errorf(format, a...)
			}
			if timeout <= 0 {
				return unknown("--timeout %s: must be more than 0", timeout)
			}
			if warnDays < 0 {
				return unknown("--warn-days %d: must be 0 or more", warnDays)
			}
			if noVerifyName && name != "" {
				return unknown("--name and --no-verify-name contradict each other: give one")
			}
			targets := make([]probe.Target, 0, len(args))
			for _, arg := range args {
				t, err := probe.ParseTarget(arg, "9200")
				if err != nil {
					return err
				}
				targets = append(targets, t)
			}
			var err error
			opts := probe.Options{Name: name, SkipName: noVerifyName, Timeout: timeout, WarnDays: warnDays, Now: e.now}
			if opts.Engine, err = target.Parse(engine); err != nil {
				return unknown("--target %w", err)
			}
			if opts.Roots, opts.TrustFrom, err = probeRoots(caFiles, systemRoots); err != nil {
				return err
			}
			if opts.ClientCertificate, err = probeClientCert(e, certFile, keyFile, p12File, passFile); err != nil {
				return err
			}

			results := probe.Probe(cmd.Context(), targets, opts)
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			} else {
				probe.Render(cmd.OutOrStdout(), results)
			}
			// The report is the message: exit with its code and print nothing more.
			switch probe.Worst(results) {
			case probe.StatusCritical:
				return silentOutcome(probeCritical)
			case probe.StatusWarning:
				return silentOutcome(probeWarning)
			}
			return nil
		},
	}
	// A flag error is UNKNOWN (3) here, not the usual 2, which means CRITICAL.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	f := cmd.Flags()
	f.StringSliceVar(&caFiles, "ca", nil, "PEM file(s) of the CAs the chain must verify to (repeat the flag or separate with commas)")
	f.BoolVar(&systemRoots, "system-roots", false, "also trust the system's root CAs")
	f.StringVar(&name, "name", "", "the host name or IP the certificate must name (default: each target's host); also sent as SNI")
	f.BoolVar(&noVerifyName, "no-verify-name", false, "verify the chain but not the name (transport verification_mode: certificate)")
	f.StringVar(&certFile, "cert", "", "PEM client certificate chain, for the transport layer (with --key)")
	f.StringVar(&keyFile, "key", "", "PEM private key of --cert")
	f.StringVar(&p12File, "p12", "", "PKCS#12 file with the client key and chain, e.g. a node's transport.p12")
	f.StringVar(&passFile, "pass-file", "", "file holding the password of --p12 or of an encrypted --key (or set ESCERT_PASSWORD)")
	f.DurationVar(&timeout, "timeout", probe.DefaultTimeout, "time allowed per target to connect and complete the handshake")
	f.StringVar(&engine, "target", string(target.Elasticsearch), "the engine the nodes run: elasticsearch or opensearch (adds each leaf's DN as nodes_dn matches it)")
	f.IntVar(&warnDays, "warn-days", 30, "warn about certificates expiring within this many days")
	outputFlag(f, &output, "text or json")
	return withExit(cmd, probeContract)
}

// probeRoots loads the trust anchors of --ca (and --system-roots); nil when neither
// was given.
func probeRoots(files []string, system bool) (*x509.CertPool, string, error) {
	if len(files) == 0 && !system {
		return nil, "", nil
	}
	roots := x509.NewCertPool()
	var from []string
	if system {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, "", fmt.Errorf("--system-roots: %w", err)
		}
		roots, from = pool, append(from, "the system roots")
	}
	for _, file := range files {
		data, err := infile.Read(file, infile.PEM)
		if err != nil {
			return nil, "", fmt.Errorf("--ca %s: %v", file, unwrapPathError(err))
		}
		certs, err := ca.ParseCertificates(data)
		if err != nil {
			return nil, "", fmt.Errorf("--ca %s: %w", file, err)
		}
		for _, c := range certs {
			roots.AddCert(c)
		}
		from = append(from, file)
	}
	return roots, strings.Join(from, ", "), nil
}

// probeClientCert loads the client certificate of --cert/--key or --p12; nil when
// none was given.
func probeClientCert(e *env, certFile, keyFile, p12File, passFile string) (*tls.Certificate, error) {
	switch {
	case p12File != "" && (certFile != "" || keyFile != ""):
		return nil, errors.New("--p12 and --cert/--key: give one client certificate")
	case (certFile == "") != (keyFile == ""):
		return nil, errors.New("--cert and --key go together: give both")
	case p12File != "":
		return p12ClientCert(e, p12File, passFile)
	case certFile == "":
		return nil, nil
	}
	certData, err := infile.Read(certFile, infile.PEM)
	if err != nil {
		return nil, fmt.Errorf("--cert %s: %v", certFile, unwrapPathError(err))
	}
	chain, err := ca.ParseCertificates(certData)
	if err != nil {
		return nil, fmt.Errorf("--cert %s: %w", certFile, err)
	}
	keyData, err := infile.Read(keyFile, infile.Key)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %v", keyFile, unwrapPathError(err))
	}
	password, err := readSecret(e, passFile, "ESCERT_PASSWORD", "--pass-file")
	if err != nil {
		return nil, err
	}
	key, err := ca.ParseKeyPEM(keyData, password)
	if errors.Is(err, ca.ErrKeyPassword) {
		return nil, fmt.Errorf("--key %s: %w: give it with --pass-file or ESCERT_PASSWORD", keyFile, err)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", keyFile, err)
	}
	c, err := probe.ClientCertificate(chain, key)
	if err != nil {
		return nil, fmt.Errorf("--key %s and --cert %s: %w", keyFile, certFile, err)
	}
	return c, nil
}

// p12ClientCert opens a PKCS#12 file with the password given or, for a node bundle's
// p12, the passwords in its elasticsearch.keystore, and takes its first key entry.
func p12ClientCert(e *env, file, passFile string) (*tls.Certificate, error) {
	data, err := infile.Read(file, infile.PKCS12)
	if err != nil {
		return nil, fmt.Errorf("--p12 %s: %v", file, unwrapPathError(err))
	}
	candidates, err := passwordsFor(e, file, passFile)()
	if err != nil {
		return nil, err
	}
	for _, password := range candidates {
		contents, err := p12.Decode(data, string(password))
		if errors.Is(err, p12.ErrWrongPassword) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--p12 %s: %w", file, err)
		}
		if len(contents.Keys) == 0 {
			return nil, fmt.Errorf("--p12 %s: no private key entry: a truststore cannot authenticate a client", file)
		}
		entry := contents.Keys[0]
		key, ok := entry.Key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("--p12 %s: key entry %q: unsupported key type %T", file, entry.Alias, entry.Key)
		}
		c, err := probe.ClientCertificate(entry.Chain, key)
		if err != nil {
			return nil, fmt.Errorf("--p12 %s: key entry %q: %w", file, entry.Alias, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("--p12 %s: %w: give it with --pass-file or ESCERT_PASSWORD", file, p12.ErrWrongPassword)
}
