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

func passwords(p ...string) Passwords {
	return func() ([][]byte, error) {
		var out [][]byte
		for _, s := range p {
			out = append(out, []byte(s))
		}
		return out, nil
	}
}

func TestFileRendersEachKindLikeTheGolden(t *testing.T) {
	cases := []struct {
		file      string
		passwords Passwords
		// notFIPS: the fixture uses what FIPS 140-only mode refuses (OpenSSL's 8-byte
		// PBKDF2 salts, an empty keystore password); there the refusal is the result.
		notFIPS string
	}{
		{"node.crt", nil, ""},
		{"node.der", nil, ""},
		{"node.key", nil, ""},
		{"openssl.p12", passwords("wrong", "fixture-pass-123"), "not approved in FIPS 140-only mode"},
		{"v5-s3-credentials.keystore", nil, "at least 14 bytes in FIPS 140-only mode"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			r, err := File(tc.file, fixture(t, tc.file), tc.passwords, fixedNow)
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
			golden.Check(t, filepath.Join("testdata", tc.file+".golden"), got)
		})
	}
}

func TestFileNeverShowsSecrets(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("the keystore fixture has an empty password, which fips140=only refuses")
	}
	ks, err := File("ks", fixture(t, "v5-s3-credentials.keystore"), nil, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	key, err := File("key", fixture(t, "node.key"), nil, fixedNow)
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
	if _, err := File("g", []byte("hello"), nil, fixedNow); err == nil || !strings.Contains(err.Error(), "not a certificate, key, PKCS#12 or elasticsearch.keystore") {
		t.Errorf("garbage: %v", err)
	}
	corrupt := fixture(t, "v5-s3-credentials.keystore")
	corrupt[len(corrupt)/2] ^= 1
	if _, err := File("k", corrupt, nil, fixedNow); !errors.Is(err, eskeystore.ErrCorrupted) {
		t.Errorf("corrupted keystore: %v", err)
	}
}

func FuzzFile(f *testing.F) {
	for _, name := range []string{"node.crt", "node.der", "node.key", "openssl.p12", "v5-s3-credentials.keystore"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := File("fuzz", data, passwords("fixture-pass-123"), fixedNow)
		if err == nil {
			Render(&bytes.Buffer{}, r)
		}
	})
}

func TestPEMWithAUTF8BOMReadsAsWithout(t *testing.T) {
	// Windows editors save PEM files with a byte order mark; openssl reads them.
	plain, err := File("node.crt", fixture(t, "node.crt"), nil, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := File("node.crt", append([]byte("\xef\xbb\xbf"), fixture(t, "node.crt")...), nil, fixedNow)
	if err != nil {
		t.Fatalf("a PEM file with a BOM: %v", err)
	}
	if len(bom.Certificates) != len(plain.Certificates) || len(bom.Certificates) == 0 {
		t.Errorf("%d certificates with a BOM, %d without", len(bom.Certificates), len(plain.Certificates))
	}
}
