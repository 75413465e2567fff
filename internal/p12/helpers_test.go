package p12

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// testPassword has a space and punctuation so quoting mistakes would show; it is only
// ever handed to tools through files.
const testPassword = "s3cret pass-phrase!"

// wantEncryption is how Decode describes a file Encode writes with a key entry, and
// wantTrustEncryption one without: only the key is encrypted.
const (
	wantEncryption      = "keys: PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (2048 iterations); certificates: no encryption, MAC HMAC-SHA256 (2048 iterations)"
	wantTrustEncryption = "no encryption, MAC HMAC-SHA256 (2048 iterations)"
)

// pki is a CA, an optional intermediate and a leaf with their keys.
type pki struct {
	caKey, interKey, leafKey crypto.Signer
	ca, inter, leaf          *x509.Certificate
}

// notBefore is a fixed clock: the certificates do not depend on when tests run.
var notBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fixtures are generated once per test binary: RSA key generation is slow.
var fixtures = sync.OnceValue(func() map[string]*pki {
	return map[string]*pki{
		"EC":  newPKI("EC", func() crypto.Signer { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) }),
		"RSA": newPKI("RSA", func() crypto.Signer { return must(rsa.GenerateKey(rand.Reader, 2048)) }),
	}
})

func newPKI(name string, gen func() crypto.Signer) *pki {
	p := &pki{caKey: gen(), interKey: gen(), leafKey: gen()}
	p.ca = issue(&x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, p.caKey, p.caKey)
	p.inter = issue(&x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: name + " test intermediate"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, p.ca, p.caKey, p.interKey)
	p.leaf = issue(&x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "node-1"},
		DNSNames:     []string{"node-1.example"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, p.ca, p.caKey, p.leafKey)
	return p
}

func issue(tmpl, parent *x509.Certificate, parentKey, key crypto.Signer) *x509.Certificate {
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notBefore.AddDate(10, 0, 0)
	if parent == nil {
		parent = tmpl
	}
	return must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// keyEntry is the usual Elasticsearch node entry: leaf and CA.
func (p *pki) keyEntry(alias string) *KeyEntry {
	return &KeyEntry{Alias: alias, Key: p.leafKey, Chain: []*x509.Certificate{p.leaf, p.ca}}
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// passwordFile holds the password for -storepass:file and -passin file:, so that it
// never appears on a command line.
func passwordFile(t *testing.T, dir string) string {
	return writeFile(t, filepath.Join(dir, "password"), []byte(testPassword+"\n"))
}

func pemFile(t *testing.T, path, typ string, der []byte) string {
	return writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// legacyRefused checks, in FIPS 140-only mode, that Decode refused a file needing a
// non-approved algorithm, and reports whether the caller should stop there.
func legacyRefused(t *testing.T, err error) bool {
	t.Helper()
	if !fips140.Enforced() {
		return false
	}
	if !errors.Is(err, ErrNotApproved) {
		t.Fatalf("Decode in FIPS 140-only mode: got %v, want ErrNotApproved", err)
	}
	t.Logf("refused as expected in FIPS 140-only mode: %v", err)
	return true
}

func equalKeys(a, b crypto.PrivateKey) bool {
	k, ok := a.(interface{ Equal(crypto.PrivateKey) bool })
	return ok && k.Equal(b)
}

// withEncryptedCerts turns a file Encode wrote into the layout escert wrote before it
// stopped encrypting certificates (and Java and OpenSSL still write by default): the
// certificate safe PBES2-encrypted with password, and the MAC made anew over it.
func withEncryptedCerts(tb testing.TB, data []byte, password string) []byte {
	tb.Helper()
	e := encoder{rand: rand.Reader, iterations: Iterations}
	safes := safesOf(tb, data)
	last := cryptobyte.String(safes[len(safes)-1])
	var info, explicit, certs cryptobyte.String
	if !last.ReadASN1(&info, cbasn1.SEQUENCE) || !info.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!info.ReadASN1(&explicit, tagExplicit0) || !explicit.ReadASN1(&certs, cbasn1.OCTET_STRING) {
		tb.Fatal("the last safe is not a data safe")
	}
	alg, ct := must2(e.encrypt(password, certs))
	safes[len(safes)-1] = encryptedDataContentInfo(alg, ct)
	return must(e.pfx(must(kdfPassword(password)), safes...))
}

// safesOf returns the ContentInfo elements of a PFX's authenticated safe.
func safesOf(tb testing.TB, pfx []byte) [][]byte {
	tb.Helper()
	s := cryptobyte.String(authSafeOf(tb, pfx))
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		tb.Fatal("malformed AuthenticatedSafe")
	}
	var safes [][]byte
	for !seq.Empty() {
		var info cryptobyte.String
		if !seq.ReadASN1Element(&info, cbasn1.SEQUENCE) {
			tb.Fatal("malformed ContentInfo")
		}
		safes = append(safes, bytes.Clone(info))
	}
	return safes
}

// encryptedDataContentInfo encodes a CMS ContentInfo of type encryptedData (RFC 5652
// section 8) holding ciphertext of a data content encrypted with alg.
func encryptedDataContentInfo(alg, ciphertext []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidEncryptedData)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedData
				b.AddASN1Int64(0)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedContentInfo
					b.AddASN1ObjectIdentifier(oidData)
					b.AddBytes(alg)
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(ciphertext) })
				})
			})
		})
	})
	return b.BytesOrPanic()
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
