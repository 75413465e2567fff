// Package inspect describes escert's files, and anything of the same kinds, for
// people and for scripts: certificates and chains, private keys (never their
// material), PKCS#12 files and elasticsearch.keystore files (setting names, never
// values).
package inspect

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/p12"
)

// Report describes one file.
type Report struct {
	File         string       `json:"file"`
	Kind         string       `json:"kind"` // certificates, private-key, pkcs12, elasticsearch-keystore
	Certificates []CertReport `json:"certificates,omitempty"`
	Key          *KeyReport   `json:"key,omitempty"`
	PKCS12       *P12Report   `json:"pkcs12,omitempty"`
	Keystore     *KSReport    `json:"keystore,omitempty"`
}

// CertReport summarises one certificate, with the days it has left.
type CertReport struct {
	ca.Summary
	DaysLeft int `json:"days_left"`
}

// KeyReport describes a private key without revealing it.
type KeyReport struct {
	Type      string `json:"type"`
	Encrypted bool   `json:"encrypted"`
	Format    string `json:"format"`
}

// P12Report lists a PKCS#12 file's entries.
type P12Report struct {
	Encryption string `json:"encryption"`
	// Unverified says the file was read without a password (none was given and its
	// certificates are not encrypted): no key was decrypted and the MAC was not
	// verified, so the entries are what the file claims, unauthenticated.
	Unverified bool         `json:"unverified"`
	Keys       []P12Key     `json:"key_entries"`
	Trusted    []P12Trusted `json:"trusted_entries"`
}

// P12Key is a key entry: alias, key type and chain. When the report is Unverified the
// key type is that of the leaf's public key.
type P12Key struct {
	Alias string       `json:"alias"`
	Key   string       `json:"key"`
	Chain []CertReport `json:"chain"`
}

// P12Trusted is a trusted-certificate entry.
type P12Trusted struct {
	Alias string     `json:"alias"`
	Cert  CertReport `json:"certificate"`
}

// KSReport lists an elasticsearch.keystore's settings, never their values.
type KSReport struct {
	Version     int      `json:"version"`
	HasPassword bool     `json:"has_password"`
	Settings    []string `json:"settings"`
}

// Passwords supplies the passwords File tries when a file needs one. Without either
// (or when both give none) File uses the empty password.
type Passwords struct {
	// Given returns the password the operator gave, nil when none was given.
	Given func() ([]byte, error)
	// Candidates lists the passwords to try, in order, when none was given, such as
	// the secure passwords of a node bundle's elasticsearch.keystore. File calls it
	// only when it must decrypt something, because it may open and decrypt other files:
	// a PKCS#12 file whose certificates read without a password never needs it.
	Candidates func() ([][]byte, error)
}

func (p Passwords) given() ([]byte, error) {
	if p.Given == nil {
		return nil, nil
	}
	return p.Given()
}

// List is what to try in order: the given password, else the candidates, else the
// empty password.
func (p Passwords) List() ([][]byte, error) {
	given, err := p.given()
	if err != nil || given != nil || p.Candidates == nil {
		return [][]byte{given}, err
	}
	list, err := p.Candidates()
	if len(list) == 0 {
		list = [][]byte{nil}
	}
	return list, err
}

// keystoreMagic opens every Lucene codec file, the elasticsearch.keystore included.
const keystoreMagic = 0x3FD76C17

// File inspects data read from file.
func File(file string, data []byte, passwords Passwords, now time.Time) (*Report, error) {
	r := &Report{File: file}
	switch {
	case len(data) >= 4 && binary.BigEndian.Uint32(data) == keystoreMagic:
		r.Kind = "elasticsearch-keystore"
		has, err := eskeystore.HasPassword(data)
		if err != nil {
			return nil, err
		}
		list := [][]byte{nil}
		if has {
			if list, err = passwords.List(); err != nil {
				return nil, err
			}
		}
		var ks *eskeystore.Keystore
		for _, pw := range list {
			if ks, err = eskeystore.Decode(data, pw); !errors.Is(err, eskeystore.ErrWrongPassword) {
				break
			}
		}
		if err != nil {
			return nil, err
		}
		r.Keystore = &KSReport{Version: ks.Version, HasPassword: has, Settings: ks.Names()}
	case bytes.Contains(data, []byte("-----BEGIN")):
		return r, inspectPEM(r, data, now)
	case isPKCS12(data):
		r.Kind = "pkcs12"
		c, err := readP12(data, passwords)
		if err != nil {
			return nil, err
		}
		r.PKCS12 = &P12Report{Encryption: c.Encryption, Unverified: c.Unverified, Keys: []P12Key{}, Trusted: []P12Trusted{}}
		for _, k := range c.Keys {
			entry := P12Key{Alias: k.Alias, Key: "unknown (key not decrypted)"}
			switch {
			case k.Key != nil:
				entry.Key = keyType(k.Key)
			case len(k.Chain) > 0:
				entry.Key = publicKeyType(k.Chain[0].PublicKey)
			}
			for _, cert := range k.Chain {
				entry.Chain = append(entry.Chain, Describe(cert, now))
			}
			r.PKCS12.Keys = append(r.PKCS12.Keys, entry)
		}
		for _, t := range c.Trusted {
			r.PKCS12.Trusted = append(r.PKCS12.Trusted, P12Trusted{Alias: t.Alias, Cert: Describe(t.Cert, now)})
		}
	default:
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, errors.New("not a certificate, key, PKCS#12 or elasticsearch.keystore")
		}
		r.Kind = "certificates"
		r.Certificates = []CertReport{Describe(cert, now)}
	}
	return r, nil
}

// readP12 reads a PKCS#12 file as cheaply as it can. Without a given password the
// certificates alone are enough for a description, and when they are not encrypted
// they are read without any key derivation, and without asking for candidates (which
// would open the keystore next to the file). Otherwise, or when the certificates are
// encrypted, it decodes the file with each password in turn.
func readP12(data []byte, passwords Passwords) (*p12.Contents, error) {
	given, err := passwords.given()
	if err != nil {
		return nil, err
	}
	if given == nil {
		c, err := p12.Certificates(data)
		if !errors.Is(err, p12.ErrEncrypted) {
			return c, err
		}
	}
	list, err := passwords.List()
	if err != nil {
		return nil, err
	}
	var c *p12.Contents
	for _, pw := range list {
		if c, err = p12.Decode(data, string(pw)); !errors.Is(err, p12.ErrWrongPassword) {
			break
		}
	}
	return c, err
}

// isPKCS12 recognises a DER PFX: SEQUENCE { INTEGER 3, ... }.
func isPKCS12(data []byte) bool {
	if len(data) < 8 || data[0] != 0x30 {
		return false
	}
	i := 2
	if data[1]&0x80 != 0 {
		i += int(data[1] & 0x7f)
	}
	return i+3 <= len(data) && data[i] == 0x02 && data[i+1] == 0x01 && data[i+2] == 0x03
}

func inspectPEM(r *Report, data []byte, now time.Time) error {
	rest := data
	for {
		var block *pem.Block
		block, rest = ca.DecodePEM(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fmt.Errorf("certificate %d: %w", len(r.Certificates)+1, err)
			}
			r.Certificates = append(r.Certificates, Describe(cert, now))
		case "ENCRYPTED PRIVATE KEY":
			r.Key = &KeyReport{Type: "unknown until decrypted", Encrypted: true, Format: "PKCS#8 (encrypted)"}
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			format := map[string]string{"PRIVATE KEY": "PKCS#8", "EC PRIVATE KEY": "SEC 1", "RSA PRIVATE KEY": "PKCS#1"}[block.Type]
			if block.Headers["Proc-Type"] != "" {
				r.Key = &KeyReport{Type: "unknown until decrypted", Encrypted: true, Format: format + " (legacy PEM encryption)"}
				continue
			}
			key, err := ca.ParseKeyPEM(pem.EncodeToMemory(block), nil)
			if err != nil {
				return err
			}
			r.Key = &KeyReport{Type: keyType(key), Format: format}
		}
	}
	switch {
	case len(r.Certificates) > 0:
		r.Kind = "certificates"
	case r.Key != nil:
		r.Kind = "private-key"
	default:
		return errors.New("no certificate or private key in this PEM file")
	}
	return nil
}

func keyType(key crypto.PrivateKey) string {
	if signer, ok := key.(crypto.Signer); ok {
		return publicKeyType(signer.Public())
	}
	return fmt.Sprintf("%T", key)
}

// publicKeyType names a key by its public half, which has its private key's type:
// what a certificate tells about a key nobody decrypted.
func publicKeyType(pub crypto.PublicKey) string {
	if spec, err := fips.SpecOf(pub); err == nil {
		return spec.String()
	}
	return fmt.Sprintf("%T", pub)
}

// Describe summarises a certificate with the days it has left at now.
func Describe(c *x509.Certificate, now time.Time) CertReport {
	return CertReport{Summary: ca.Summarize(c), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)}
}
