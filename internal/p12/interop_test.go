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
		"MAC: sha256, Iteration 10000",
		"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256",
		"PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, info)
		}
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
			dir := t.TempDir()
			pw := passwordFile(t, dir)
			store := filepath.Join(dir, "keytool.p12")
			ca := pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", p.ca.Raw)
			storeArgs := []string{"-storetype", "PKCS12", "-keystore", store, "-storepass:file", pw}
			run(t, keytool, slices.Concat(tt.javaOpts, []string{"-genkeypair", "-alias", "node",
				"-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=node", "-validity", "30"}, storeArgs)...)
			run(t, keytool, slices.Concat(tt.javaOpts, []string{"-importcert", "-noprompt", "-alias", "ca", "-file", ca}, storeArgs)...)

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

func TestDecodeReadsOpenSSLFiles(t *testing.T) {
	openssl := openssl(t)
	p := fixtures()["RSA"]
	dir := t.TempDir()
	pw := passwordFile(t, dir)
	leaf := pemFile(t, filepath.Join(dir, "leaf.pem"), "CERTIFICATE", p.leaf.Raw)
	ca := pemFile(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", p.ca.Raw)
	key := pemFile(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(p.leafKey)))

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
			run(t, openssl, slices.Concat([]string{"pkcs12", "-export", "-out", store, "-passout", "file:" + pw}, tt.args)...)

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
