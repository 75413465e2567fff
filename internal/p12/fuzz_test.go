package p12

import (
	"crypto/x509"
	mrand "math/rand/v2"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const fuzzPassword = "fuzz"

// fuzzLimits keep every execution fast: mutated iteration counts would otherwise spend
// seconds in legitimate key derivation and starve the fuzzer.
var fuzzLimits = limits{iterations: 64, work: 1024}

// FuzzDecode checks that Decode never panics, whatever the input. A MAC guards every
// real file, so mutations of one hardly get past it; the target therefore also feeds
// the input to the stage after the MAC, as an authenticated safe.
func FuzzDecode(f *testing.F) {
	ec := fixtures()["EC"]
	// One iteration keeps each execution fast; the structure is what matters.
	enc := encoder{rand: mrand.NewChaCha8([32]byte{}), iterations: 1}
	files := [][]byte{
		must(enc.encode(fuzzPassword, ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}})),
		must(enc.encode(fuzzPassword, nil, []TrustedCert{{"ca", ec.ca}})),
	}
	for _, file := range files {
		f.Add(file)
		f.Add(authSafeOf(f, file))
	}
	// Unencrypted bags reach the bag and attribute parsers without a working cipher.
	f.Add(plainAuthSafe(ec))

	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := decode(data, fuzzPassword, fuzzLimits); err == nil {
			checkWellFormed(t, c)
		}
		d, err := newDecoder(fuzzPassword, fuzzLimits)
		if err != nil {
			t.Fatal(err)
		}
		if d.readAuthSafe(data) == nil {
			checkWellFormed(t, d.contents())
		}
	})
}

// plainAuthSafe is an authenticated safe without encryption, as some Windows and
// OpenSSL -keypbe NONE -certpbe NONE files have: a plain keyBag, the chain, and a trusted
// CA inside a nested safeContentsBag.
func plainAuthSafe(p *pki) []byte {
	id := []byte("Time 1735689600000") // a Java-style localKeyId
	attrs := []attribute{friendlyName("node-1"), localKeyID(id)}
	keyBag := safeBag(oidKeyBag, func(b *cryptobyte.Builder) {
		b.AddBytes(must(x509.MarshalPKCS8PrivateKey(p.leafKey)))
	}, attrs)
	nested := safeBag(oidSafeContentsBag, func(b *cryptobyte.Builder) {
		b.AddBytes(safeContents(certBag(p.ca, []attribute{friendlyName("ca"), javaTrust()})))
	}, nil)
	return sequence(dataContentInfo(safeContents(keyBag, certBag(p.leaf, attrs), certBag(p.ca, nil), nested)))
}

// checkWellFormed asserts what callers of Decode rely on: no nil certificates or keys.
func checkWellFormed(t *testing.T, c *Contents) {
	for _, k := range c.Keys {
		if k.Key == nil {
			t.Fatal("key entry without key")
		}
		for _, cert := range k.Chain {
			if cert == nil {
				t.Fatal("nil certificate in chain")
			}
		}
	}
	for _, tc := range c.Trusted {
		if tc.Cert == nil {
			t.Fatal("trusted entry without certificate")
		}
	}
}

// authSafeOf extracts the content of a PFX's authSafe.
func authSafeOf(tb testing.TB, pfx []byte) []byte {
	s := cryptobyte.String(pfx)
	var seq, info, explicit, octets cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.SkipASN1(cbasn1.INTEGER) ||
		!seq.ReadASN1(&info, cbasn1.SEQUENCE) || !info.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!info.ReadASN1(&explicit, tagExplicit0) || !explicit.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		tb.Fatal("cannot extract authSafe")
	}
	return octets
}
