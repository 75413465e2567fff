package p12

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers from RFC 7292 (PKCS#12), RFC 8018 (PKCS#5), RFC 5652 (CMS), and
// Oracle's private arc for Java's trust attribute.
var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}

	oidKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidSafeContentsBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}

	oidFriendlyName = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	// oidJavaTrust is Java's ORACLE_TrustedKeyUsage: a certBag carrying it is a
	// trustedCertEntry (sun.security.pkcs12.PKCS12KeyStore).
	oidJavaTrust = asn1.ObjectIdentifier{2, 16, 840, 1, 113894, 746875, 1, 1}
	// oidAnyExtendedKeyUsage is the value Java writes into oidJavaTrust: trusted for
	// every purpose.
	oidAnyExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37, 0}

	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	// Legacy password-based encryption of RFC 7292 appendix C.
	oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd128BitRC2CBC     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHAAnd40BitRC2CBC      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
)

// nullParams is the DER NULL that OpenSSL and Java put in hash and HMAC algorithm
// identifiers.
var nullParams = []byte{0x05, 0x00}

// tagBMPString is the universal tag of BMPString, which cryptobyte does not name.
const tagBMPString = cbasn1.Tag(30)

var tagExplicit0 = cbasn1.Tag(0).ContextSpecific().Constructed()

// attribute is one DER-encoded PKCS12Attribute (RFC 7292 section 4.2).
type attribute []byte

func newAttribute(oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) attribute {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.BytesOrPanic()
}

// friendlyName is the alias Java and OpenSSL show for an entry. The alias has been
// checked by bmpString already.
func friendlyName(alias string) attribute {
	bmp, _ := bmpString(alias)
	return newAttribute(oidFriendlyName, func(b *cryptobyte.Builder) {
		b.AddASN1(tagBMPString, func(b *cryptobyte.Builder) { b.AddBytes(bmp) })
	})
}

func localKeyID(id []byte) attribute {
	return newAttribute(oidLocalKeyID, func(b *cryptobyte.Builder) { b.AddASN1OctetString(id) })
}

// javaTrust marks a certificate as trusted for any purpose, exactly as keytool
// -importcert does.
func javaTrust() attribute {
	return newAttribute(oidJavaTrust, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidAnyExtendedKeyUsage) })
}

// safeBag encodes a SafeBag. DER wants the attribute SET sorted by encoding.
func safeBag(bagID asn1.ObjectIdentifier, value func(*cryptobyte.Builder), attrs []attribute) []byte {
	attrs = slices.Clone(attrs)
	slices.SortFunc(attrs, func(a, b attribute) int { return bytes.Compare(a, b) })
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(bagID)
		b.AddASN1(tagExplicit0, value)
		if len(attrs) > 0 {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range attrs {
					b.AddBytes(a)
				}
			})
		}
	})
	return b.BytesOrPanic()
}

func certBag(cert *x509.Certificate, attrs []attribute) []byte {
	return safeBag(oidCertBag, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertBag
			b.AddASN1ObjectIdentifier(oidX509Certificate)
			b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(cert.Raw) })
		})
	}, attrs)
}

// safeContents encodes a SafeContents: SEQUENCE OF SafeBag.
func safeContents(bags ...[]byte) []byte { return sequence(bags...) }

// sequence wraps already-encoded elements in a SEQUENCE.
func sequence(elems ...[]byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, e := range elems {
			b.AddBytes(e)
		}
	})
	return b.BytesOrPanic()
}

// algorithmID encodes an AlgorithmIdentifier; params is already DER (nil: absent).
func algorithmID(oid asn1.ObjectIdentifier, params []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddBytes(params)
	})
	return b.BytesOrPanic()
}

// dataContentInfo encodes a CMS ContentInfo of type data around content.
func dataContentInfo(content []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidData)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(content) })
	})
	return b.BytesOrPanic()
}

func asn1Octets(v []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1OctetString(v)
	return b.BytesOrPanic()
}

func asn1Int(v int) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1Int64(int64(v))
	return b.BytesOrPanic()
}
