package inspect

import (
	"bytes"
	"crypto/fips140"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/golden"
	"github.com/escert/escert/internal/p12"
)

// The fixtures were made once with openssl 3 (see the test names); a fixed clock keeps
// "days left" stable.
var fixedNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// passwords are candidates, as the keystore next to a file supplies them.
func passwords(p ...string) Passwords {
	return Passwords{Candidates: func() ([][]byte, error) {
		var out [][]byte
		for _, s := range p {
			out = append(out, []byte(s))
		}
		return out, nil
	}}
}

// given is the password an operator gave.
func given(p string) Passwords {
	return Passwords{Given: func() ([]byte, error) { return []byte(p), nil }}
}

// escertPassword protects escertP12.
const escertPassword = "escert-pass-456"

// escertP12 is a PKCS#12 file as escert writes it, made with p12.Encode from the
// node.crt and node.key fixtures: key entry node1 and the (self-signed) certificate as
// trusted entry ca. Its salts differ on every run; its report does not.
func escertP12(t testing.TB) []byte {
	t.Helper()
	certs, err := ca.ParseCertificates(fixture(t, "node.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.ParseKeyPEM(fixture(t, "node.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := p12.Encode(nil, escertPassword, &p12.KeyEntry{Alias: "node1", Key: key, Chain: certs[:1]},
		[]p12.TrustedCert{{Alias: "ca", Cert: certs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFileRendersEachKindLikeTheGolden(t *testing.T) {
	cases := []struct {
		golden    string // testdata/<golden>.golden; the fixture's name unless data is set
		data      func(testing.TB) []byte
		passwords Passwords
		// notFIPS: the fixture uses what FIPS 140-only mode refuses (OpenSSL's 8-byte
		// PBKDF2 salts, an empty keystore password); there the refusal is the result.
		notFIPS string
	}{
		{"node.crt", nil, Passwords{}, ""},
		{"node.der", nil, Passwords{}, ""},
		{"node.key", nil, Passwords{}, ""},
		// OpenSSL encrypts the certificates: only the candidates open the file.
		{"openssl.p12", nil, passwords("wrong", "fixture-pass-123"), "not approved in FIPS 140-only mode"},
		// escert's certificates read without a password, unverified ...
		{"escert.p12", escertP12, Passwords{}, ""},
		// ... and a given password decrypts and verifies the file.
		{"escert.p12-with-password", escertP12, given(escertPassword), ""},
		{"v5-s3-credentials.keystore", nil, Passwords{}, "at least 14 bytes in FIPS 140-only mode"},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			file, data := tc.golden, []byte(nil)
			if tc.data != nil {
				file, data = "escert.p12", tc.data(t)
			} else {
				data = fixture(t, tc.golden)
			}
			r, err := File(file, data, tc.passwords, fixedNow)
			if fips140.Enforced() && tc.notFIPS != "" {
				if err == nil || !strings.Contains(err.Error(), tc.notFIPS) {
					t.Fatalf("under fips140=only: err = %v, want a refusal saying %q", err, tc.notFIPS)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			Render(&text, r)
			js, _ := json.MarshalIndent(r, "", "  ")
			got := append(text.Bytes(), append(js, '\n')...)
			golden.Check(t, filepath.Join("testdata", tc.golden+".golden"), got)
		})
	}
}

func TestFileNeverShowsSecrets(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("the keystore fixture has an empty password, which fips140=only refuses")
	}
	ks, err := File("ks", fixture(t, "v5-s3-credentials.keystore"), Passwords{}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	key, err := File("key", fixture(t, "node.key"), Passwords{}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Report{ks, key} {
		var out bytes.Buffer
		Render(&out, r)
		js, _ := json.Marshal(r)
		out.Write(js)
		for _, secret := range []string{"wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "PRIVATE KEY-----"} {
			if strings.Contains(out.String(), secret) {
				t.Errorf("%s: output shows %q", r.File, secret)
			}
		}
	}
}

func TestFileReportsWrongPasswordAndGarbage(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("the fixtures use OpenSSL's 8-byte salts and an empty keystore password, which fips140=only refuses")
	}
	if _, err := File("p", fixture(t, "openssl.p12"), passwords("nope"), fixedNow); !errors.Is(err, p12.ErrWrongPassword) {
		t.Errorf("wrong p12 password: %v", err)
	}
	if _, err := File("g", []byte("hello"), Passwords{}, fixedNow); err == nil || !strings.Contains(err.Error(), "not a certificate, key, PKCS#12 or elasticsearch.keystore") {
		t.Errorf("garbage: %v", err)
	}
	corrupt := fixture(t, "v5-s3-credentials.keystore")
	corrupt[len(corrupt)/2] ^= 1
	if _, err := File("k", corrupt, Passwords{}, fixedNow); !errors.Is(err, eskeystore.ErrCorrupted) {
		t.Errorf("corrupted keystore: %v", err)
	}
}

func FuzzFile(f *testing.F) {
	for _, name := range []string{"node.crt", "node.der", "node.key", "openssl.p12", "v5-s3-credentials.keystore"} {
		f.Add(fixture(f, name))
	}
	f.Add(escertP12(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := File("fuzz", data, passwords("fixture-pass-123"), fixedNow)
		if err == nil {
			Render(&bytes.Buffer{}, r)
		}
	})
}

func TestPEMWithAUTF8BOMReadsAsWithout(t *testing.T) {
	// Windows editors save PEM files with a byte order mark; openssl reads them.
	plain, err := File("node.crt", fixture(t, "node.crt"), Passwords{}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := File("node.crt", append([]byte("\xef\xbb\xbf"), fixture(t, "node.crt")...), Passwords{}, fixedNow)
	if err != nil {
		t.Fatalf("a PEM file with a BOM: %v", err)
	}
	if len(bom.Certificates) != len(plain.Certificates) || len(bom.Certificates) == 0 {
		t.Errorf("%d certificates with a BOM, %d without", len(bom.Certificates), len(plain.Certificates))
	}
}

// TestFileReadsP12CertificatesWithoutAskingForPasswords: without a given password an
// escert p12 is described from its certificates and the candidates (the keystore next
// to it) are never asked for; a given password, or encrypted certificates, decode it.
func TestFileReadsP12CertificatesWithoutAskingForPasswords(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("the OpenSSL fixture's 8-byte salts are refused under fips140=only")
	}
	tests := []struct {
		name       string
		data       []byte
		given      string
		candidates bool // the candidates are asked for
		unverified bool
	}{
		{"escert p12, no password given", escertP12(t), "", false, true},
		{"escert p12, password given", escertP12(t), escertPassword, false, false},
		{"OpenSSL p12 with encrypted certificates", fixture(t, "openssl.p12"), "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := false
			pw := Passwords{Candidates: func() ([][]byte, error) {
				asked = true
				return [][]byte{[]byte(escertPassword), []byte("fixture-pass-123")}, nil
			}}
			if tt.given != "" {
				pw.Given = given(tt.given).Given
			}
			r, err := File("f.p12", tt.data, pw, fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			if asked != tt.candidates || r.PKCS12.Unverified != tt.unverified {
				t.Errorf("candidates asked for: %v, Unverified = %v; want %v, %v", asked, r.PKCS12.Unverified, tt.candidates, tt.unverified)
			}
			if len(r.PKCS12.Keys) != 1 || r.PKCS12.Keys[0].Key != "ECDSA P-256" || len(r.PKCS12.Keys[0].Chain) != 1 {
				t.Errorf("key entries %+v, want one ECDSA P-256 entry with its certificate", r.PKCS12.Keys)
			}
		})
	}
}
