// Package clientconfig writes the settings that point Elasticsearch's clients at a
// bootstrapped cluster: a kibana.yml block, a Beats output block, a Logstash output
// and a curl script, all trusting the bundle's HTTP CA and verifying host names. It
// reads only the bundle's manifest and HTTP CA, so `escert bootstrap` and
// `escert client-config` produce the same files; package atomicfs writes them.
package clientconfig

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/ossecurity"
)

// Dir is the bundle directory the client settings belong in, beside http-ca.crt.
const Dir = "clients"

// DefaultPort is Elasticsearch's HTTP port, used for hosts derived from the nodes.
const DefaultPort = "9200"

// ErrNoHosts means no Elasticsearch URL was given and no node of the bundle has a DNS
// name or IP address to derive one from.
var ErrNoHosts = fault.Sentinel(fault.Usage, "no Elasticsearch host: no node has a DNS name or IP address; give the URLs with --es-hosts")

// ErrBundle marks a manifest or HTTP CA that cannot be read as an escert bundle.
var ErrBundle = fault.Sentinel(fault.Input, "not a readable escert bundle")

// Input is what the client settings are made from.
type Input struct {
	// Manifest is the bundle's manifest.
	Manifest *manifest.Manifest
	// HTTPCA is the PEM of the bundle's clients/http-ca.crt; its first certificate is
	// the CA that clients trust.
	HTTPCA []byte
	// Hosts are Elasticsearch's HTTPS URLs (checked with ParseHosts). Empty: one URL
	// per node, from its HTTP certificate's first DNS name, else its first IP.
	Hosts []string
	// Rand generates Kibana's encryption keys.
	Rand io.Reader
	// KibanaKeys are encryption keys to keep (setting name to value), read with
	// KibanaKeys from a kibana.yml being replaced; missing ones are generated.
	KibanaKeys map[string]string
}

// Result is the generated settings and what the operator should know about them.
type Result struct {
	// Files are relative to the bundle root ("clients/kibana.yml"); a file holding a
	// secret has atomicfs.SecretMode, the others atomicfs.PublicMode.
	Files []atomicfs.File
	// Hosts are the Elasticsearch URLs the files name.
	Hosts []string
	// Fingerprint is the HTTP CA's SHA-256 (64 hex characters, no colons).
	Fingerprint string
	// Kept lists the Kibana encryption keys taken from Input.KibanaKeys.
	Kept []string
	// Warnings are problems that do not stop the files from being written.
	Warnings []string
}

// Files returns the client settings files of a bundle, with paths relative to the
// bundle root (under clients/). It fails with ErrNoHosts when there is no URL to put
// in them, and with an error wrapping ErrBundle when the manifest or CA is unreadable.
func Files(in Input) ([]atomicfs.File, error) {
	res, err := Generate(in)
	if err != nil {
		return nil, err
	}
	return res.Files, nil
}

// Generate is Files with the hosts, fingerprint and warnings the files were made with.
func Generate(in Input) (*Result, error) {
	m := in.Manifest
	if len(m.Instances) == 0 {
		return nil, fmt.Errorf("%s: %w: it lists no instance", manifest.File, ErrBundle)
	}
	cert, err := httpCA(in.HTTPCA, m.HTTPCAFingerprint)
	if err != nil {
		return nil, err
	}
	res := &Result{Fingerprint: ca.Fingerprint(cert)}
	if len(in.Hosts) > 0 {
		if res.Hosts, err = ParseHosts(in.Hosts); err != nil {
			return nil, err
		}
		for _, h := range res.Hosts {
			if !names(m, h) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("no node's HTTP certificate in this bundle names the host of %s: clients verifying host names (all of these files) will refuse it", h))
			}
		}
	} else if res.Hosts, res.Warnings, err = Hosts(m); err != nil {
		return nil, err
	}
	s := settings{hosts: res.Hosts, fingerprint: res.Fingerprint}
	add := func(name string, mode fs.FileMode, data string) {
		res.Files = append(res.Files, atomicfs.File{Path: path.Join(Dir, name), Mode: mode, Data: []byte(data)})
	}
	if m.Target == "opensearch" {
		add(DashboardsFile, atomicfs.PublicMode, s.dashboards())
		add(CurlFile, atomicfs.PublicMode, s.curl(ossecurity.Admin))
		return res, nil
	}
	kibanas := m.OfType("kibana")
	var keys []kibanaKey
	if keys, res.Kept, err = kibanaKeys(in.Rand, in.KibanaKeys); err != nil {
		return nil, err
	}
	// kibana.yml holds the encryption keys; the other files hold no secret.
	secret, public := atomicfs.SecretMode, atomicfs.PublicMode
	switch len(kibanas) {
	case 0:
		add(KibanaFile, secret, s.kibana(nil, keys))
	case 1:
		add(KibanaFile, secret, s.kibana(&kibanas[0], keys))
	default:
		// Every Kibana of one cluster shares the keys: one file per host, same keys.
		for i := range kibanas {
			add("kibana-"+kibanas[i].Filename+".yml", secret, s.kibana(&kibanas[i], keys))
		}
	}
	add(BeatsFile, public, s.beats())
	add(LogstashFile, public, s.logstash())
	add(LogstashSettingsFile, public, s.logstashMonitoring())
	add(CurlFile, public, s.curl("elastic"))
	return res, nil
}

// The files Generate writes under clients/.
const (
	KibanaFile   = "kibana.yml" // kibana-<filename>.yml each when the bundle has several Kibanas
	BeatsFile    = "beats-output.yml"
	LogstashFile = "logstash-output.conf"
	// LogstashSettingsFile is Logstash's own monitoring connection (logstash.yml).
	LogstashSettingsFile = "logstash-monitoring.yml"
	CurlFile             = "curl.sh"
	// DashboardsFile is OpenSearch Dashboards' settings, for an OpenSearch bundle.
	DashboardsFile = "opensearch_dashboards.yml"
)

// ParseHosts checks Elasticsearch URLs as clients will use them: https only, with an
// explicit port (Beats default to 9200 but Kibana and curl to 443), no credentials,
// query or fragment. It returns them normalized, without duplicates.
func ParseHosts(hosts []string) ([]string, error) {
	var out []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		u, err := url.Parse(h)
		if err != nil {
			return nil, fmt.Errorf("%q is not a URL: %v", h, unwrapURLError(err))
		}
		switch {
		case strings.EqualFold(u.Scheme, "http"):
			return nil, fmt.Errorf("%s: http:// is refused: it would send the clients' passwords and every document in clear text, and escert's nodes serve HTTPS only; use https://", h)
		case !strings.EqualFold(u.Scheme, "https"):
			return nil, fmt.Errorf("%s: not an https:// URL (e.g. https://node1.example.com:9200)", h)
		case u.User != nil:
			return nil, fmt.Errorf("%s: credentials do not belong in a URL: clients read them from their keystores", h)
		case u.Hostname() == "":
			return nil, fmt.Errorf("%s: no host name", h)
		case u.Port() == "":
			return nil, fmt.Errorf("%s: give the port (usually :9200): Beats default to 9200 but Kibana and curl to 443", h)
		case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
			return nil, fmt.Errorf("%s: a query or fragment has no place in an Elasticsearch host", h)
		}
		u.Scheme, u.Host = "https", strings.ToLower(u.Host)
		if u.Path == "/" {
			u.Path = ""
		}
		if s := u.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no URL given")
	}
	return out, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func httpCA(data []byte, want string) (*x509.Certificate, error) {
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("http-ca.crt: %w: %v", ErrBundle, err)
	}
	if fp := ca.Fingerprint(certs[0]); want != "" && !strings.EqualFold(fp, want) {
		return nil, fmt.Errorf("http-ca.crt: %w: its SHA-256 %s is not the manifest's http_ca_sha256 %s", ErrBundle, fp, want)
	}
	return certs[0], nil
}

// httpCertificates returns every node's HTTP certificate, in manifest order.
func httpCertificates(m *manifest.Manifest) []manifest.CertInfo {
	var out []manifest.CertInfo
	for _, n := range m.OfType("elasticsearch") {
		for _, c := range n.Certificates {
			if c.Name == "http" {
				out = append(out, c)
			}
		}
	}
	return out
}

// Hosts derives one URL per node: its HTTP certificate's first DNS name, else its first
// IP. localhost and loopback addresses name no node from elsewhere; they are used only
// when no node has anything else.
func Hosts(m *manifest.Manifest) (hosts, warnings []string, err error) {
	loopback := ""
	for _, n := range m.OfType("elasticsearch") {
		host := ""
		for _, c := range n.Certificates {
			if c.Name != "http" {
				continue
			}
			for _, d := range c.DNSNames {
				if host == "" && !strings.EqualFold(d, "localhost") {
					host = d
				} else if loopback == "" && strings.EqualFold(d, "localhost") {
					loopback = "localhost"
				}
			}
			for _, s := range c.IPs {
				ip := net.ParseIP(s)
				if host == "" && ip != nil && !ip.IsLoopback() {
					host = ip.String()
				}
			}
		}
		if host == "" {
			warnings = append(warnings, fmt.Sprintf("node %q has no DNS name or IP address in its HTTP certificate: it is left out of the Elasticsearch hosts", n.Name))
			continue
		}
		if u := "https://" + net.JoinHostPort(host, DefaultPort); !slices.Contains(hosts, u) {
			hosts = append(hosts, u)
		}
	}
	switch {
	case len(hosts) > 0:
		return hosts, warnings, nil
	case loopback != "":
		warnings = append(warnings, "no node has a DNS name or IP address: the client settings use https://localhost:9200, which works only on a node's own host; give --es-hosts")
		return []string{"https://" + net.JoinHostPort(loopback, DefaultPort)}, warnings, nil
	}
	return nil, warnings, ErrNoHosts
}

// names reports whether some node's HTTP certificate names the host of URL u, as a
// client verifying host names would check it.
func names(m *manifest.Manifest, u string) bool {
	parsed, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := parsed.Hostname()
	ip := net.ParseIP(host)
	for _, c := range httpCertificates(m) {
		if ip != nil {
			for _, s := range c.IPs {
				if ip.Equal(net.ParseIP(s)) {
					return true
				}
			}
			continue
		}
		for _, d := range c.DNSNames {
			if matchDNS(d, host) {
				return true
			}
		}
	}
	return false
}

// matchDNS matches a host against a certificate DNS name, with a wildcard standing for
// exactly one left-most label (RFC 6125 6.4.3).
func matchDNS(pattern, host string) bool {
	pattern, host = strings.ToLower(strings.TrimSuffix(pattern, ".")), strings.ToLower(strings.TrimSuffix(host, "."))
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		_, hostRest, found := strings.Cut(host, ".")
		return found && hostRest == rest
	}
	return pattern == host
}
