package ca

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/escert/escert/internal/fips"
)

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	// The extended key usages escert asks for, by OID (RFC 5280 section 4.2.1.12).
	oidServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// NewCSR makes the certificate request a company CA signs for leaf: the same subject,
// subjectAltName (DNS, IP and the node-name otherName) and usages escert's own CA
// would put in the certificate, asked for as requested extensions, so a PKI profile
// that copies what is requested issues exactly what a local bootstrap would. The
// returned DER is signed with key, under policy.
func NewCSR(rand io.Reader, policy fips.Policy, leaf Leaf, key crypto.Signer) ([]byte, error) {
	if !leaf.ServerAuth && !leaf.ClientAuth {
		return nil, errors.New("certificate request has neither server nor client usage")
	}
	if err := policy.CheckPublicKey(key.Public()); err != nil {
		return nil, err
	}
	sigAlg, err := policy.SignatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	san, err := marshalSAN(leaf)
	if err != nil {
		return nil, err
	}
	usage, extUsage := leaf.usages(key.Public())
	ku, err := marshalKeyUsage(usage)
	if err != nil {
		return nil, err
	}
	var oids []asn1.ObjectIdentifier
	for _, u := range extUsage {
		oids = append(oids, map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
			x509.ExtKeyUsageServerAuth: oidServerAuth, x509.ExtKeyUsageClientAuth: oidClientAuth}[u])
	}
	eku, err := asn1.Marshal(oids)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand, &x509.CertificateRequest{
		Subject: leaf.Subject, RawSubject: leaf.RawSubject, SignatureAlgorithm: sigAlg,
		ExtraExtensions: []pkix.Extension{san, {Id: oidKeyUsage, Critical: true, Value: ku}, {Id: oidExtKeyUsage, Value: eku}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request for %q: %w", leaf.Subject.CommonName, err)
	}
	return der, nil
}

// marshalKeyUsage encodes a KeyUsage as RFC 5280's BIT STRING, bit 0
// (digitalSignature) first, without trailing zero bits (DER).
func marshalKeyUsage(u x509.KeyUsage) ([]byte, error) {
	var b [2]byte
	// x509.KeyUsage numbers its bits from the least significant: reverse them into
	// the BIT STRING's most-significant-first order.
	r := bits.Reverse16(uint16(u))
	b[0], b[1] = byte(r>>8), byte(r)
	n := 16 - bits.TrailingZeros16(r)
	if n <= 0 {
		return nil, errors.New("empty key usage")
	}
	return asn1.Marshal(asn1.BitString{Bytes: b[:(n+7)/8], BitLength: n})
}
