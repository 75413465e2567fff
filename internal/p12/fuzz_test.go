package p12

import (
	"crypto/x509"
	"maps"
	mrand "math/rand/v2"
	"slices"
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
	f.Add(plainAuthSafe(ec, true))

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

// FuzzCertificates checks that Certificates never panics, keeps Decode's limits, and
// agrees with Decode wherever both read a file: as many key entries, the same trusted
// entries, and the same certificates in all. (A leaf that shares no localKeyId with its
// key is matched by Decode through the decrypted key, so Certificates counts it, and
// its issuers, among the others.) No MAC stops mutations here, so they reach the
// bag parsers directly.
func FuzzCertificates(f *testing.F) {
	ec := fixtures()["EC"]
	enc := encoder{rand: mrand.NewChaCha8([32]byte{}), iterations: 1}
	withKey := must(enc.encode(fuzzPassword, ec.keyEntry("node-1"), []TrustedCert{{"ca", ec.ca}}))
	for _, file := range [][]byte{
		withKey,
		must(enc.encode(fuzzPassword, nil, []TrustedCert{{"ca", ec.ca}})),
		withEncryptedCerts(f, withKey, fuzzPassword),
		// No MAC, a plain keyBag; without localKeyId only Decode finds the leaf.
		sequence(asn1Int(3), dataContentInfo(plainAuthSafe(ec, true))),
		sequence(asn1Int(3), dataContentInfo(plainAuthSafe(ec, false))),
	} {
		f.Add(file)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := certificates(data, fuzzLimits)
		if err != nil {
			return
		}
		checkWellFormed(t, c)
		d, err := decode(data, fuzzPassword, fuzzLimits)
		if err != nil {
			return
		}
		if len(c.Keys) != len(d.Keys) || !slices.EqualFunc(c.Trusted, d.Trusted, func(a, b TrustedCert) bool {
			return a.Alias == b.Alias && a.Cert.Equal(b.Cert)
		}) || !maps.Equal(allCerts(c), allCerts(d)) || c.Encryption != d.Encryption || c.Legacy != d.Legacy {
			t.Fatalf("Certificates and Decode disagree:\n%+v\n%+v", c, d)
		}
	})
}

// allCerts is the set of certificates in c, by DER.
func allCerts(c *Contents) map[string]bool {
	set := map[string]bool{}
	for _, t := range c.Trusted {
		set[string(t.Cert.Raw)] = true
	}
	for _, k := range c.Keys {
		for _, cert := range k.Chain {
			set[string(cert.Raw)] = true
		}
	}
	for _, cert := range c.Other {
		set[string(cert.Raw)] = true
	}
	return set
}

// plainAuthSafe is an authenticated safe without encryption, as some Windows and
// OpenSSL -keypbe NONE -certpbe NONE files have: a plain keyBag, the chain, and a trusted
// CA inside a nested safeContentsBag. Without keyID, key and leaf share only their alias
// (as some writers leave them).
func plainAuthSafe(p *pki, keyID bool) []byte {
	attrs := []attribute{friendlyName("node-1")}
	if keyID {
		attrs = append(attrs, localKeyID([]byte("Time 1735689600000"))) // a Java-style localKeyId
	}
	keyBag := safeBag(oidKeyBag, func(b *cryptobyte.Builder) {
		b.AddBytes(must(x509.MarshalPKCS8PrivateKey(p.leafKey)))
	}, attrs)
	nested := safeBag(oidSafeContentsBag, func(b *cryptobyte.Builder) {
		b.AddBytes(safeContents(certBag(p.ca, []attribute{friendlyName("ca"), javaTrust()})))
	}, nil)
	return sequence(dataContentInfo(safeContents(keyBag, certBag(p.leaf, attrs), certBag(p.ca, nil), nested)))
}

// checkWellFormed asserts what callers of Decode and Certificates rely on: no nil
// certificates, and a key in every entry exactly when the contents are verified.
func checkWellFormed(t *testing.T, c *Contents) {
	for _, k := range c.Keys {
		if (k.Key == nil) != c.Unverified {
			t.Fatalf("key entry with key %T from contents with Unverified = %v", k.Key, c.Unverified)
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
