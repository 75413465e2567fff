package p12

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits that keep Decode and Certificates cheap and panic-free on hostile input.
const (
	maxInputLen = 16 << 20
	maxDepth    = 4  // nested safeContentsBags
	maxChain    = 10 // certificates followed from a leaf
)

// limits bound the key-derivation work one file may ask for.
type limits struct {
	iterations int64 // per derivation
	work       int64 // per file: iterations times hash blocks, summed
}

// defaultLimits follow Java: no file a JVM can load needs more than
// PKCS12KeyStore.MAX_ITERATION_COUNT (5,000,000) iterations, and the per-file total stops
// many encrypted bags from multiplying that into minutes of CPU.
var defaultLimits = limits{iterations: 5_000_000, work: 20_000_000}

// errDecrypt is a padding failure after decryption: a wrong password when the file has
// no MAC, a corrupt file otherwise.
var errDecrypt = errors.New("decryption failed")

// hashAlg names a hash for the KDFs and MACs Decode accepts.
type hashAlg struct {
	name   string
	new    func() hash.Hash
	block  int  // v of RFC 7292 appendix B
	legacy bool // not approved by FIPS 140-3 for these uses
}

var (
	sha1Alg   = hashAlg{"SHA1", sha1.New, sha1.BlockSize, true}
	sha224Alg = hashAlg{"SHA224", sha256.New224, sha256.BlockSize, false}
	sha256Alg = hashAlg{"SHA256", sha256.New, sha256.BlockSize, false}
	sha384Alg = hashAlg{"SHA384", sha512.New384, sha512.BlockSize, false}
	sha512Alg = hashAlg{"SHA512", sha512.New, sha512.BlockSize, false}
)

// digestAlg maps the digest of a classic MacData (RFC 7292 section 5.1).
func digestAlg(oid asn1.ObjectIdentifier) (hashAlg, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return sha1Alg, true
	case oid.Equal(oidSHA224):
		return sha224Alg, true
	case oid.Equal(oidSHA256):
		return sha256Alg, true
	case oid.Equal(oidSHA384):
		return sha384Alg, true
	case oid.Equal(oidSHA512):
		return sha512Alg, true
	}
	return hashAlg{}, false
}

// hmacAlg maps the PRF of PBKDF2 and the MAC of PBMAC1 (RFC 8018 appendix B.1).
func hmacAlg(oid asn1.ObjectIdentifier) (hashAlg, bool) {
	switch {
	case oid.Equal(oidHMACWithSHA1):
		return sha1Alg, true
	case oid.Equal(oidHMACWithSHA224):
		return sha224Alg, true
	case oid.Equal(oidHMACWithSHA256):
		return sha256Alg, true
	case oid.Equal(oidHMACWithSHA384):
		return sha384Alg, true
	case oid.Equal(oidHMACWithSHA512):
		return sha512Alg, true
	}
	return hashAlg{}, false
}

// decoder carries the state of one Decode or Certificates call.
type decoder struct {
	password    string
	kdfPassword []byte // for the RFC 7292 appendix B KDF
	// certsOnly is Certificates' mode: every structure and parameter is read and
	// checked as Decode does, but no key is derived, so no MAC is verified, no key
	// decrypted, and an encrypted safe ends the walk with ErrEncrypted.
	certsOnly bool
	hasMAC    bool
	limits    limits
	work      int64 // KDF work left
	legacy    bool
	keyEnc    []string // distinct descriptions of key protection
	certEnc   []string // distinct descriptions of certificate protection
	bags      []bag
}

// bag is one key or certificate bag with its attributes.
type bag struct {
	alias      string
	localKeyID []byte
	trusted    bool
	isKey      bool              // a keyBag or pkcs8ShroudedKeyBag
	key        crypto.PrivateKey // nil in certsOnly mode
	cert       *x509.Certificate
}

// Decode reads a PKCS#12 file: what Encode writes, Java keytool files (PBES2 or the
// legacy algorithms), OpenSSL files with or without -legacy, and PBMAC1 files. It
// verifies the MAC first: errors.Is(err, ErrWrongPassword) when it does not match. A
// file without MAC proves nothing about the password: a wrong one shows only when
// decryption fails (also reported as ErrWrongPassword). Public-key integrity and
// privacy modes, and BER-only encodings, are refused; in FIPS 140-only mode, any
// non-approved algorithm with ErrNotApproved. Errors never contain the password.
func Decode(data []byte, password string) (*Contents, error) {
	c, err := decode(data, password, defaultLimits)
	if err != nil {
		return nil, fmt.Errorf("decode PKCS#12: %w", err)
	}
	return c, nil
}

func decode(data []byte, password string, lim limits) (*Contents, error) {
	d, err := newDecoder(password, lim)
	if err != nil {
		return nil, err
	}
	return d.read(data)
}

// Certificates reads the certificates of a PKCS#12 file without its password: the key
// entries with their aliases and chains (the leaf found by the localKeyId it shares
// with the key bag, whose attributes are not encrypted) but Key nil, the trusted
// entries and the other certificates, as Decode returns them, and Encryption as the
// file's algorithm identifiers describe it. It derives no key: the MAC is NOT verified
// and Unverified is set, so the result is unauthenticated. It is good for showing
// names and expiry dates, not for deciding what to trust. When a safe of the file is
// encrypted (Java's and OpenSSL's defaults), the error wraps ErrEncrypted and the
// caller needs Decode with the password. But for the MAC, Certificates refuses what
// Decode refuses (non-approved algorithms in FIPS 140-only mode included), under the
// same resource limits.
func Certificates(data []byte) (*Contents, error) {
	c, err := certificates(data, defaultLimits)
	if err != nil {
		return nil, fmt.Errorf("read PKCS#12 certificates: %w", err)
	}
	return c, nil
}

func certificates(data []byte, lim limits) (*Contents, error) {
	d := &decoder{certsOnly: true, limits: lim, work: lim.work}
	return d.read(data)
}

// read walks a PFX (RFC 7292 section 4): the MAC first, then the authenticated safe.
func (d *decoder) read(data []byte) (*Contents, error) {
	if len(data) > maxInputLen {
		return nil, fmt.Errorf("file of %d bytes is larger than %d", len(data), maxInputLen)
	}
	input := cryptobyte.String(data)
	var pfx, authSafeInfo, macData cryptobyte.String
	var version int64
	if !input.ReadASN1(&pfx, cbasn1.SEQUENCE) || !input.Empty() ||
		!pfx.ReadASN1Integer(&version) ||
		!pfx.ReadASN1(&authSafeInfo, cbasn1.SEQUENCE) ||
		!pfx.ReadOptionalASN1(&macData, &d.hasMAC, cbasn1.SEQUENCE) || !pfx.Empty() {
		return nil, errors.New("not a DER-encoded PKCS#12 file")
	}
	if version != 3 {
		return nil, fmt.Errorf("%w: PFX version %d", ErrUnsupported, version)
	}
	var oid asn1.ObjectIdentifier
	var explicit, authSafe cryptobyte.String
	if !authSafeInfo.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed("authSafe")
	}
	if !oid.Equal(oidData) {
		return nil, fmt.Errorf("%w: authSafe of type %s (public-key integrity mode)", ErrUnsupported, oid)
	}
	if !authSafeInfo.ReadASN1(&explicit, tagExplicit0) || !authSafeInfo.Empty() ||
		!explicit.ReadASN1(&authSafe, cbasn1.OCTET_STRING) || !explicit.Empty() {
		return nil, malformed("authSafe")
	}

	macDesc := "no MAC"
	if d.hasMAC {
		var err error
		if macDesc, err = d.verifyMAC(macData, authSafe); err != nil {
			return nil, err
		}
	}
	if err := d.readAuthSafe(authSafe); err != nil {
		return nil, err
	}
	c := d.contents()
	c.Encryption = describe(d.keyEnc, d.certEnc) + ", " + macDesc
	return c, nil
}

// readOptionalInt reads an INTEGER if one comes next, else sets def (for DEFAULT and
// OPTIONAL integers; cryptobyte's ReadOptionalASN1Integer is for EXPLICIT tags).
func readOptionalInt(s *cryptobyte.String, out *int64, def int64) bool {
	if !s.PeekASN1Tag(cbasn1.INTEGER) {
		*out = def
		return true
	}
	return s.ReadASN1Integer(out)
}

func newDecoder(password string, lim limits) (*decoder, error) {
	kdfPw, err := kdfPassword(password)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	return &decoder{password: password, kdfPassword: kdfPw, limits: lim, work: lim.work}, nil
}

func malformed(what string) error { return fmt.Errorf("malformed %s", what) }

// notApproved refuses a legacy algorithm when FIPS 140-only mode is enforced, before Go's
// crypto packages panic on it.
func notApproved(what string) error {
	if fips140.Enforced() {
		return fmt.Errorf("%w: %s", ErrNotApproved, what)
	}
	return nil
}

// spend charges a key derivation of iterations against the file's budget.
func (d *decoder) spend(iterations int64, blocks int) error {
	if iterations < 1 || iterations > d.limits.iterations {
		return fmt.Errorf("%w: %d KDF iterations (Java accepts 1 to %d)", ErrUnsupported, iterations, d.limits.iterations)
	}
	d.work -= iterations * int64(blocks)
	if d.work < 0 {
		return fmt.Errorf("%w: more than %d KDF iterations in total", ErrUnsupported, d.limits.work)
	}
	return nil
}

// verifyMAC checks the MacData (RFC 7292 section 5.1, or PBMAC1 of RFC 9579) over the
// content of authSafe and describes it; in certsOnly mode it only describes it.
func (d *decoder) verifyMAC(macData cryptobyte.String, message []byte) (string, error) {
	var digestInfo, alg, digest, salt cryptobyte.String
	var oid asn1.ObjectIdentifier
	var iterations int64
	if !macData.ReadASN1(&digestInfo, cbasn1.SEQUENCE) ||
		!digestInfo.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) ||
		!digestInfo.ReadASN1(&digest, cbasn1.OCTET_STRING) || !digestInfo.Empty() ||
		!macData.ReadASN1(&salt, cbasn1.OCTET_STRING) ||
		!readOptionalInt(&macData, &iterations, 1) || !macData.Empty() {
		return "", malformed("MacData")
	}

	if oid.Equal(oidPBMAC1) {
		return d.verifyPBMAC1(alg, message, digest)
	}
	h, ok := digestAlg(oid)
	if !ok {
		return "", fmt.Errorf("%w: MAC digest %s", ErrUnsupported, oid)
	}
	if h.legacy {
		if err := notApproved("HMAC-" + h.name + " MAC"); err != nil {
			return "", err
		}
		d.legacy = true
	}
	if err := d.spend(iterations, 1); err != nil {
		return "", err
	}
	desc := fmt.Sprintf("MAC HMAC-%s (%s)", h.name, plural(iterations, "iteration"))
	if d.certsOnly {
		return desc, nil
	}
	mac := pkcs12MAC(h.new, h.block, d.kdfPassword, salt, int(iterations), message)
	if !hmac.Equal(mac, digest) {
		// OpenSSL tries an absent password as well as an empty one (RFC 7292 leaves the
		// empty password's encoding open); so do we.
		if d.password != "" || !hmac.Equal(pkcs12MAC(h.new, h.block, nil, salt, int(iterations), message), digest) {
			return "", ErrWrongPassword
		}
		d.kdfPassword = nil
	}
	return desc, nil
}

// verifyPBMAC1 checks a PBMAC1 MAC (RFC 9579): HMAC keyed by PBKDF2 over the UTF-8
// password. params holds the AlgorithmIdentifier's parameters.
func (d *decoder) verifyPBMAC1(params cryptobyte.String, message, digest []byte) (string, error) {
	var seq, kdf, macAlg cryptobyte.String
	var kdfOID, macOID asn1.ObjectIdentifier
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) || !params.Empty() ||
		!seq.ReadASN1(&kdf, cbasn1.SEQUENCE) || !kdf.ReadASN1ObjectIdentifier(&kdfOID) ||
		!seq.ReadASN1(&macAlg, cbasn1.SEQUENCE) || !macAlg.ReadASN1ObjectIdentifier(&macOID) || !seq.Empty() {
		return "", malformed("PBMAC1 parameters")
	}
	if !kdfOID.Equal(oidPBKDF2) {
		return "", fmt.Errorf("%w: PBMAC1 key derivation %s", ErrUnsupported, kdfOID)
	}
	h, ok := hmacAlg(macOID)
	if !ok {
		return "", fmt.Errorf("%w: PBMAC1 MAC %s", ErrUnsupported, macOID)
	}
	if h.legacy {
		if err := notApproved("PBMAC1 HMAC-SHA1"); err != nil {
			return "", err
		}
		d.legacy = true
	}
	key, kdfDesc, err := d.pbkdf2(kdf, 0)
	if err != nil {
		return "", err
	}
	desc := fmt.Sprintf("MAC PBMAC1 HMAC-%s, %s", h.name, kdfDesc)
	if d.certsOnly {
		return desc, nil
	}
	mac := hmac.New(h.new, key)
	mac.Write(message)
	if !hmac.Equal(mac.Sum(nil), digest) {
		return "", ErrWrongPassword
	}
	return desc, nil
}

// pbkdf2 derives a key from PBKDF2-params (RFC 8018 appendix A.2) and describes it; in
// certsOnly mode the key is nil. keyLen 0 takes the length from the parameters, as
// PBMAC1 requires.
func (d *decoder) pbkdf2(params cryptobyte.String, keyLen int) ([]byte, string, error) {
	var p, salt, prf cryptobyte.String
	var iterations, paramLen int64
	var hasPRF bool
	if !params.ReadASN1(&p, cbasn1.SEQUENCE) || !params.Empty() ||
		!p.ReadASN1(&salt, cbasn1.OCTET_STRING) || !p.ReadASN1Integer(&iterations) ||
		!readOptionalInt(&p, &paramLen, 0) ||
		!p.ReadOptionalASN1(&prf, &hasPRF, cbasn1.SEQUENCE) || !p.Empty() {
		return nil, "", malformed("PBKDF2 parameters")
	}
	switch {
	case keyLen == 0 && (paramLen < 16 || paramLen > 64):
		return nil, "", fmt.Errorf("%w: PBKDF2 key length %d", ErrUnsupported, paramLen)
	case keyLen == 0:
		keyLen = int(paramLen)
	case paramLen != 0 && paramLen != int64(keyLen):
		return nil, "", malformed("PBKDF2 key length")
	}
	h := sha1Alg // RFC 8018: the PRF defaults to hmacWithSHA1
	if hasPRF {
		var oid asn1.ObjectIdentifier
		var ok bool
		if !prf.ReadASN1ObjectIdentifier(&oid) {
			return nil, "", malformed("PBKDF2 PRF")
		}
		if h, ok = hmacAlg(oid); !ok {
			return nil, "", fmt.Errorf("%w: PBKDF2 PRF %s", ErrUnsupported, oid)
		}
	}
	if h.legacy {
		if err := notApproved("PBKDF2-HMAC-SHA1"); err != nil {
			return nil, "", err
		}
		d.legacy = true
	}
	// SP 800-132 wants 128-bit salts; OpenSSL writes 8 bytes. Say so before
	// crypto/pbkdf2 refuses with a message that does not name the file's fault.
	if len(salt) < 16 {
		if err := notApproved(fmt.Sprintf("PBKDF2 salt of %d bytes (FIPS 140-3 needs 16 or more)", len(salt))); err != nil {
			return nil, "", err
		}
	}
	size := h.new().Size()
	if err := d.spend(iterations, (keyLen+size-1)/size); err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("PBKDF2-HMAC-%s (%s)", h.name, plural(iterations, "iteration"))
	if d.certsOnly {
		return nil, desc, nil
	}
	key, err := pbkdf2.Key(h.new, d.password, salt, int(iterations), keyLen)
	if err != nil {
		return nil, "", err
	}
	return key, desc, nil
}

// decrypt decrypts ciphertext with the password-based scheme in alg (the contents of an
// AlgorithmIdentifier) and describes the scheme; in certsOnly mode it checks the
// scheme and returns no plaintext. It never writes to ciphertext.
func (d *decoder) decrypt(alg cryptobyte.String, ciphertext []byte) ([]byte, string, error) {
	var oid asn1.ObjectIdentifier
	if !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, "", malformed("encryption algorithm")
	}
	if oid.Equal(oidPBES2) {
		return d.decryptPBES2(alg, ciphertext)
	}

	// Legacy PBE of RFC 7292 appendix C: key and IV from the appendix B KDF with SHA-1.
	var name string
	var keyLen int
	switch {
	case oid.Equal(oidPBEWithSHAAnd3KeyTripleDESCBC):
		name, keyLen = "PBE-SHA1-3DES", 24
	case oid.Equal(oidPBEWithSHAAnd128BitRC2CBC):
		name, keyLen = "PBE-SHA1-RC2-128", 16
	case oid.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		name, keyLen = "PBE-SHA1-RC2-40", 5
	default:
		return nil, "", fmt.Errorf("%w: encryption %s", ErrUnsupported, oid)
	}
	if err := notApproved(name); err != nil {
		return nil, "", err
	}
	d.legacy = true
	var params, salt cryptobyte.String
	var iterations int64
	if !alg.ReadASN1(&params, cbasn1.SEQUENCE) || !alg.Empty() ||
		!params.ReadASN1(&salt, cbasn1.OCTET_STRING) || !params.ReadASN1Integer(&iterations) || !params.Empty() {
		return nil, "", malformed(name + " parameters")
	}
	if err := d.spend(iterations, 3); err != nil { // two SHA-1 blocks of key, one of IV
		return nil, "", err
	}
	if err := checkBlocks(ciphertext, 8); err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("%s (%s)", name, plural(iterations, "iteration"))
	if d.certsOnly {
		return nil, desc, nil
	}
	key := pkcs12KDF(sha1.New, sha1.BlockSize, d.kdfPassword, salt, int(iterations), kdfKey, keyLen)
	iv := pkcs12KDF(sha1.New, sha1.BlockSize, d.kdfPassword, salt, int(iterations), kdfIV, 8)
	plaintext := slices.Clone(ciphertext)
	if keyLen == 24 {
		block, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil, "", err
		}
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plaintext, plaintext)
	} else {
		rc2CBCDecrypt(newRC2(key, 8*keyLen), iv, plaintext)
	}
	plaintext, err := d.unpad(plaintext, 8)
	return plaintext, desc, err
}

// decryptPBES2 handles PBES2 (RFC 8018 section 6.2) with PBKDF2 and AES-CBC, which is
// what Java 12+ and OpenSSL 3 write by default.
func (d *decoder) decryptPBES2(alg cryptobyte.String, ciphertext []byte) ([]byte, string, error) {
	var params, kdf, scheme, iv cryptobyte.String
	var kdfOID, schemeOID asn1.ObjectIdentifier
	if !alg.ReadASN1(&params, cbasn1.SEQUENCE) || !alg.Empty() ||
		!params.ReadASN1(&kdf, cbasn1.SEQUENCE) || !kdf.ReadASN1ObjectIdentifier(&kdfOID) ||
		!params.ReadASN1(&scheme, cbasn1.SEQUENCE) || !scheme.ReadASN1ObjectIdentifier(&schemeOID) || !params.Empty() {
		return nil, "", malformed("PBES2 parameters")
	}
	if !kdfOID.Equal(oidPBKDF2) {
		return nil, "", fmt.Errorf("%w: PBES2 key derivation %s", ErrUnsupported, kdfOID)
	}
	var keyLen int
	switch {
	case schemeOID.Equal(oidAES128CBC):
		keyLen = 16
	case schemeOID.Equal(oidAES192CBC):
		keyLen = 24
	case schemeOID.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, "", fmt.Errorf("%w: PBES2 encryption %s", ErrUnsupported, schemeOID)
	}
	if !scheme.ReadASN1(&iv, cbasn1.OCTET_STRING) || !scheme.Empty() || len(iv) != aes.BlockSize {
		return nil, "", malformed("PBES2 IV")
	}
	key, kdfDesc, err := d.pbkdf2(kdf, keyLen)
	if err != nil {
		return nil, "", err
	}
	if err := checkBlocks(ciphertext, aes.BlockSize); err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("PBES2 AES-%d-CBC, %s", 8*keyLen, kdfDesc)
	if d.certsOnly {
		return nil, desc, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", err
	}
	plaintext := slices.Clone(ciphertext)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plaintext, plaintext)
	plaintext, err = d.unpad(plaintext, aes.BlockSize)
	return plaintext, desc, err
}

func checkBlocks(ciphertext []byte, size int) error {
	if len(ciphertext) == 0 || len(ciphertext)%size != 0 {
		return malformed("ciphertext length")
	}
	return nil
}

// unpad strips the PKCS#5 padding (RFC 8018 section 6.1.1) that every PKCS#12 cipher
// uses. Without a MAC, bad padding is the only sign of a wrong password.
func (d *decoder) unpad(p []byte, size int) ([]byte, error) {
	n := int(p[len(p)-1])
	if n == 0 || n > size || n > len(p) || !bytes.Equal(p[len(p)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		if !d.hasMAC {
			return nil, fmt.Errorf("%w (%w)", ErrWrongPassword, errDecrypt)
		}
		return nil, errDecrypt
	}
	return p[:len(p)-n], nil
}

// readAuthSafe walks the AuthenticatedSafe: a SEQUENCE OF ContentInfo, each plain data
// or password-encrypted data (RFC 7292 section 4.1).
func (d *decoder) readAuthSafe(authSafe []byte) error {
	s := cryptobyte.String(authSafe)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return malformed("AuthenticatedSafe")
	}
	for !seq.Empty() {
		var info, explicit, content cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&oid) ||
			!info.ReadASN1(&explicit, tagExplicit0) || !info.Empty() {
			return malformed("ContentInfo")
		}
		switch {
		case oid.Equal(oidData):
			if !explicit.ReadASN1(&content, cbasn1.OCTET_STRING) || !explicit.Empty() {
				return malformed("data ContentInfo")
			}
			if err := d.readSafeContents(content, "", 0); err != nil {
				return err
			}
		case oid.Equal(oidEncryptedData):
			var ed, eci, alg cryptobyte.String
			var version int64
			var contentType asn1.ObjectIdentifier
			var ciphertext []byte
			// EncryptedData (RFC 5652 section 8); a trailing unprotectedAttrs is ignored.
			if !explicit.ReadASN1(&ed, cbasn1.SEQUENCE) || !explicit.Empty() ||
				!ed.ReadASN1Integer(&version) || !ed.ReadASN1(&eci, cbasn1.SEQUENCE) ||
				!eci.ReadASN1ObjectIdentifier(&contentType) || !eci.ReadASN1(&alg, cbasn1.SEQUENCE) ||
				!eci.ReadASN1Bytes(&ciphertext, cbasn1.Tag(0).ContextSpecific()) || !eci.Empty() {
				return malformed("EncryptedData")
			}
			if d.certsOnly {
				// Only the password opens this safe; say so rather than guess what is in it.
				return ErrEncrypted
			}
			plaintext, desc, err := d.decrypt(alg, ciphertext)
			if err != nil {
				return fmt.Errorf("encrypted safe: %w", err)
			}
			if err := d.readSafeContents(plaintext, desc, 0); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: safe of type %s (public-key privacy mode)", ErrUnsupported, oid)
		}
	}
	return nil
}

// readSafeContents reads the bags of one SafeContents; enc describes the encryption of
// the enclosing safe ("" when none).
func (d *decoder) readSafeContents(data []byte, enc string, depth int) error {
	if depth > maxDepth {
		return malformed("SafeContents (nested too deep)")
	}
	if enc == "" {
		enc = "no encryption"
	}
	s := cryptobyte.String(data)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return malformed("SafeContents")
	}
	for !seq.Empty() {
		var sb, value, attrs cryptobyte.String
		var oid asn1.ObjectIdentifier
		var hasAttrs bool
		if !seq.ReadASN1(&sb, cbasn1.SEQUENCE) || !sb.ReadASN1ObjectIdentifier(&oid) ||
			!sb.ReadASN1(&value, tagExplicit0) ||
			!sb.ReadOptionalASN1(&attrs, &hasAttrs, cbasn1.SET) || !sb.Empty() {
			return malformed("SafeBag")
		}
		b, err := readAttributes(attrs)
		if err != nil {
			return err
		}
		switch {
		case oid.Equal(oidKeyBag):
			var pki cryptobyte.String
			if !value.ReadASN1Element(&pki, cbasn1.SEQUENCE) || !value.Empty() {
				return malformed("keyBag")
			}
			b.isKey = true
			if !d.certsOnly {
				if b.key, err = x509.ParsePKCS8PrivateKey(pki); err != nil {
					return fmt.Errorf("key %q: %w", b.alias, err)
				}
			}
			d.keyEnc = addDistinct(d.keyEnc, enc)
		case oid.Equal(oidShroudedKeyBag):
			var epki, alg cryptobyte.String
			var ciphertext []byte
			if !value.ReadASN1(&epki, cbasn1.SEQUENCE) || !value.Empty() ||
				!epki.ReadASN1(&alg, cbasn1.SEQUENCE) ||
				!epki.ReadASN1Bytes(&ciphertext, cbasn1.OCTET_STRING) || !epki.Empty() {
				return malformed("pkcs8ShroudedKeyBag")
			}
			pkcs8, desc, err := d.decrypt(alg, ciphertext)
			if err != nil {
				return fmt.Errorf("key %q: %w", b.alias, err)
			}
			b.isKey = true
			if !d.certsOnly {
				if b.key, err = x509.ParsePKCS8PrivateKey(pkcs8); err != nil {
					return fmt.Errorf("key %q: %w", b.alias, err)
				}
			}
			d.keyEnc = addDistinct(d.keyEnc, desc)
		case oid.Equal(oidCertBag):
			var cb, certValue cryptobyte.String
			var certType asn1.ObjectIdentifier
			var der []byte
			if !value.ReadASN1(&cb, cbasn1.SEQUENCE) || !value.Empty() ||
				!cb.ReadASN1ObjectIdentifier(&certType) || !cb.ReadASN1(&certValue, tagExplicit0) || !cb.Empty() {
				return malformed("certBag")
			}
			if !certType.Equal(oidX509Certificate) {
				continue // SDSI certificates: nothing Java or Elasticsearch uses
			}
			if !certValue.ReadASN1Bytes(&der, cbasn1.OCTET_STRING) || !certValue.Empty() {
				return malformed("certBag")
			}
			if b.cert, err = x509.ParseCertificate(der); err != nil {
				return fmt.Errorf("certificate %q: %w", b.alias, err)
			}
			d.certEnc = addDistinct(d.certEnc, enc)
		case oid.Equal(oidSafeContentsBag):
			var inner cryptobyte.String
			if !value.ReadASN1Element(&inner, cbasn1.SEQUENCE) || !value.Empty() {
				return malformed("safeContentsBag")
			}
			if err := d.readSafeContents(inner, enc, depth+1); err != nil {
				return err
			}
			continue
		default:
			continue // CRL and secret bags: RFC 7292 lets applications skip them
		}
		d.bags = append(d.bags, b)
	}
	return nil
}

// readAttributes reads the bag attributes Java and OpenSSL use; others are ignored.
func readAttributes(attrs cryptobyte.String) (bag, error) {
	var b bag
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return b, malformed("bag attribute")
		}
		switch {
		case oid.Equal(oidFriendlyName):
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !values.ReadAnyASN1(&v, &tag) {
				return b, malformed("friendlyName")
			}
			switch tag {
			case tagBMPString:
				name, err := decodeBMPString(v)
				if err != nil {
					return b, err
				}
				b.alias = name
			case cbasn1.UTF8String:
				b.alias = strings.ToValidUTF8(string(v), "\uFFFD")
			default:
				return b, malformed("friendlyName")
			}
		case oid.Equal(oidLocalKeyID):
			var id cryptobyte.String
			if !values.ReadASN1(&id, cbasn1.OCTET_STRING) {
				return b, malformed("localKeyId")
			}
			b.localKeyID = id
		case oid.Equal(oidJavaTrust):
			b.trusted = true
		}
	}
	return b, nil
}

func decodeBMPString(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", malformed("BMPString")
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	// Some writers include the terminating NUL of a C string.
	if n := len(u); n > 0 && u[n-1] == 0 {
		u = u[:n-1]
	}
	return string(utf16.Decode(u)), nil
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func addDistinct(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// describe summarises key and certificate protection in one phrase.
func describe(keyEnc, certEnc []string) string {
	keys, certs := strings.Join(keyEnc, " / "), strings.Join(certEnc, " / ")
	switch {
	case keys == "" && certs == "":
		return "empty"
	case keys == "" || keys == certs:
		return certs
	case certs == "":
		return keys
	default:
		return "keys: " + keys + "; certificates: " + certs
	}
}

// contents matches keys with their certificates the way Java does: the leaf by
// localKeyId (falling back to the public key for writers that omit it, which needs the
// decrypted key), the issuers by subject name.
func (d *decoder) contents() *Contents {
	c := &Contents{Legacy: d.legacy, Unverified: d.certsOnly}
	var certs []bag
	for _, b := range d.bags {
		if b.cert != nil {
			certs = append(certs, b)
		}
	}
	inChain := map[string]bool{}
	for _, k := range d.bags {
		if !k.isKey {
			continue
		}
		entry := KeyEntry{Alias: k.alias, Key: k.key}
		leaf := findLeaf(k, certs)
		for cur := leaf; cur != nil && len(entry.Chain) < maxChain; {
			entry.Chain = append(entry.Chain, cur.cert)
			inChain[string(cur.cert.Raw)] = true
			if bytes.Equal(cur.cert.RawIssuer, cur.cert.RawSubject) {
				break
			}
			next := cur
			cur = nil
			for i := range certs {
				if bytes.Equal(certs[i].cert.RawSubject, next.cert.RawIssuer) && !inEntry(entry.Chain, certs[i].cert) {
					cur = &certs[i]
					break
				}
			}
		}
		if entry.Alias == "" && leaf != nil {
			entry.Alias = leaf.alias
		}
		c.Keys = append(c.Keys, entry)
	}
	for _, b := range certs {
		switch {
		case b.trusted:
			c.Trusted = append(c.Trusted, TrustedCert{Alias: b.alias, Cert: b.cert})
		case !inChain[string(b.cert.Raw)]:
			c.Other = append(c.Other, b.cert)
		}
	}
	return c
}

func findLeaf(k bag, certs []bag) *bag {
	if len(k.localKeyID) > 0 {
		for i := range certs {
			if bytes.Equal(certs[i].localKeyID, k.localKeyID) {
				return &certs[i]
			}
		}
	}
	signer, ok := k.key.(crypto.Signer)
	if !ok {
		return nil
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil
	}
	for i := range certs {
		if pub.Equal(certs[i].cert.PublicKey) {
			return &certs[i]
		}
	}
	return nil
}

func inEntry(chain []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(chain, func(x *x509.Certificate) bool { return x.Equal(c) })
}
