package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A PKI profile that copies the request's extensions must issue what escert's own CA
// would: so openssl, signing with -copy_extensions copy, is the judge of NewCSR.
func TestNewCSRAsksForWhatALocalCAWouldIssue(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	tests := []struct {
		name, key            string
		server, client       bool
		wantUsage            x509.KeyUsage
		wantExt              []x509.ExtKeyUsage
		wantOpenSSLKeyUsages string
	}{
		{"transport, EC", "p256", true, true, x509.KeyUsageDigitalSignature,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, "Digital Signature"},
		{"http, RSA", "rsa", true, false, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, "Digital Signature, Key Encipherment"},
		{"client, EC", "p256", false, true, x509.KeyUsageDigitalSignature,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, "Digital Signature"},
	}
	a := testAuthority(t, "p256-ca")
	dir := t.TempDir()
	caCert := writeTemp(t, dir, "ca.crt", EncodeCertificates(a.Cert))
	caKeyPEM, err := MarshalKeyPEM(nil, a.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	caKey := writeTemp(t, dir, "ca.key", caKeyPEM)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leaf := nodeLeaf()
			leaf.OtherNames = []string{"node1.node.escert"}
			leaf.ServerAuth, leaf.ClientAuth = tc.server, tc.client
			key := testKey(t, tc.key)
			der, err := NewCSR(testRand(byte(i)), policy, leaf, key)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			csr := writeTemp(t, tmp, "node.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
			if out, err := openssl(t, "req", "-in", csr, "-noout", "-verify"); err != nil {
				t.Fatalf("openssl req -verify: %v\n%s", err, out)
			}
			crt := filepath.Join(tmp, "node.crt")
			if out, err := openssl(t, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial",
				"-CAserial", filepath.Join(tmp, "serial"), "-days", "30", "-copy_extensions", "copy", "-out", crt); err != nil {
				t.Fatalf("openssl x509 -req: %v\n%s", err, out)
			}
			data, err := os.ReadFile(crt)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ParseCertificates(data)
			if err != nil {
				t.Fatal(err)
			}
			cert := certs[0]
			if cert.KeyUsage != tc.wantUsage || !slices.Equal(cert.ExtKeyUsage, tc.wantExt) {
				t.Errorf("usages %v %v, want %v %v", cert.KeyUsage, cert.ExtKeyUsage, tc.wantUsage, tc.wantExt)
			}
			if others, err := OtherNames(cert); err != nil || !slices.Equal(others, leaf.OtherNames) {
				t.Errorf("otherNames %q (%v), want %q", others, err, leaf.OtherNames)
			}
			if !slices.Equal(cert.DNSNames, leaf.DNSNames) || len(cert.IPAddresses) != len(leaf.IPs) {
				t.Errorf("names %q %v, want %q %v", cert.DNSNames, cert.IPAddresses, leaf.DNSNames, leaf.IPs)
			}
			if !bytes.Equal(cert.RawSubject, mustRawSubject(t, der)) {
				t.Errorf("subject %s differs from the request's", cert.Subject)
			}
			out, err := openssl(t, "x509", "-in", crt, "-noout", "-ext", "keyUsage")
			if err != nil || !strings.Contains(out, "critical") || !strings.Contains(out, tc.wantOpenSSLKeyUsages+"\n") {
				t.Errorf("openssl shows the key usage as\n%s(%v), want critical %q", out, err, tc.wantOpenSSLKeyUsages)
			}
		})
	}
}

func mustRawSubject(t *testing.T, csrDER []byte) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	return csr.RawSubject
}

func TestNewCSRRefusesARequestWithoutUsage(t *testing.T) {
	t.Parallel()
	leaf := nodeLeaf()
	leaf.ServerAuth, leaf.ClientAuth = false, false
	if _, err := NewCSR(testRand(1), policy, leaf, testKey(t, "p256")); err == nil {
		t.Fatal("NewCSR made a request with neither server nor client usage")
	}
}
