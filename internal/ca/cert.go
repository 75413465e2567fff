package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
)

// Authority is a CA certificate with its signing key.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Issuers, for an intermediate CA, are the certificates above it, nearest first:
	// its leaves carry them, and peers trust them with it.
	Issuers []*x509.Certificate
}

// Chain is the CA certificate followed by its issuers.
func (a *Authority) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{a.Cert}, a.Issuers...)
}

// Leaf describes a certificate to sign: who it names and what it may be used for.
type Leaf struct {
	Subject    pkix.Name
	RawSubject []byte // the subject's DER, overriding Subject (kept as-is on renewal)
	DNSNames   []string
	IPs        []net.IP
	OtherNames []string // subjectAltName otherName, type-id 2.5.4.3, UTF8String
	ServerAuth bool
	ClientAuth bool
	NotBefore  time.Time
	NotAfter   time.Time
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDOtherNameCommonName is the otherName type-id that Elasticsearch's transport
	// trust restrictions match (subjectAltName.otherName.commonName), the same one
	// elasticsearch-certutil writes for an instance's `cn` entries.
	OIDOtherNameCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// backdate absorbs clock skew between the machine that issues and the nodes that
// verify: a certificate that is not yet valid on a node splits the cluster as surely
// as an expired one.
const backdate = 5 * time.Minute

// NewRoot creates a self-signed CA certificate for key, valid from now-5m to notAfter.
// It carries what strict verifiers (OpenSSL -x509_strict, Python 3.13) demand of a CA:
// critical basicConstraints CA:TRUE, critical keyCertSign+cRLSign, and a subject key id.
func NewRoot(rand io.Reader, policy fips.Policy, key crypto.Signer, subject pkix.Name, now, notAfter time.Time) (*x509.Certificate, error) {
	sigAlg, err := policy.SignatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	ski, err := SubjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ski,
		SignatureAlgorithm:    sigAlg,
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign CA certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// Sign issues a leaf certificate for pub from the authority. The leaf never outlives
// its CA: a NotAfter past the CA's is an error rather than a silent cap, so the caller
// can say so.
func (a *Authority) Sign(rand io.Reader, policy fips.Policy, leaf Leaf, pub crypto.PublicKey) (*x509.Certificate, error) {
	if err := policy.CheckPublicKey(pub); err != nil {
		return nil, err
	}
	// Not past any certificate of the chain: a verifier checks every one.
	for _, c := range a.Chain() {
		if leaf.NotAfter.After(c.NotAfter) {
			return nil, fault.New(fault.Input, "certificate would expire %s, after its CA %q (%s): issue it for fewer days (--days), or rotate the CA first (escert ca rotate)",
				leaf.NotAfter.UTC().Format(time.DateOnly), c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	if !leaf.ServerAuth && !leaf.ClientAuth {
		return nil, errors.New("certificate has neither server nor client usage")
	}
	sigAlg, err := policy.SignatureAlgorithm(a.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	ski, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	san, err := marshalSAN(leaf)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               leaf.Subject,
		RawSubject:            leaf.RawSubject,
		NotBefore:             leaf.NotBefore.Add(-backdate),
		NotAfter:              leaf.NotAfter,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        a.Cert.SubjectKeyId,
		SignatureAlgorithm:    sigAlg,
		ExtraExtensions:       []pkix.Extension{san},
	}
	tmpl.KeyUsage, tmpl.ExtKeyUsage = leaf.usages(pub)
	der, err := x509.CreateCertificate(rand, tmpl, a.Cert, pub, a.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %q: %w", leaf.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// usages are the key usages and extended key usages a leaf for pub carries, and the
// ones its certificate request asks for.
func (leaf Leaf) usages(pub crypto.PublicKey) (x509.KeyUsage, []x509.ExtKeyUsage) {
	usage := x509.KeyUsageDigitalSignature
	// RSA key exchange (TLS 1.2 non-ECDHE suites) needs keyEncipherment; ECDSA keys
	// can never encipher, and strict verifiers reject the bit on them.
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	var ext []x509.ExtKeyUsage
	if leaf.ServerAuth {
		ext = append(ext, x509.ExtKeyUsageServerAuth)
	}
	if leaf.ClientAuth {
		ext = append(ext, x509.ExtKeyUsageClientAuth)
	}
	return usage, ext
}

// SubjectKeyID is the key identifier of RFC 7093 section 2 method 1: the leftmost 160
// bits of the SHA-256 of the subjectPublicKey. Go's own default uses SHA-1 for CAs,
// which a FIPS 140-only process refuses.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}

// randomSerial returns a positive 159-bit serial: random (CA/B Forum asks for at least
// 64 random bits) and below 2^159 so it fits the 20 octets RFC 5280 allows.
func randomSerial(random io.Reader) (*big.Int, error) {
	// Draw from [0, 2^159-1) and add one: [1, 2^159-1].
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	limit.Sub(limit, big.NewInt(1))
	n, err := rand.Int(random, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// Fingerprint is the SHA-256 of a certificate's DER in lowercase hex without colons,
// the form Beats' ssl.ca_trusted_fingerprint and enrollment tokens use.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
