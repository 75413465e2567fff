package ca

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/realtest"
)

// These tests ask OpenSSL, the strictest common verifier, about escert's output. When
// openssl is missing they skip, unless ESCERT_REQUIRE_TOOLS=1 (as in CI) makes the
// missing tool a failure, so a green run cannot come from skipping everything.

func requireOpenSSL(t *testing.T) string { return realtest.Require(t, "openssl") }

// openssl runs openssl with args and returns its combined output and error.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireOpenSSL(t), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "OPENSSL_CONF=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenSSLShowsTheOtherNameSAN(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	a := testAuthority(t, "p256-ca")
	leaf := nodeLeaf()
	leaf.OtherNames = []string{"node1.node.escert", "node1.cluster.local"}
	cert := sign(t, a, leaf, testKey(t, "p256").Public())
	path := writeTemp(t, t.TempDir(), "node1.crt", EncodeCertificates(cert))

	out, err := openssl(t, "x509", "-in", path, "-noout", "-ext", "subjectAltName")
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	// OpenSSL 3 names the type-id (commonName); older versions print CN.
	for _, want := range []string{"DNS:node1.example.com", "DNS:localhost", "IP Address:192.0.2.1", "IP Address:2001:DB8:0:0:0:0:0:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl shows\n%s\nwithout %q", out, want)
		}
	}
	for _, name := range leaf.OtherNames {
		if !strings.Contains(out, "othername: commonName::"+name) && !strings.Contains(out, "othername: CN::"+name) {
			t.Errorf("openssl shows\n%s\nwithout the otherName %q", out, name)
		}
	}
}

func TestOpenSSLStrictVerify(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	for _, tt := range leafCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := testAuthority(t, tt.ca)
			cert := sign(t, a, tt.request(), testKey(t, tt.leaf).Public())
			dir := t.TempDir()
			caPath := writeTemp(t, dir, "ca.crt", EncodeCertificates(a.Cert))
			leafPath := writeTemp(t, dir, "leaf.crt", EncodeCertificates(cert))
			at := fmt.Sprint(now.Unix())
			for _, purpose := range []struct {
				name string
				want bool
			}{{"sslserver", tt.server}, {"sslclient", tt.client}} {
				out, err := openssl(t, "verify", "-x509_strict", "-purpose", purpose.name, "-attime", at, "-CAfile", caPath, leafPath)
				if ok := err == nil && strings.Contains(out, ": OK"); ok != purpose.want {
					t.Errorf("openssl verify -x509_strict -purpose %s: %v\n%s\nwant success %v", purpose.name, err, out, purpose.want)
				}
			}
			// The CA verifies on its own, strictly, as a trust anchor.
			if out, err := openssl(t, "verify", "-x509_strict", "-attime", at, "-CAfile", caPath, caPath); err != nil {
				t.Errorf("openssl verify CA: %v\n%s", err, out)
			}
		})
	}
}

func TestOpenSSLAgreesOnTheFingerprint(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	cert := testAuthority(t, "rsa-ca").Cert
	path := writeTemp(t, t.TempDir(), "ca.crt", EncodeCertificates(cert))
	out, err := openssl(t, "x509", "-in", path, "-noout", "-fingerprint", "-sha256")
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v\n%s", err, out)
	}
	_, value, _ := strings.Cut(strings.TrimSpace(out), "=")
	if got := strings.ToLower(strings.ReplaceAll(value, ":", "")); got != Fingerprint(cert) {
		t.Errorf("openssl fingerprint %s, Fingerprint %s", got, Fingerprint(cert))
	}
}

// TestOpenSSLReadsEscertKeys checks that OpenSSL reads the keys escert writes, plain
// and encrypted, and that escert reads what OpenSSL writes back.
func TestOpenSSLReadsEscertKeys(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	dir := t.TempDir()
	pwFile := writeTemp(t, dir, "password", keyPassword)
	for _, tt := range []struct {
		name     string
		key      string
		password []byte
	}{
		{"plain P-384", "p384", nil},
		{"plain RSA", "rsa", nil},
		{"encrypted P-256", "p256", keyPassword},
	} {
		key := testKey(t, tt.key)
		data, err := MarshalKeyPEM(testRand(6), key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.password != nil {
			data = encryptedP256(t)
		}
		path := writeTemp(t, dir, tt.key+".key", data)
		args := []string{"pkey", "-in", path, "-pubout"}
		if tt.password != nil {
			args = append(args, "-passin", "file:"+pwFile)
		}
		out, err := openssl(t, args...)
		if err != nil {
			t.Errorf("%s: openssl pkey: %v\n%s", tt.name, err, out)
			continue
		}
		if want := string(publicPEM(t, key)); out != want {
			t.Errorf("%s: openssl read public key\n%s\nwant\n%s", tt.name, out, want)
		}
		if tt.password != nil {
			// A wrong password must not pass OpenSSL either: the encryption is real.
			wrong := writeTemp(t, dir, "wrong", []byte("not the password"))
			if out, err := openssl(t, "pkey", "-in", path, "-passin", "file:"+wrong, "-noout"); err == nil {
				t.Errorf("%s: openssl read the key with a wrong password\n%s", tt.name, out)
			}
		}
	}

	// And back: a SEC 1 key OpenSSL converts from the escert key reads as the same key.
	key := testKey(t, "p384")
	data, err := MarshalKeyPEM(testRand(6), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, "ec", "-in", writeTemp(t, dir, "p384-pkcs8.key", data))
	if err != nil {
		t.Fatalf("openssl ec: %v\n%s", err, out)
	}
	back, err := ParseKeyPEM([]byte(out), nil)
	if err != nil {
		t.Fatalf("ParseKeyPEM(openssl ec output): %v", err)
	}
	if !bytes.Equal(publicPEM(t, back), publicPEM(t, key)) {
		t.Error("the key OpenSSL wrote back is another key")
	}
}

// TestOpenSSLReadsTheChain checks a chain written by EncodeCertificates with
// openssl's own parser: both certificates, in order.
func TestOpenSSLReadsTheChain(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	a := testAuthority(t, "p384-ca")
	leaf := sign(t, a, nodeLeaf(), testKey(t, "p384").Public())
	dir := t.TempDir()
	path := writeTemp(t, dir, "chain.crt", EncodeCertificates(leaf, a.Cert))
	p7 := filepath.Join(dir, "chain.p7b")
	if out, err := openssl(t, "crl2pkcs7", "-nocrl", "-certfile", path, "-out", p7); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
	}
	out, err := openssl(t, "pkcs7", "-in", p7, "-print_certs", "-noout")
	if err != nil {
		t.Fatalf("openssl pkcs7: %v\n%s", err, out)
	}
	var subjects []string
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "subject="); ok {
			subjects = append(subjects, strings.TrimSpace(s))
		}
	}
	if len(subjects) != 2 || !strings.Contains(subjects[0], "node1") || !strings.Contains(subjects[1], "escert test CA p384-ca") {
		t.Errorf("openssl reads subjects %q, want node1 then the CA", subjects)
	}
}

// TestPEMWithAUTF8BOMIsReadAsOpenSSLReadsIt: Windows editors start a saved file with a
// byte order mark; openssl reads past it, and so must escert, for certificates and keys.
func TestPEMWithAUTF8BOMIsReadAsOpenSSLReadsIt(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	a := testAuthority(t, "p256-ca")
	keyPEM, err := MarshalKeyPEM(testRand(5), a.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	bom := []byte("\xef\xbb\xbf")
	dir := t.TempDir()
	certFile := writeTemp(t, dir, "ca.crt", append(bom, EncodeCertificates(a.Cert)...))
	keyFile := writeTemp(t, dir, "ca.key", append(bom, keyPEM...))
	if out, err := openssl(t, "x509", "-in", certFile, "-noout"); err != nil {
		t.Fatalf("openssl x509 refuses the BOM file, so the premise is wrong: %v\n%s", err, out)
	}
	if out, err := openssl(t, "pkey", "-in", keyFile, "-noout"); err != nil {
		t.Fatalf("openssl pkey refuses the BOM file, so the premise is wrong: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(certFile)
	if certs, err := ParseCertificates(data); err != nil || len(certs) != 1 || !certs[0].Equal(a.Cert) {
		t.Errorf("ParseCertificates of a BOM-prefixed certificate = %d certificates, %v", len(certs), err)
	}
	data, _ = os.ReadFile(keyFile)
	if key, err := ParseKeyPEM(data, nil); err != nil || KeyMatches(a.Cert, key) != nil {
		t.Errorf("ParseKeyPEM of a BOM-prefixed key: %v", err)
	}
}

// A Windows CA hands out its chain as PKCS#7 (.p7b): openssl crl2pkcs7 makes the same
// certs-only bundle, in PEM and in DER.
func TestParseCertificatesReadsAnOpenSSLPKCS7Bundle(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	a := testAuthority(t, "p256-ca")
	leaf := sign(t, a, nodeLeaf(), testKey(t, "p256").Public())
	dir := t.TempDir()
	leafFile := writeTemp(t, dir, "leaf.crt", EncodeCertificates(leaf))
	caFile := writeTemp(t, dir, "ca.crt", EncodeCertificates(a.Cert))
	for _, form := range []string{"PEM", "DER"} {
		t.Run(form, func(t *testing.T) {
			out := filepath.Join(dir, "chain-"+form+".p7b")
			if msg, err := openssl(t, "crl2pkcs7", "-nocrl", "-certfile", leafFile, "-certfile", caFile, "-outform", form, "-out", out); err != nil {
				t.Fatalf("openssl crl2pkcs7: %v\n%s", err, msg)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ParseCertificates(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 2 || !certs[0].Equal(leaf) || !certs[1].Equal(a.Cert) {
				t.Fatalf("read %d certificates from the %s bundle, want the leaf and its CA", len(certs), form)
			}
		})
	}
}
