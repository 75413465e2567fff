package realtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The test PKI: built once per test process in Go, written to pkiDir as PEM files.
//
//	ca.pem            CA with critical basicConstraints, keyCertSign+cRLSign, SKI
//	node.{key,crt}    leaf from ca: serverAuth+clientAuth, DNS localhost, IP 127.0.0.1,
//	                  otherName 2.5.4.3 "node1.node.escert"; node.key is PKCS#8,
//	                  node-sec1.key the same key as SEC1, node-chain.crt leaf + CA
//	renewed.{key,crt} node1 renewed: a new key and certificate from ca with the same
//	                  names; renewed-chain.crt leaf + CA
//	rsa.{key,crt}     RSA leaf from ca, key as PKCS#1, otherName "rsa.node.escert"
//	other-ca.pem, other.{key,crt}   a second, unrelated CA and its leaf (same names)
//	noku-ca.pem, noku.{key,crt}     a CA without key usage (strict clients refuse it)
//	int-ca.pem, int-leaf.crt        an intermediate under ca and a serverAuth-only leaf
var (
	pkiOnce sync.Once
	pkiDir  string
	pkiErr  error
)

// testPKI returns the directory holding the test PKI, building it on first use.
func testPKI(t testing.TB) string {
	t.Helper()
	pkiOnce.Do(func() {
		pkiDir, pkiErr = os.MkdirTemp("", "realtest-pki-")
		if pkiErr == nil {
			pkiErr = buildPKI(pkiDir)
		}
	})
	if pkiErr != nil {
		t.Fatalf("build test PKI: %v", pkiErr)
	}
	return pkiDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

// pki returns the path of a test PKI file.
func pki(t testing.TB, name string) string {
	return filepath.Join(testPKI(t), name)
}

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// sanExtension builds a subjectAltName with otherName entries, which crypto/x509
// cannot write: GeneralName otherName is [0] IMPLICIT OtherName ::= SEQUENCE {
// type-id OID, value [0] EXPLICIT UTF8String } here (what certutil's "cn" writes).
func sanExtension(dns []string, ips []net.IP, otherNameCNs []string) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, cn := range otherNameCNs {
		oid, err := asn1.Marshal(oidCommonName)
		if err != nil {
			return pkix.Extension{}, err
		}
		utf8, err := asn1.MarshalWithParams(cn, "utf8")
		if err != nil {
			return pkix.Extension{}, err
		}
		value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8})
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, value...)})
	}
	for _, d := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip})
	}
	der, err := asn1.Marshal(names)
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: der}, err
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// sign issues a certificate for key from tmpl, self-signed when parent is nil.
func sign(tmpl *x509.Certificate, key crypto.Signer, parent *issued) (*issued, error) {
	var err error
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	// The real programs check validity against the wall clock, so fixtures cannot use a
	// fixed one; an hour of slack covers clock skew.
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issued{cert: cert, key: key}, nil
}

func newCA(cn string, usage x509.KeyUsage, parent *issued) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              usage, // 0 leaves the extension out
	}, key, parent)
}

func newLeaf(cn string, key crypto.Signer, parent *issued, eku []x509.ExtKeyUsage, otherNameCN string) (*issued, error) {
	san, err := sanExtension([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{otherNameCN})
	if err != nil {
		return nil, err
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	return sign(&x509.Certificate{
		Subject:         pkix.Name{CommonName: cn},
		KeyUsage:        usage,
		ExtKeyUsage:     eku,
		ExtraExtensions: []pkix.Extension{san},
	}, key, parent)
}

func writePEM(path, blockType string, ders ...[]byte) error {
	var out []byte
	for _, der := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})...)
	}
	return os.WriteFile(path, out, 0o600)
}

func buildPKI(dir string) error {
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	caUsage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	writeCert := func(name string, certs ...*issued) {
		var ders [][]byte
		for _, c := range certs {
			ders = append(ders, c.cert.Raw)
		}
		check(writePEM(filepath.Join(dir, name), "CERTIFICATE", ders...))
	}
	writePKCS8 := func(name string, key crypto.Signer) {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		check(err)
		check(writePEM(filepath.Join(dir, name), "PRIVATE KEY", der))
	}
	ecKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		check(err)
		return k
	}

	ca, err := newCA("realtest CA", caUsage, nil)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	writeCert("ca.pem", ca)

	nodeKey := ecKey()
	node, err := newLeaf("node1", nodeKey, ca, both, "node1.node.escert")
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	writeCert("node.crt", node)
	writeCert("node-chain.crt", node, ca)
	writePKCS8("node.key", nodeKey)
	sec1, err := x509.MarshalECPrivateKey(nodeKey)
	check(err)
	check(writePEM(filepath.Join(dir, "node-sec1.key"), "EC PRIVATE KEY", sec1))

	renewedKey := ecKey()
	renewed, err := newLeaf("node1", renewedKey, ca, both, "node1.node.escert")
	if err != nil {
		return fmt.Errorf("renewed node: %w", err)
	}
	writeCert("renewed.crt", renewed)
	writeCert("renewed-chain.crt", renewed, ca)
	writePKCS8("renewed.key", renewedKey)

	// One RSA key: slow to generate, but Elasticsearch's own tools only make RSA.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("RSA key: %w", err)
	}
	rsaLeaf, err := newLeaf("rsa", rsaKey, ca, both, "rsa.node.escert")
	if err != nil {
		return fmt.Errorf("RSA leaf: %w", err)
	}
	writeCert("rsa.crt", rsaLeaf)
	check(writePEM(filepath.Join(dir, "rsa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)))

	other, err := newCA("other CA", caUsage, nil)
	if err != nil {
		return fmt.Errorf("other CA: %w", err)
	}
	writeCert("other-ca.pem", other)
	otherKey := ecKey()
	otherLeaf, err := newLeaf("other", otherKey, other, both, "node1.node.escert")
	if err != nil {
		return fmt.Errorf("other leaf: %w", err)
	}
	writeCert("other.crt", otherLeaf)
	writePKCS8("other.key", otherKey)

	noku, err := newCA("CA without key usage", 0, nil)
	if err != nil {
		return fmt.Errorf("no-KU CA: %w", err)
	}
	writeCert("noku-ca.pem", noku)
	nokuKey := ecKey()
	nokuLeaf, err := newLeaf("noku", nokuKey, noku, both, "noku.node.escert")
	if err != nil {
		return fmt.Errorf("no-KU leaf: %w", err)
	}
	writeCert("noku.crt", nokuLeaf)
	writePKCS8("noku.key", nokuKey)

	inter, err := newCA("realtest intermediate", caUsage, ca)
	if err != nil {
		return fmt.Errorf("intermediate: %w", err)
	}
	writeCert("int-ca.pem", inter)
	intLeaf, err := newLeaf("int-leaf", ecKey(), inter, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, "int.node.escert")
	if err != nil {
		return fmt.Errorf("intermediate leaf: %w", err)
	}
	writeCert("int-leaf.crt", intLeaf)
	return errors.Join(errs...)
}
