package issuer

import (
	"crypto/x509"
	"net"
	"slices"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/spec"
)

// Shortfall is what a certificate a backend handed back lacks of its spec: the
// usages, DNS names, IP addresses and otherNames asked for that are not in it. Remote
// CAs apply their own policy silently (a Vault role's flags, a PKI team's profile),
// so every backend compares what it got with what it asked for; each says in its own
// words what to change.
type Shortfall struct {
	Usages     []string // extended key usages, "serverAuth", "clientAuth"
	DNSNames   []string
	IPs        []net.IP
	OtherNames []string
}

// Compare finds the shortfall of leaf against c. A certificate without the extended
// key usage extension may serve any purpose (RFC 5280 4.2.1.12), as certutil's do.
func Compare(c spec.Certificate, leaf *x509.Certificate) (Shortfall, error) {
	var s Shortfall
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		if c.ServerAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			s.Usages = append(s.Usages, "serverAuth")
		}
		if c.ClientAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			s.Usages = append(s.Usages, "clientAuth")
		}
	}
	for _, dns := range c.DNSNames {
		if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, dns) }) {
			s.DNSNames = append(s.DNSNames, dns)
		}
	}
	for _, ip := range c.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			s.IPs = append(s.IPs, ip)
		}
	}
	if len(c.OtherNames) > 0 {
		got, err := ca.OtherNames(leaf)
		if err != nil {
			return s, err
		}
		for _, o := range c.OtherNames {
			if !slices.Contains(got, o) {
				s.OtherNames = append(s.OtherNames, o)
			}
		}
	}
	return s, nil
}
