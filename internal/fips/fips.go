// Package fips owns escert's crypto policy: which key types, sizes and signature
// algorithms escert may use, and which FIPS 140 mode the running binary is in.
//
// Every algorithm choice in escert goes through a Policy, so that a FIPS build can
// refuse what the approved set does not contain in exactly one place. The policy is an
// allow-list: an algorithm it does not know is refused, never silently accepted.
package fips

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// KeyType names a family of keys escert can generate.
type KeyType string

// The key types escert generates. Ed25519 is deliberately absent: Elasticsearch's JSSE
// stack and Kibana's node-forge do not accept Ed25519 certificates for TLS.
const (
	ECDSA KeyType = "ecdsa"
	RSA   KeyType = "rsa"
)

// KeySpec describes a key to generate: an ECDSA curve or an RSA modulus size.
type KeySpec struct {
	Type  KeyType
	Curve string // "P-256" or "P-384" for ECDSA
	Bits  int    // 2048, 3072 or 4096 for RSA
}

// String renders the spec as users write it on the command line, e.g. "ecdsa P-256".
func (k KeySpec) String() string {
	if k.Type == RSA {
		return fmt.Sprintf("RSA-%d", k.Bits)
	}
	return fmt.Sprintf("ECDSA %s", k.Curve)
}

// DefaultKey is ECDSA P-256: as strong as AES-128 (NIST SP 800-57), fast to generate
// for large clusters, and accepted by every Elasticsearch consumer that escert targets.
var DefaultKey = KeySpec{Type: ECDSA, Curve: "P-256"}

// Mode is the FIPS 140 mode of the running binary.
type Mode struct {
	Build         string `json:"build,omitempty"`          // the FIPS flavour the binary was built as, "" for standard
	Name          string `json:"name"`                     // "off", "go-fips140" or "boringcrypto"
	ModuleVersion string `json:"module_version,omitempty"` // Go FIPS 140-3 module version
	Enforced      bool   `json:"enforced"`                 // non-approved algorithms are refused (fips140=only)
}

// String describes the mode for `escert version`.
func (m Mode) String() string {
	switch m.Name {
	case "go-fips140":
		s := "Go FIPS 140-3 module " + m.ModuleVersion
		if m.Enforced {
			s += " (enforced)"
		}
		return s
	case "boringcrypto":
		return "BoringCrypto"
	}
	return "off (standard Go crypto)"
}

// Current reports the mode of this process.
func Current() Mode {
	m := Mode{Name: "off", Build: Build()}
	switch {
	case boringEnabled():
		m.Name, m.Enforced = "boringcrypto", true
	case fips140.Enabled():
		m.Name, m.ModuleVersion, m.Enforced = "go-fips140", fips140.Version(), fips140.Enforced()
	}
	return m
}

// Policy is the allow-list every algorithm choice goes through.
type Policy struct {
	// FIPS restricts choices to the FIPS 140 approved set.
	FIPS bool
}

// ForCurrent returns the policy for this process: FIPS when the binary runs in a FIPS
// mode or was built as a FIPS binary, or when the operator asks for it (--fips).
func ForCurrent(asked bool) Policy {
	m := Current()
	return Policy{FIPS: asked || m.Name != "off" || m.Build != ""}
}

// MinPasswordLen is the shortest password FIPS mode accepts for anything escert
// derives a key from (PBKDF2): SP 800-132 via Go's module wants 112-bit HMAC keys,
// and Elasticsearch's FIPS mode demands 14 bytes for the keystore password.
const MinPasswordLen = 14

// CheckPassword refuses a password the policy would not derive keys from; what names
// it in the message ("keystore password", "CA passphrase") and how to give one.
func (p Policy) CheckPassword(what, how string, password []byte) error {
	if !p.FIPS {
		return nil
	}
	if len(password) == 0 {
		return fmt.Errorf("FIPS mode needs a %s: give one of at least %d bytes with %s", what, MinPasswordLen, how)
	}
	if len(password) < MinPasswordLen {
		return fmt.Errorf("the %s has %d bytes; FIPS mode needs at least %d: give a longer one with %s", what, len(password), MinPasswordLen, how)
	}
	return nil
}

var (
	allowedCurves  = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}
	allowedRSABits = map[int]bool{2048: true, 3072: true, 4096: true}
)

// CheckKey refuses a key spec outside the policy, with a message that says what to use.
func (p Policy) CheckKey(k KeySpec) error {
	switch k.Type {
	case ECDSA:
		if _, ok := allowedCurves[k.Curve]; !ok {
			return fmt.Errorf("curve %q is not supported: use --curve P-256 or --curve P-384", k.Curve)
		}
		return nil
	case RSA:
		if !allowedRSABits[k.Bits] {
			mode := ""
			if p.FIPS {
				mode = " in FIPS mode"
			}
			return fmt.Errorf("RSA-%d is not allowed%s: use --key-size 2048, 3072 or 4096, or --key-type ecdsa", k.Bits, mode)
		}
		return nil
	}
	return fmt.Errorf("key type %q is not supported: use --key-type ecdsa or --key-type rsa", k.Type)
}

// Curve returns the elliptic curve of an allowed ECDSA spec.
func (p Policy) Curve(name string) (elliptic.Curve, error) {
	c, ok := allowedCurves[name]
	if !ok {
		return nil, p.CheckKey(KeySpec{Type: ECDSA, Curve: name})
	}
	return c, nil
}

// CheckPublicKey refuses an existing key (a CA loaded from disk, a key in a CSR) that
// the policy would not have generated.
func (p Policy) CheckPublicKey(pub crypto.PublicKey) error {
	spec, err := SpecOf(pub)
	if err != nil {
		return err
	}
	return p.CheckKey(spec)
}

// SpecOf describes an existing public key as a KeySpec.
func SpecOf(pub crypto.PublicKey) (KeySpec, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return KeySpec{Type: ECDSA, Curve: k.Curve.Params().Name}, nil
	case *rsa.PublicKey:
		return KeySpec{Type: RSA, Bits: k.N.BitLen()}, nil
	}
	return KeySpec{}, fmt.Errorf("key type %T is not supported: escert uses ECDSA P-256/P-384 or RSA 2048-4096 keys", pub)
}

// SignatureAlgorithm picks the signature algorithm for a signing key: SHA-256 for
// P-256 and RSA (what every JDK and OpenSSL accept), SHA-384 for P-384 so the hash
// matches the curve's strength.
func (p Policy) SignatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	spec, err := SpecOf(pub)
	if err != nil {
		return x509.UnknownSignatureAlgorithm, err
	}
	if err := p.CheckKey(spec); err != nil {
		return x509.UnknownSignatureAlgorithm, err
	}
	switch {
	case spec.Type == ECDSA && spec.Curve == "P-384":
		return x509.ECDSAWithSHA384, nil
	case spec.Type == ECDSA:
		return x509.ECDSAWithSHA256, nil
	}
	return x509.SHA256WithRSA, nil
}

// ParseKeySpec builds a KeySpec from the --key-type, --key-size and --curve flags and
// checks it against the policy. A zero size or empty curve takes the type's default.
func (p Policy) ParseKeySpec(keyType string, bits int, curve string) (KeySpec, error) {
	spec := KeySpec{Type: KeyType(strings.ToLower(keyType)), Bits: bits, Curve: strings.ToUpper(curve)}
	switch spec.Type {
	case ECDSA:
		spec.Bits = 0
		if spec.Curve == "" {
			spec.Curve = DefaultKey.Curve
		}
	case RSA:
		spec.Curve = ""
		if spec.Bits == 0 {
			spec.Bits = 3072
		}
	}
	return spec, p.CheckKey(spec)
}
