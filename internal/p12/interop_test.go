package p12

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/realtest"
)

// These tests run the real consumers of escert's files. CI sets ESCERT_REQUIRE_TOOLS=1
// so that a missing tool fails the build instead of silently skipping.

func keytool(t *testing.T) string { return realtest.Require(t, "keytool") }
func openssl(t *testing.T) string { return realtest.Require(t, "openssl") }

// run runs a tool and returns its combined output; passwords go through files only.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "JAVA_TOOL_OPTIONS=") // English messages, no JVM banner
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keytoolEntries splits `keytool -list -v` output into one block per alias.
func keytoolEntries(out string) map[string]string {
	entries := map[string]string{}
	for _, block := range strings.Split(out, "Alias name: ")[1:] {
		alias, _, _ := strings.Cut(block, "\n")
		entries[alias] = block
	}
	return entries
}

func TestKeytoolLoadsEncodedFile(t *testing.T) {
	keytool := keytool(t)
	for _, kind := range []string{"EC", "RSA"} {
		t.Run(kind, func(t *testing.T) {
			p := fixtures()[kind]
			dir := t.TempDir()
			pw := passwordFile(t, dir)
			// A mixed-case alias shows that Java lowercases aliases.
			store := writeFile(t, filepath.Join(dir, "node.p12"),
				must(Encode(rand.Reader, testPassword, p.keyEntry("Node-1"), []TrustedCert{{"ca", p.ca}})))

			out := run(t, keytool, "-list", "-v", "-storetype", "PKCS12", "-keystore", store, "-storepass:file", pw)
			if !strings.Contains(out, "Your keystore contains 2 entries") {
				t.Errorf("keytool does not list 2 entries:\n%s", out)
			}
			entries := keytoolEntries(out)
			if e := entries["node-1"]; !strings.Contains(e, "Entry type: PrivateKeyEntry") || !strings.Contains(e, "Certificate chain length: 2") {
				t.Errorf("no PrivateKeyEntry node-1 with a chain of 2:\n%s", out)
			}
			if e := entries["ca"]; !strings.Contains(e, "Entry type: trustedCertEntry") {
				t.Errorf("no trustedCertEntry ca:\n%s", out)
			}

			// Without a password (keytool reads an empty one from stdin) Java still
			// lists the entries, since no certificate is encrypted, and says it could not
			// check the file's integrity.
			out = run(t, keytool, "-list", "-storetype", "PKCS12", "-keystore", store)
			if !strings.Contains(out, "Your keystore contains 2 entries") || !strings.Contains(out, "node-1, ") ||
				!strings.Contains(out, "ca, ") || !strings.Contains(out, "has NOT been verified") {
				t.Errorf("keytool -list without a password does not list both entries unverified:\n%s", out)
			}

			exported := filepath.Join(dir, "leaf.pem")
			run(t, keytool, "-exportcert", "-rfc", "-alias", "Node-1", "-file", exported,
				"-storetype", "PKCS12", "-keystore", store, "-storepass:file", pw)
			block, _ := pem.Decode(must(os.ReadFile(exported)))
			if block == nil || !bytes.Equal(block.Bytes, p.leaf.Raw) {
				t.Errorf("keytool -exportcert did not return the leaf certificate")
			}

			// Copying the store makes Java decrypt the private key with the password:
			// -list alone never touches the key.
			copied := filepath.Join(dir, "copy.p12")
			run(t, keytool, "-importkeystore", "-noprompt",
				"-srckeystore", store, "-srcstoretype", "PKCS12", "-srcstorepass:file", pw,
				"-destkeystore", copied, "-deststoretype", "PKCS12", "-deststorepass:file", pw)
			got, err := Decode(must(os.ReadFile(copied)), testPassword)
			if err != nil {
				t.Fatalf("Decode keytool's copy: %v", err)
			}
			checkKeys(t, got, p.keyEntry("node-1"))
			checkTrusted(t, got, []TrustedCert{{"ca", p.ca}})
		})
	}
}

func TestOpenSSLReadsEncodedFile(t *testing.T) {
	openssl := openssl(t)
	p := fixtures()["EC"]
	dir := t.TempDir()
	pw := passwordFile(t, dir)
	store := writeFile(t, filepath.Join(dir, "node.p12"),
		must(Encode(rand.Reader, testPassword, p.keyEntry("node-1"), []TrustedCert{{"ca", p.ca}})))

	info := run(t, openssl, "pkcs12", "-info", "-noout", "-in", store, "-passin", "file:"+pw)
	for _, want := range []string{
		"MAC: sha256, Iteration 2048",
		"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, info)
		}
	}
	// Two plain safes (the key's and the certificates') and no encrypted one.
	if n := strings.Count(info, "PKCS7 Data\n"); n != 2 || strings.Contains(info, "PKCS7 Encrypted data") {
		t.Errorf("openssl pkcs12 -info shows %d plain safes, want 2 and no encrypted one:\n%s", n, info)
	}

	pemOut := filepath.Join(dir, "out.pem")
	run(t, openssl, "pkcs12", "-in", store, "-nodes", "-passin", "file:"+pw, "-out", pemOut)
	rest := must(os.ReadFile(pemOut))
	if !bytes.Contains(rest, []byte("friendlyName: node-1")) || !bytes.Contains(rest, []byte("friendlyName: ca")) {
		t.Errorf("openssl output lacks the aliases:\n%s", rest)
	}
	var keys int
	var certs [][]byte
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			keys++
			if key, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil || !equalKeys(key, p.leafKey) {
				t.Errorf("openssl returned a different key (%v)", err)
			}
		case "CERTIFICATE":
			certs = append(certs, block.Bytes)
		}
	}
	// The CA comes twice: in the key's chain and as trusted entry.
	if keys != 1 || len(certs) != 3 ||
		!slices.ContainsFunc(certs, func(c []byte) bool { return bytes.Equal(c, p.leaf.Raw) }) ||
		!slices.ContainsFunc(certs, func(c []byte) bool { return bytes.Equal(c, p.ca.Raw) }) {
		t.Errorf("openssl returned %d keys and %d certificates, want the key, the leaf and the CA twice", keys, len(certs))
	}
}

func TestDecodeReadsKeytoolFiles(t *testing.T) {
	keytool := keytool(t)
	p := fixtures()["EC"]
	tests := []struct {
		name       string
		javaOpts   []string
		legacy     bool
		encryption string
	}{
		{"Java 17 defaults", nil, false,
			"PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (10000 iterations), MAC HMAC-SHA256 (10000 iterations)"},
		// What Java before 11.0.12, and elasticsearch-certutil running on it, wrote.
		{"legacy keystore.pkcs12.legacy", []string{"-J-Dkeystore.pkcs12.legacy"}, true,
			"keys: PBE-SHA1-3DES (50000 iterations); certificates: PBE-SHA1-RC2-40 (50000 iterations), MAC HMAC-SHA1 (100000 iterations)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := keytoolStore(t, keytool, p, tt.javaOpts...)
			got, err := Decode(must(os.ReadFile(store)), testPassword)
			if tt.legacy && legacyRefused(t, err) {
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.Keys) != 1 || got.Keys[0].Alias != "node" || len(got.Keys[0].Chain) != 1 ||
				got.Keys[0].Chain[0].Subject.CommonName != "node" {
				t.Fatalf("keys = %+v, want node with its self-signed certificate", got.Keys)
			}
			pub := got.Keys[0].Key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
			if !pub.Equal(got.Keys[0].Chain[0].PublicKey) {
				t.Errorf("key and certificate do not match")
			}
			checkTrusted(t, got, []TrustedCert{{"ca", p.ca}})
			if got.Legacy != tt.legacy || got.Encryption != tt.encryption {
				t.Errorf("Encryption = %q, Legacy = %v; want %q, %v", got.Encryption, got.Legacy, tt.encryption, tt.legacy)
			}
			if _, err := Decode(must(os.ReadFile(store)), "wrong password"); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("Decode with a wrong password: got %v, want ErrWrongPassword", err)
			}
		})
	}
}

// keytoolStore makes a PKCS#12 file the way an operator does with keytool: a key pair
// "node" (-genkeypair) and the trusted CA of p "ca" (-importcert), protected by
// testPassword. javaOpts are passed to the JVM (-J-D...).
func keytoolStore(t *testing.T, keytool string, p *pki, javaOpts ...string) string {
	t.Helper()
	dir := t.TempDir()
	pw := passwordFile(t, dir)
	store := filepath.Join(dir, "keytool.p12")
	ca := pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", p.ca.Raw)
	storeArgs := []string{"-storetype", "PKCS12", "-keystore", store, "-storepass:file", pw}
	run(t, keytool, slices.Concat(javaOpts, []string{"-genkeypair", "-alias", "node",
		"-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=node", "-validity", "30"}, storeArgs)...)
	run(t, keytool, slices.Concat(javaOpts, []string{"-importcert", "-noprompt", "-alias", "ca", "-file", ca}, storeArgs)...)
	return store
}

// opensslStore makes a PKCS#12 file with `openssl pkcs12 -export` from p's leaf, key
// and CA (key entry "node-1"), protected by testPassword; args add options.
func opensslStore(t *testing.T, openssl string, p *pki, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	leaf, ca, key := opensslInputs(t, dir, p)
	store := filepath.Join(dir, "openssl.p12")
	opensslExport(t, openssl, store, slices.Concat([]string{"-in", leaf, "-inkey", key, "-certfile", ca, "-name", "node-1"}, args)...)
	return store
}

// opensslInputs writes p's leaf, CA and leaf key into dir as PEM files for openssl.
func opensslInputs(t *testing.T, dir string, p *pki) (leaf, ca, key string) {
	t.Helper()
	return pemFile(t, filepath.Join(dir, "leaf.pem"), "CERTIFICATE", p.leaf.Raw),
		pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", p.ca.Raw),
		pemFile(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(p.leafKey)))
}

// opensslExport runs `openssl pkcs12 -export` with args, writing store protected by
// testPassword (handed over in a file next to it).
func opensslExport(t *testing.T, openssl, store string, args ...string) {
	t.Helper()
	pw := passwordFile(t, filepath.Dir(store))
	run(t, openssl, slices.Concat([]string{"pkcs12", "-export", "-out", store, "-passout", "file:" + pw}, args)...)
}

func TestDecodeReadsOpenSSLFiles(t *testing.T) {
	openssl := openssl(t)
	p := fixtures()["RSA"]
	dir := t.TempDir()
	leaf, ca, key := opensslInputs(t, dir, p)

	tests := []struct {
		name       string
		args       []string
		wantKey    bool
		legacy     bool
		encryption string
	}{
		{"OpenSSL 3 defaults", []string{"-in", leaf, "-inkey", key, "-certfile", ca, "-name", "node-1"}, true, false,
			"PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (2048 iterations), MAC HMAC-SHA256 (2048 iterations)"},
		{"OpenSSL -legacy", []string{"-legacy", "-in", leaf, "-inkey", key, "-certfile", ca, "-name", "node-1"}, true, true,
			"keys: PBE-SHA1-3DES (2048 iterations); certificates: PBE-SHA1-RC2-40 (2048 iterations), MAC HMAC-SHA1 (2048 iterations)"},
		{"OpenSSL -nokeys CA bundle", []string{"-nokeys", "-in", ca}, false, false,
			"PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (2048 iterations), MAC HMAC-SHA256 (2048 iterations)"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := filepath.Join(dir, fmt.Sprintf("openssl-%d.p12", i))
			opensslExport(t, openssl, store, tt.args...)

			got, err := Decode(must(os.ReadFile(store)), testPassword)
			// OpenSSL writes 8-byte PBKDF2 salts, below FIPS 140-3's 128 bits.
			if legacyRefused(t, err) {
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tt.wantKey {
				checkKeys(t, got, p.keyEntry("node-1"))
				if len(got.Other) != 0 {
					t.Errorf("Other = %d certificates, want none", len(got.Other))
				}
			} else if len(got.Keys) != 0 || len(got.Other) != 1 || !got.Other[0].Equal(p.ca) {
				// Without Java's trust attribute the CA is no trusted entry.
				t.Errorf("got %d keys and Other = %d certificates, want only the CA in Other", len(got.Keys), len(got.Other))
			}
			if len(got.Trusted) != 0 {
				t.Errorf("Trusted = %d entries, want none: OpenSSL 3.0 writes no Java trust attribute", len(got.Trusted))
			}
			if got.Legacy != tt.legacy || got.Encryption != tt.encryption {
				t.Errorf("Encryption = %q, Legacy = %v; want %q, %v", got.Encryption, got.Legacy, tt.encryption, tt.legacy)
			}
		})
	}
}

// TestOpenSSLReadsCertificatesWithoutThePassword proves that tools read the
// certificates of escert's files without the password: openssl prints the chain and
// the trusted CA with an empty password and no MAC check. The same command fails on
// OpenSSL's own default file, whose certificates are encrypted.
func TestOpenSSLReadsCertificatesWithoutThePassword(t *testing.T) {
	openssl := openssl(t)
	p := fixtures()["EC"]
	dir := t.TempDir()
	escertFile := writeFile(t, filepath.Join(dir, "escert.p12"),
		must(Encode(rand.Reader, testPassword, p.keyEntry("node-1"), []TrustedCert{{"ca", p.ca}})))
	tests := []struct {
		name  string
		store string
		ok    bool
	}{
		{"escert file", escertFile, true},
		{"OpenSSL 3 defaults", opensslStore(t, openssl, p), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The empty password is no secret: it may stand on the command line.
			cmd := exec.Command(openssl, "pkcs12", "-in", tt.store, "-nokeys", "-nomacver", "-passin", "pass:")
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			out, err := cmd.Output()
			if !tt.ok {
				if err == nil {
					t.Fatalf("openssl read encrypted certificates without the password:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("openssl pkcs12 -nokeys -nomacver without a password: %v\n%s", err, out)
			}
			var certs [][]byte
			for rest := out; ; {
				var block *pem.Block
				if block, rest = pem.Decode(rest); block == nil {
					break
				}
				if block.Type != "CERTIFICATE" {
					t.Errorf("openssl printed a %s", block.Type)
				}
				certs = append(certs, block.Bytes)
			}
			// The leaf, the CA of its chain, and the CA as trusted entry.
			if len(certs) != 3 || !bytes.Equal(certs[0], p.leaf.Raw) || !bytes.Equal(certs[1], p.ca.Raw) || !bytes.Equal(certs[2], p.ca.Raw) {
				t.Errorf("openssl printed %d certificates, want leaf, CA, CA:\n%s", len(certs), out)
			}
		})
	}
}

// TestCertificatesOnToolFiles runs Certificates on files the real tools write: with
// certificate encryption turned off (keytool's certProtectionAlgorithm=NONE, openssl's
// -certpbe NONE) it reads the chain without the password; with the tools' defaults the
// certificates are encrypted, and it says so with ErrEncrypted.
func TestCertificatesOnToolFiles(t *testing.T) {
	keytool, openssl := keytool(t), openssl(t)
	p := fixtures()["EC"]
	tests := []struct {
		name      string
		store     func(t *testing.T) string
		alias     string
		encrypted bool
		// notFIPS: the key bag uses OpenSSL's 8-byte PBKDF2 salt, which Certificates
		// refuses in FIPS 140-only mode just as Decode does.
		notFIPS bool
	}{
		{"keytool defaults", func(t *testing.T) string { return keytoolStore(t, keytool, p) }, "node", true, false},
		{"keytool certProtectionAlgorithm=NONE", func(t *testing.T) string {
			return keytoolStore(t, keytool, p, "-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE")
		}, "node", false, false},
		{"openssl pkcs12 -export defaults", func(t *testing.T) string { return opensslStore(t, openssl, p) }, "node-1", true, false},
		{"openssl pkcs12 -export -certpbe NONE", func(t *testing.T) string { return opensslStore(t, openssl, p, "-certpbe", "NONE") }, "node-1", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := must(os.ReadFile(tt.store(t)))
			got, err := Certificates(data)
			if tt.encrypted {
				if !errors.Is(err, ErrEncrypted) {
					t.Fatalf("Certificates = %+v, %v; want ErrEncrypted", got, err)
				}
				return
			}
			if tt.notFIPS && legacyRefused(t, err) {
				return
			}
			if err != nil {
				t.Fatalf("Certificates: %v", err)
			}
			if len(got.Keys) != 1 || got.Keys[0].Alias != tt.alias || got.Keys[0].Key != nil || len(got.Keys[0].Chain) == 0 {
				t.Fatalf("Keys = %+v, want %q with its chain and no key", got.Keys, tt.alias)
			}
			// The leaf is the certificate of the key Decode decrypts.
			want := must(Decode(data, testPassword))
			if !got.Keys[0].Chain[0].Equal(want.Keys[0].Chain[0]) || !got.Unverified {
				t.Errorf("leaf %q, Unverified = %v; want %q, true", got.Keys[0].Chain[0].Subject, got.Unverified, want.Keys[0].Chain[0].Subject)
			}
		})
	}
}

// TestJSSEUsesEncodedFileAsKeystoreAndTruststore: Java's TLS stack, as Elasticsearch
// configures it, takes one file Encode wrote as keystore and truststore on both ends
// of a mutually authenticated handshake.
func TestJSSEUsesEncodedFileAsKeystoreAndTruststore(t *testing.T) {
	p := fixtures()["EC"]
	store := writeFile(t, filepath.Join(t.TempDir(), "node.p12"),
		must(Encode(rand.Reader, testPassword, p.keyEntry("node-1"), []TrustedCert{{"ca", p.ca}})))
	both := realtest.Store{P12Path: store, P12Password: testPassword}
	cfg := realtest.JSSEConfig{Key: both, Trust: both, ClientAuth: true}
	addr := realtest.StartJSSEServer(t, cfg)
	if err := realtest.JSSEHandshake(t, cfg, addr, "node-1.example"); err != nil {
		t.Fatalf("JSSE mutual TLS with the file as keystore and truststore: %v", err)
	}
}
