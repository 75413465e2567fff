package ca

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/escert/escert/internal/fips"
)

// Summary is what people and scripts need to know about a certificate: names, usages,
// dates and fingerprint. The manifest and `escert inspect` both show it.
type Summary struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	IsCA        bool      `json:"is_ca"`
	Key         string    `json:"key"`
	Signature   string    `json:"signature"`
	DNSNames    []string  `json:"dns,omitempty"`
	IPs         []string  `json:"ip,omitempty"`
	OtherNames  []string  `json:"other_names,omitempty"`
	KeyUsage    []string  `json:"key_usage,omitempty"`
	ExtKeyUsage []string  `json:"ext_key_usage,omitempty"`
	SHA256      string    `json:"sha256"`
}

// Summarize describes a certificate.
func Summarize(c *x509.Certificate) Summary {
	s := Summary{
		Subject: FormatDN(c.RawSubject), Issuer: FormatDN(c.RawIssuer), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), IsCA: c.IsCA,
		Signature: c.SignatureAlgorithm.String(), DNSNames: c.DNSNames, SHA256: Fingerprint(c),
	}
	if spec, err := fips.SpecOf(c.PublicKey); err == nil {
		s.Key = spec.String()
	}
	for _, ip := range c.IPAddresses {
		s.IPs = append(s.IPs, ip.String())
	}
	s.OtherNames, _ = OtherNames(c)
	for _, u := range keyUsageNames {
		if c.KeyUsage&u.bit != 0 {
			s.KeyUsage = append(s.KeyUsage, u.name)
		}
	}
	for _, u := range c.ExtKeyUsage {
		name, ok := extKeyUsageNames[u]
		if !ok {
			name = fmt.Sprintf("eku-%d", u)
		}
		s.ExtKeyUsage = append(s.ExtKeyUsage, name)
	}
	return s
}

// keyUsageNames are RFC 5280's names, in bit order.
var keyUsageNames = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"}, {x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"}, {x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"}, {x509.KeyUsageCertSign, "keyCertSign"}, {x509.KeyUsageCRLSign, "cRLSign"},
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth", x509.ExtKeyUsageAny: "any",
}
