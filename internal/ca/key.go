// Package ca holds escert's certificate authority logic: keys, certificate templates,
// signing and parsing. It touches no disk and no network, so everything in it is
// testable in memory; callers pass in randomness and time.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	"go.step.sm/crypto/pemutil"

	"github.com/escert/escert/internal/fips"
)

// ErrKeyPassword is returned when an encrypted key needs a password that was not given
// or the password does not decrypt it.
var ErrKeyPassword = errors.New("wrong or missing key passphrase")

// GenerateKey makes a new private key after checking the spec against the policy.
func GenerateKey(rand io.Reader, policy fips.Policy, spec fips.KeySpec) (crypto.Signer, error) {
	if err := policy.CheckKey(spec); err != nil {
		return nil, err
	}
	switch spec.Type {
	case fips.RSA:
		return rsa.GenerateKey(rand, spec.Bits)
	default:
		curve, err := policy.Curve(spec.Curve)
		if err != nil {
			return nil, err
		}
		return ecdsa.GenerateKey(curve, rand)
	}
}

// MarshalKeyPEM encodes a private key as PKCS#8 PEM. With a non-empty password the key
// is encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), which OpenSSL 3, Go and
// Elasticsearch 8 on a standard JDK read; the legacy "Proc-Type: 4,ENCRYPTED" form is
// never written because it derives its key with MD5.
func MarshalKeyPEM(rand io.Reader, key crypto.Signer, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	if len(password) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	block, err := pemutil.EncryptPKCS8PrivateKey(rand, der, password, x509.PEMCipherAES256)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// ParseKeyPEM reads the first private key in PEM data: PKCS#8 (plain or PBES2
// encrypted), SEC 1 EC or PKCS#1 RSA. Legacy MD5-based encrypted PEM is refused.
func ParseKeyPEM(data, password []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = DecodePEM(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			if block.Headers["Proc-Type"] != "" {
				return nil, errors.New("legacy encrypted PEM key (Proc-Type header) is not supported: re-encrypt it as PKCS#8, e.g. openssl pkcs8 -topk8 -v2 aes-256-cbc")
			}
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			if block.Headers["Proc-Type"] != "" {
				return nil, errors.New("legacy encrypted PEM key (Proc-Type header) is not supported: re-encrypt it as PKCS#8, e.g. openssl pkcs8 -topk8 -v2 aes-256-cbc")
			}
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			if len(password) == 0 {
				return nil, fmt.Errorf("key is encrypted: %w", ErrKeyPassword)
			}
			der, derr := decryptPKCS8(block.Bytes, password)
			if derr != nil {
				return nil, derr
			}
			key, err = x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				// A wrong password that happens to leave valid padding decrypts to noise.
				return nil, fmt.Errorf("decrypt key: %w", ErrKeyPassword)
			}
		default:
			continue
		}
		if err != nil {
			// encoding/asn1's errors spell out its internal field tags: one line for
			// a person says what is wrong instead.
			var structural asn1.StructuralError
			var syntax asn1.SyntaxError
			if errors.As(err, &structural) || errors.As(err, &syntax) {
				err = errors.New("malformed DER: the file is damaged or holds no key")
			}
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key type %T cannot sign", key)
		}
		return signer, nil
	}
}

// decryptPKCS8 decrypts a PBES2-encrypted PKCS#8 key. pemutil panics on parameters it
// cannot use (an IV or ciphertext that is not whole cipher blocks) and, through
// x/crypto/pbkdf2, on ones FIPS 140-only mode refuses (a salt under 128 bits, as
// OpenSSL 3.0 writes by default, or a SHA-1 PRF); those become errors here.
func decryptPKCS8(data, password []byte) (der []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			der, err = nil, fmt.Errorf("decrypt key: unusable encryption parameters (%v): re-encrypt it with AES-256-CBC, PBKDF2-HMAC-SHA256 and a 16-byte salt (OpenSSL 3.2+: openssl pkcs8 -topk8 -v2 aes-256-cbc -saltlen 16)", r)
		}
	}()
	der, err = pemutil.DecryptPKCS8PrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("decrypt key: %w", ErrKeyPassword)
	}
	return der, nil
}

// KeyMatches reports an error when key is not the private key of cert.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("private key does not match the certificate")
	}
	return nil
}
