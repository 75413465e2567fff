package spec

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/escert/escert/internal/ca"
)

// Layer is the Elasticsearch network layer a certificate serves. Each layer has its own
// CA, so that a certificate from the HTTP CA (which every client trusts) can never
// open the transport layer (which only nodes may join).
type Layer string

// The two layers.
const (
	Transport Layer = "transport"
	HTTP      Layer = "http"
)

// Profile is one certificate that an instance of a kind receives, declared once as data
// (as kubeadm declares its certificate list): issuance, the manifest and later renewal
// all read the same table.
type Profile struct {
	Base       string // file base name inside the bundle: transport, http, server, client
	Layer      Layer
	ServerAuth bool
	ClientAuth bool
	NodeName   bool // carries the node's otherName that the transport trust restrictions match
	HTTPNames  bool // carries http_dns/http_ip and, unless turned off, localhost names
	OnlyWhen   func(Instance) bool
}

func clientAuthAsked(i Instance) bool { return i.ClientAuth }

// server is the HTTPS server certificate of a component that serves clients (Kibana's
// own HTTPS, Logstash's Beats input, Fleet Server, APM Server): signed by the HTTP CA,
// which browsers and agents are told to trust.
var server = Profile{Base: "server", Layer: HTTP, ServerAuth: true, HTTPNames: true}

// client authenticates a component to Elasticsearch's HTTP layer (PKI realm), signed
// by the HTTP CA, never by the transport CA.
var client = Profile{Base: "client", Layer: HTTP, ClientAuth: true, OnlyWhen: clientAuthAsked}

var profiles = map[Kind][]Profile{
	// Transport certificates serve both ends of node-to-node mutual TLS.
	Elasticsearch: {
		{Base: "transport", Layer: Transport, ServerAuth: true, ClientAuth: true, NodeName: true},
		{Base: "http", Layer: HTTP, ServerAuth: true, HTTPNames: true},
	},
	Kibana:   {server, client},
	Logstash: {server, client},
	Fleet:    {server, client},
	APM:      {server, client},
	Beats:    {client},
	Client:   {{Base: "client", Layer: HTTP, ClientAuth: true}},
}

// Profiles returns the certificates an instance of kind k receives, before OnlyWhen.
func Profiles(k Kind) []Profile { return profiles[k] }

// Options are the cluster-wide choices that shape every certificate.
type Options struct {
	ClusterName string // names the transport otherName pattern: <node>.node.<cluster>
	// TrustRestrictions adds the node otherName to transport certificates. On by default:
	// it keeps certificates that are not a node's off the transport layer even when
	// they come from the same CA.
	TrustRestrictions bool
	Localhost         bool // add localhost, 127.0.0.1 and ::1 to HTTP server certificates
	Days              int
	// KeepSubject marks every certificate KeepSubject: set for OpenSearch.
	KeepSubject bool
}

var clusterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$`)

// CheckClusterName refuses names that would need escaping in a trust pattern or a DNS-like name.
func CheckClusterName(name string) error {
	if !clusterNamePattern.MatchString(name) {
		return fmt.Errorf("cluster name %q: use letters, digits, '-' and '_' (as in cluster.name)", name)
	}
	return nil
}

// NodeName is the otherName a node's transport certificate carries.
func NodeName(filename, cluster string) string { return filename + ".node." + cluster }

// TrustPattern matches the NodeName of every node of the cluster, including nodes
// issued later, for xpack.security.transport.ssl.trust_restrictions.
func TrustPattern(cluster string) string { return "*.node." + cluster }

// The certificate fields transport trust restrictions can match
// (xpack.security.transport.ssl.trust_restrictions.x509_fields).
const (
	OtherNameField = "subjectAltName.otherName.commonName" // Elasticsearch's default
	DNSNameField   = "subjectAltName.dnsName"              // Elasticsearch 8.5.3+ and 7.17.8+
)

// Restriction is what a cluster's transport trust restrictions admit: a peer whose
// certificate has, in Field, a name matching one of Names (trust.subject_name).
type Restriction struct {
	Field string
	Names []string
}

// NodeNameRestriction admits the node otherNames of the cluster: escert's own.
func NodeNameRestriction(cluster string) Restriction {
	return Restriction{Field: OtherNameField, Names: []string{TrustPattern(cluster)}}
}

// Certificate is one certificate to issue, as data.
type Certificate struct {
	Instance   string // instance name
	Dir        string // the instance's file name: its bundle directory
	Kind       Kind
	Base       string
	Layer      Layer
	Subject    pkix.Name
	DNSNames   []string
	IPs        []net.IP
	OtherNames []string
	ServerAuth bool
	ClientAuth bool
	Days       int
	// Until, when set, ends the certificate there instead of Days from issuance:
	// renewal caps a leaf at its CA's expiry.
	Until time.Time
	// RawSubject is the subject's DER, which the certificate carries byte for byte:
	// the instance name's RDNs as written, or the old certificate's on renewal.
	RawSubject []byte
	// KeepSubject says peers match the whole subject DN (OpenSearch's nodes_dn and
	// admin_dn), so a certificate whose issuer rewrote it is refused.
	KeepSubject bool
}

// FromCertificate describes an existing certificate as a spec, for renewal: the same
// subject, names and usages, and its original lifetime.
func FromCertificate(cert *x509.Certificate, layer Layer) (Certificate, error) {
	others, err := ca.OtherNames(cert)
	if err != nil {
		return Certificate{}, err
	}
	c := Certificate{
		Instance: cert.Subject.CommonName, Layer: layer, Base: string(layer),
		Subject: cert.Subject, DNSNames: slices.Clone(cert.DNSNames), IPs: slices.Clone(cert.IPAddresses), OtherNames: others,
		Days: max(1, int(cert.NotAfter.Sub(cert.NotBefore).Round(24*time.Hour).Hours()/24)),
	}
	for _, u := range cert.ExtKeyUsage {
		c.ServerAuth = c.ServerAuth || u == x509.ExtKeyUsageServerAuth
		c.ClientAuth = c.ClientAuth || u == x509.ExtKeyUsageClientAuth
	}
	if len(cert.ExtKeyUsage) == 0 {
		// certutil's leaves carry no EKU: they serve both ends, as on the transport layer.
		c.ServerAuth, c.ClientAuth = true, true
	}
	// The renewed certificate keeps the subject's exact DER, whatever attributes and
	// order the original had (DC components, a certutil DN).
	c.RawSubject = cert.RawSubject
	return c, nil
}

// Certificates lists the certificates an instance receives, in profile order.
func Certificates(inst Instance, opts Options) ([]Certificate, error) {
	rawSubject, subject, err := ParseName(inst.Name)
	if err != nil {
		return nil, err
	}
	var out []Certificate
	for _, p := range profiles[inst.Type] {
		if p.OnlyWhen != nil && !p.OnlyWhen(inst) {
			continue
		}
		c := Certificate{
			Instance: inst.Name, Dir: inst.Filename, Kind: inst.Type, Base: p.Base, Layer: p.Layer,
			Subject: subject, RawSubject: rawSubject, KeepSubject: opts.KeepSubject, ServerAuth: p.ServerAuth, ClientAuth: p.ClientAuth, Days: opts.Days,
			DNSNames:   slices.Clone(inst.DNS),
			IPs:        slices.Clone(inst.IPs),
			OtherNames: slices.Clone(inst.CN),
		}
		if p.NodeName && opts.TrustRestrictions {
			c.OtherNames = append(c.OtherNames, NodeName(inst.Filename, opts.ClusterName))
		}
		if p.HTTPNames {
			c.DNSNames = append(c.DNSNames, inst.HTTPDNS...)
			c.IPs = append(c.IPs, inst.HTTPIPs...)
			if opts.Localhost {
				c.DNSNames = append(c.DNSNames, "localhost")
				c.IPs = append(c.IPs, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
			}
		}
		c.DNSNames = uniqueStrings(c.DNSNames)
		c.IPs = uniqueIPs(c.IPs)
		if len(c.DNSNames)+len(c.IPs)+len(c.OtherNames) == 0 {
			// A certificate needs at least one SAN: clients ignore the CN (RFC 6125).
			c.OtherNames = []string{subject.CommonName}
		}
		out = append(out, c)
	}
	return out, nil
}

// UsageNames are the extended key usages c needs, as RFC 5280 names them.
func (c Certificate) UsageNames() []string {
	var u []string
	if c.ServerAuth {
		u = append(u, "serverAuth")
	}
	if c.ClientAuth {
		u = append(u, "clientAuth")
	}
	return u
}

// Leaf is the request the CA signs for this certificate, valid from now.
func (c Certificate) Leaf(now time.Time) ca.Leaf {
	return ca.Leaf{
		Subject: c.Subject, RawSubject: c.RawSubject, DNSNames: c.DNSNames, IPs: c.IPs, OtherNames: c.OtherNames,
		ServerAuth: c.ServerAuth, ClientAuth: c.ClientAuth,
		NotBefore: now, NotAfter: c.notAfter(now),
	}
}

func (c Certificate) notAfter(now time.Time) time.Time {
	if !c.Until.IsZero() {
		return c.Until
	}
	return now.AddDate(0, 0, c.Days)
}

// uniqueStrings and uniqueIPs keep the first of equal names, in order, in linear
// time: an instances file may list hundreds of thousands before the cap refuses them.
func uniqueStrings(in []string) []string {
	seen := make(map[string]bool, len(in))
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func uniqueIPs(in []net.IP) []net.IP {
	seen := make(map[[16]byte]bool, len(in))
	var out []net.IP
	for _, ip := range in {
		// To16 maps an IPv4 address and its IPv4-mapped IPv6 form together, as
		// net.IP.Equal does.
		key := [16]byte(ip.To16())
		if !seen[key] {
			seen[key] = true
			out = append(out, ip)
		}
	}
	return out
}

// AdminName is the subject of an OpenSearch cluster's admin certificate, the one
// plugins.security.authcz.admin_dn names and securityadmin.sh signs in with. Its OU
// is no instance's: bundle refuses an instance named so, as that instance's client
// certificate would be the cluster's superuser.
func AdminName(cluster string) string { return "CN=admin,OU=escert-admin,O=" + cluster }

// AdminCertificate is the admin certificate of an OpenSearch cluster: a client
// certificate from the HTTP CA, which the HTTP layer verifies client certificates
// against and securityadmin.sh talks to.
func AdminCertificate(opts Options) (Certificate, error) {
	raw, subject, err := ParseName(AdminName(opts.ClusterName))
	if err != nil {
		return Certificate{}, err
	}
	return Certificate{
		Instance: "admin", Dir: "admin", Kind: Client, Base: "admin", Layer: HTTP,
		Subject: subject, RawSubject: raw, ClientAuth: true, Days: opts.Days,
		KeepSubject: true, // admin_dn names it
		// A certificate needs a SAN (RFC 5280 for an empty-subject one, and escert's
		// rule for every one); a name no host has.
		OtherNames: []string{"admin." + opts.ClusterName},
	}, nil
}
