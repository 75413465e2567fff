package eskeystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/pbkdf2"
	"crypto/sha512"
	"fmt"
	"io"

	"github.com/escert/escert/internal/fault"
)

// MinFIPSPasswordLen is the shortest keystore password accepted under
// GODEBUG=fips140=only. FIPS 140-3 (IG C.M) does not approve HMAC keys shorter than
// 112 bits, and PBKDF2 uses the password as the HMAC key; Elasticsearch in FIPS mode
// refuses shorter keystore passwords for the same reason.
const MinFIPSPasswordLen = 14

// ErrWrongPassword is returned by Decode when the GCM authentication tag does not
// verify. Because Decode checks the CRC32 footer first, a tag failure on a file with
// a valid checksum almost always means the password is wrong.
var ErrWrongPassword = fault.Sentinel(fault.Input, "wrong keystore password")

// ErrCorrupted is returned, wrapped with the detail, for any structural problem in a
// keystore file: bad magic, unsupported version, lengths that do not add up, bytes
// after the footer or a checksum mismatch.
var ErrCorrupted = fault.Sentinel(fault.Input, "keystore is corrupted")

// TooNewError is returned by Decode and HasPassword for a keystore whose format
// version is newer than escert reads: a newer Elasticsearch wrote it (each node
// upgrades its keystore to its own format when it starts). It is not corruption, and
// the fix is a newer escert, not a new keystore.
type TooNewError struct{ Version int }

func (e *TooNewError) Kind() fault.Kind { return fault.Input }

func (e *TooNewError) Error() string {
	return fmt.Sprintf("keystore format %d is newer than this escert reads (formats %d to %d): a newer Elasticsearch wrote it; upgrade escert to a release whose `escert version` lists keystore format %d", e.Version, minVersion, maxVersion, e.Version)
}

// ErrPasswordTooShortFIPS is returned by Decode and Encode under
// GODEBUG=fips140=only when the password is shorter than MinFIPSPasswordLen bytes,
// including the empty password.
var ErrPasswordTooShortFIPS = fault.New(fault.Input, "keystore password must be at least %d bytes in FIPS 140-only mode", MinFIPSPasswordLen)

// checkFIPSPassword refuses short passwords when FIPS 140 is enforced. Go's PBKDF2
// only marks a short HMAC key as non-approved instead of refusing it, so the rule is
// enforced here.
func checkFIPSPassword(password []byte) error {
	if fips140.Enforced() && len(password) < MinFIPSPasswordLen {
		return ErrPasswordTooShortFIPS
	}
	return nil
}

// deriveKey is KeyStoreWrapper.createCipher's key derivation:
// PBKDF2WithHmacSHA512 over the password's UTF-8 bytes, a 128-bit key (256-bit from
// version 7, which makes the cipher AES-256-GCM).
func deriveKey(password, salt []byte, version int) ([]byte, error) {
	// crypto/pbkdf2 takes the password as a string, which costs one copy that
	// cannot be cleared.
	key, err := pbkdf2.Key(sha512.New, string(password), salt, Iterations(version), KeyLen(version))
	if err != nil {
		return nil, fmt.Errorf("derive keystore key: %w", err)
	}
	return key, nil
}

// seal encrypts plaintext with AES-GCM (the key length picks AES-128 or AES-256) and the salt as additional data, and
// returns the IV and the ciphertext with the tag appended. Outside FIPS 140-only
// mode the IV is read from rand, so tests can fix it. In FIPS 140-only mode Go
// refuses caller-chosen GCM nonces, so the FIPS module draws the IV itself.
func seal(key, salt, plaintext []byte, rand io.Reader) (iv, enc []byte, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	if fips140.Enforced() {
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, nil, err
		}
		out := aead.Seal(nil, nil, plaintext, salt)
		return out[:ivLen], out[ivLen:], nil
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	iv = make([]byte, ivLen)
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, nil, fmt.Errorf("generate keystore iv: %w", err)
	}
	return iv, aead.Seal(nil, iv, plaintext, salt), nil
}

// open decrypts and authenticates enc. Each FIPS flavour allows a different GCM
// constructor: Go's enforced module only NewGCMWithRandomNonce (whose input is
// iv||ciphertext||tag), BoringCrypto only NewGCM ("requires aes.Block" otherwise).
// Opening is the same computation either way.
func open(key, salt, iv, enc []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var plaintext []byte
	if fips140.Enforced() {
		aead, aerr := cipher.NewGCMWithRandomNonce(block)
		if aerr != nil {
			return nil, aerr
		}
		in := make([]byte, 0, len(iv)+len(enc))
		in = append(append(in, iv...), enc...)
		plaintext, err = aead.Open(nil, nil, in, salt)
	} else {
		aead, aerr := cipher.NewGCM(block)
		if aerr != nil {
			return nil, aerr
		}
		if len(iv) != aead.NonceSize() {
			return nil, fmt.Errorf("%w: iv of %d bytes, want %d", ErrCorrupted, len(iv), aead.NonceSize())
		}
		plaintext, err = aead.Open(nil, iv, enc, salt)
	}
	if err != nil {
		return nil, ErrWrongPassword
	}
	return plaintext, nil
}
