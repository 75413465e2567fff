// Package p12 writes and reads PKCS#12 files (RFC 7292) the way Java and
// Elasticsearch use them: one file that serves as both keystore and truststore.
//
// Encode writes what elasticsearch-certutil and Elasticsearch's auto-configuration
// produce: a private-key entry with an alias and its full chain, plus trusted-certificate
// entries that Java recognises as trust anchors. Everything on the write path is
// FIPS 140-3 approved (PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, HMAC-SHA256 MAC),
// so it works under GODEBUG=fips140=only. Only the private key is encrypted: the
// certificates are public, so they sit in a plain safe (as `openssl pkcs12 -export
// -certpbe NONE` and Java with keystore.pkcs12.certProtectionAlgorithm=NONE write them)
// and anyone can read a file's names and expiry dates without its password.
//
// Decode reads those files back, as well as files written by Java's keytool and by
// OpenSSL, including the legacy SHA-1/3DES/RC2 ones (refused with ErrNotApproved when
// FIPS 140-only mode is enforced). Certificates reads the certificates of a file whose
// certificates are not encrypted without the password and without deriving any key;
// what it returns is unauthenticated.
//
// go-pkcs12 is not used for writing: it cannot put a named key entry and trusted entries
// in one file, and its Encode derives localKeyId with SHA-1, which panics under
// fips140=only.
package p12

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/escert/escert/internal/fault"
)

// TrustedCert is a trusted-certificate entry: keytool lists it as "trustedCertEntry" and
// Java's TrustManagerFactory uses it as a trust anchor.
type TrustedCert struct {
	Alias string
	Cert  *x509.Certificate
}

// KeyEntry is a private-key entry (keytool's "PrivateKeyEntry"). Chain[0] is the
// certificate of Key; the following certificates are its issuers, in order.
type KeyEntry struct {
	Alias string
	Key   crypto.PrivateKey
	Chain []*x509.Certificate
}

// Contents is what Decode or Certificates found in a PKCS#12 file.
type Contents struct {
	// Keys are the private-key entries. Alias is empty when the file gives the key no
	// friendlyName (keytool then invents one, e.g. "1"). From Certificates, Key is nil
	// and Chain is empty when the key bag and the leaf share no localKeyId.
	Keys []KeyEntry
	// Trusted are the certificates carrying Java's trust attribute.
	Trusted []TrustedCert
	// Other are certificates that are neither in a key's chain nor trusted entries, e.g.
	// CA certificates added by `openssl pkcs12 -export -nokeys`. Java ignores them: a
	// file whose CA certificates all land here is no truststore for Elasticsearch.
	Other []*x509.Certificate
	// Encryption describes the protection of the file for humans, e.g.
	// "keys: PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256 (2048 iterations); certificates: no
	// encryption, MAC HMAC-SHA256 (2048 iterations)".
	Encryption string
	// Legacy reports that some part of the file uses a pre-PBES2 PKCS#12 algorithm
	// (SHA-1 MAC or key derivation, 3DES, RC2), none of which FIPS 140-3 approves.
	Legacy bool
	// Unverified reports that the contents come from Certificates: no key was decrypted
	// and the MAC was not checked, so nothing proves the file is what its writer made.
	Unverified bool
}

var (
	// ErrWrongPassword is returned by Decode when the integrity MAC does not verify
	// (RFC 7292 section 5), which in practice means the password is wrong.
	ErrWrongPassword = fault.Sentinel(fault.Input, "wrong PKCS#12 password")
	// ErrNotApproved is returned by Decode when FIPS 140-only mode is enforced and the
	// file needs an algorithm or parameter FIPS 140-3 does not approve (SHA-1, 3DES,
	// RC2, PBKDF2 salts shorter than 128 bits as OpenSSL writes them).
	ErrNotApproved = errors.New("PKCS#12 algorithm not approved in FIPS 140-only mode")
	// ErrUnsupported is returned by Decode for well-formed files using an algorithm or
	// structure this package does not implement (e.g. public-key integrity mode).
	ErrUnsupported = errors.New("unsupported PKCS#12 feature")
	// ErrEncrypted is returned by Certificates when a safe of the file is encrypted, so
	// its certificates cannot be read without the password (Java's and OpenSSL's
	// default files, and escert's before it stopped encrypting certificates): decode the
	// file with Decode and the password instead.
	ErrEncrypted = fault.Sentinel(fault.Input, "the certificates are encrypted: the password is needed to read them")
)

// Iterations is the PBKDF2 and MAC iteration count Encode uses. Iterations only slow
// down guessing a weak password; escert's p12 passwords are 24 random alphanumeric
// characters (about 142 bits), so it is the password's entropy, not the count, that
// protects the file, and every extra iteration is CPU spent by escert, Elasticsearch and
// every reader of the file. 2048 is OpenSSL 3's default (PKCS12_DEFAULT_ITER) and
// go-pkcs12's Modern2023, so every tool reads it as ordinary, and it is above the
// minimum of 1,000 that NIST SP 800-132 sets and FIPS 140-3 reviewers check for. Java's
// own default (10,000) would buy nothing for such a password.
const Iterations = 2048

// saltLen is the size of every salt Encode writes: 20 bytes like Java, above the
// 128 bits that SP 800-132 (and Go's fips140=only PBKDF2) require.
const saltLen = 20

// encoder holds the knobs Encode fixes; tests lower the iteration count for fuzz seeds.
type encoder struct {
	rand       io.Reader
	iterations int
}

// Encode writes a PKCS#12 file protected by password with one private-key entry (key
// may be nil for a truststore-only file) followed by the trusted entries: an
// unencrypted safe holding the PBES2-shrouded key, and an unencrypted safe holding the
// leaf, the rest of the chain and the trusted certificates, as Java writes with
// keystore.pkcs12.certProtectionAlgorithm=NONE and `openssl pkcs12 -export -certpbe
// NONE`. The certificates are public; leaving them unencrypted lets Certificates and
// other tools read them without the password and saves a key derivation on every load.
// The MAC over both safes still authenticates the file for whoever has the password.
// All salts and IVs come from rand (crypto/rand.Reader when nil).
// Encode writes no file: the caller should store the bytes with mode 0600, since they
// hold a private key protected only by the password.
//
// Aliases must be unique ignoring case, because Java lowercases aliases when it loads
// the file and a later entry would silently replace an earlier one.
func Encode(rand io.Reader, password string, key *KeyEntry, trusted []TrustedCert) ([]byte, error) {
	return encoder{rand: rand, iterations: Iterations}.encode(password, key, trusted)
}

func (e encoder) encode(password string, key *KeyEntry, trusted []TrustedCert) ([]byte, error) {
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if key == nil && len(trusted) == 0 {
		return nil, errors.New("encode PKCS#12: no key and no trusted certificates")
	}
	macPassword, err := kdfPassword(password)
	if err != nil {
		// Never echo the password itself.
		return nil, fmt.Errorf("encode PKCS#12: password: %w", err)
	}
	if err := checkEntries(key, trusted); err != nil {
		return nil, fmt.Errorf("encode PKCS#12: %w", err)
	}

	var safes [][]byte // ContentInfo elements of the AuthenticatedSafe
	var certBags [][]byte
	if key != nil {
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key.Key)
		if err != nil {
			return nil, fmt.Errorf("encode PKCS#12: key %q: %w", key.Alias, err)
		}
		// localKeyId only has to be equal on the key bag and the leaf's cert bag
		// (RFC 7292 section 4.2); SHA-256 keeps it FIPS-clean where the customary SHA-1
		// of the public key would panic.
		sum := sha256.Sum256(key.Chain[0].Raw)
		attrs := []attribute{friendlyName(key.Alias), localKeyID(sum[:20])}
		alg, ct, err := e.encrypt(password, pkcs8)
		if err != nil {
			return nil, fmt.Errorf("encode PKCS#12: key %q: %w", key.Alias, err)
		}
		keyBag := safeBag(oidShroudedKeyBag, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncryptedPrivateKeyInfo
				b.AddBytes(alg)
				b.AddASN1OctetString(ct)
			})
		}, attrs)
		safes = append(safes, dataContentInfo(safeContents(keyBag)))

		certBags = append(certBags, certBag(key.Chain[0], attrs))
		for _, c := range key.Chain[1:] {
			// Java writes the issuers without attributes and rebuilds the chain from
			// issuer names when it loads the file.
			certBags = append(certBags, certBag(c, nil))
		}
	}
	for _, t := range trusted {
		certBags = append(certBags, certBag(t.Cert, []attribute{friendlyName(t.Alias), javaTrust()}))
	}
	safes = append(safes, dataContentInfo(safeContents(certBags...)))
	return e.pfx(macPassword, safes...)
}

// pfx wraps safes (ContentInfo elements) in the AuthenticatedSafe of a PFX with its
// HMAC-SHA256 MacData (RFC 7292 sections 4 and 5.1). macPassword is the KDF input of
// kdfPassword.
func (e encoder) pfx(macPassword []byte, safes ...[]byte) ([]byte, error) {
	authSafe := sequence(safes...)
	macSalt := make([]byte, saltLen)
	if _, err := io.ReadFull(e.rand, macSalt); err != nil {
		return nil, fmt.Errorf("encode PKCS#12: MAC salt: %w", err)
	}
	mac := pkcs12MAC(sha256.New, sha256.BlockSize, macPassword, macSalt, e.iterations, authSafe)

	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PFX
		b.AddASN1Int64(3)
		b.AddBytes(dataContentInfo(authSafe))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // MacData
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // DigestInfo
				b.AddBytes(algorithmID(oidSHA256, nullParams))
				b.AddASN1OctetString(mac)
			})
			b.AddASN1OctetString(macSalt)
			b.AddASN1Int64(int64(e.iterations))
		})
	})
	return b.Bytes()
}

// checkEntries refuses input Java would load wrongly or not at all.
func checkEntries(key *KeyEntry, trusted []TrustedCert) error {
	seen := map[string]bool{}
	checkAlias := func(alias string) error {
		if alias == "" {
			return errors.New("empty alias")
		}
		if _, err := bmpString(alias); err != nil {
			return fmt.Errorf("alias %q: %w", alias, err)
		}
		// Java stores entries under strings.ToLower(alias) (Locale.ENGLISH).
		lower := strings.ToLower(alias)
		if seen[lower] {
			return fmt.Errorf("duplicate alias %q (Java compares aliases ignoring case)", alias)
		}
		seen[lower] = true
		return nil
	}
	if key != nil {
		if err := checkAlias(key.Alias); err != nil {
			return err
		}
		if len(key.Chain) == 0 || slices.Contains(key.Chain, nil) {
			return fmt.Errorf("key %q: missing certificate in chain", key.Alias)
		}
		signer, ok := key.Key.(crypto.Signer)
		if !ok {
			return fmt.Errorf("key %q: unsupported key type %T", key.Alias, key.Key)
		}
		pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(key.Chain[0].PublicKey) {
			return fmt.Errorf("key %q: certificate %q is not for this key", key.Alias, key.Chain[0].Subject)
		}
		for i := 1; i < len(key.Chain); i++ {
			// Java rebuilds the chain by issuer name; a gap would cut it short.
			if !bytes.Equal(key.Chain[i-1].RawIssuer, key.Chain[i].RawSubject) {
				return fmt.Errorf("key %q: chain[%d] %q did not issue chain[%d]", key.Alias, i, key.Chain[i].Subject, i-1)
			}
		}
	}
	for _, t := range trusted {
		if err := checkAlias(t.Alias); err != nil {
			return err
		}
		if t.Cert == nil {
			return fmt.Errorf("trusted %q: no certificate", t.Alias)
		}
	}
	return nil
}

// encrypt encrypts plaintext with PBES2 (RFC 8018): PBKDF2-HMAC-SHA256 and AES-256-CBC.
// It returns the DER AlgorithmIdentifier and the ciphertext. PBKDF2 gets the UTF-8
// bytes of the password, not the BMPString of the legacy PKCS#12 KDF: that is what
// Java (PBKDF2KeyImpl) and OpenSSL (PKCS5_PBKDF2_HMAC) feed it.
func (e encoder) encrypt(password string, plaintext []byte) (alg, ciphertext []byte, err error) {
	salt := make([]byte, saltLen)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(e.rand, salt); err != nil {
		return nil, nil, err
	}
	if _, err := io.ReadFull(e.rand, iv); err != nil {
		return nil, nil, err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, e.iterations, 32)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	ciphertext = append(slices.Clone(plaintext), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, ciphertext)

	// PBES2-params (RFC 8018 appendix A.4) with PBKDF2-params (A.2). keyLength is left
	// out, as OpenSSL does: the cipher fixes it.
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(algorithmID(oidPBKDF2, sequence(
			asn1Octets(salt),
			asn1Int(e.iterations),
			algorithmID(oidHMACWithSHA256, nullParams),
		)))
		b.AddBytes(algorithmID(oidAES256CBC, asn1Octets(iv)))
	})
	params, err := b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return algorithmID(oidPBES2, params), ciphertext, nil
}

// kdfPassword is the password input of the RFC 7292 appendix B KDF: the BMPString
// followed by two zero bytes (appendix B.1), as Java and OpenSSL compute it.
func kdfPassword(password string) ([]byte, error) {
	b, err := bmpString(password)
	if err != nil {
		return nil, err
	}
	return append(b, 0, 0), nil
}

// bmpString encodes s as a BMPString (UTF-16BE without surrogates), the password and
// friendlyName encoding of RFC 7292 appendix B.1.
func bmpString(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		if r > 0xFFFF || utf16.IsSurrogate(r) {
			return nil, errors.New("contains a character outside the Basic Multilingual Plane")
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out, nil
}
