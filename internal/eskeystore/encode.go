package eskeystore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Encode encrypts the keystore with password and returns the file in format
// k.Version (3 to 7), laid out as KeyStoreWrapper.save writes it. An empty password
// gives a keystore Elasticsearch opens without prompting (hasPassword 0).
//
// rand supplies the salt, the IV (except in FIPS 140-only mode, where the FIPS
// module draws the IV) and a new keystore.seed if the keystore has none; Encode
// stores that seed in k, as Elasticsearch adds a missing seed on start. Settings are
// written sorted by name, so the output depends only on the content and rand.
//
// Encode derives the key for this one file; writing many keystores under one
// password, derive it once with NewSealer and call Seal.
func (k *Keystore) Encode(password []byte, rand io.Reader) ([]byte, error) {
	s, err := NewSealer(password, k.Version, rand)
	if err != nil {
		return nil, err
	}
	defer s.Clear()
	return k.Seal(s, rand)
}

// Sealer is a keystore key derived once from a password and a salt, for encrypting
// several keystores of one format version that share that password: the node
// keystores of one bootstrap. The derivation (PBKDF2-HMAC-SHA512, 210,000 rounds from
// format 6) is the whole cost of writing a keystore, and paying it once per
// bootstrap instead of once per node loses nothing: the salt exists to keep one
// attacker's work from serving against many passwords, and these files share the
// password itself, so whoever can guess it for one file can open all of them
// whatever their salts. Each file still gets its own random GCM nonce (96 bits,
// far below the 2^32 encryptions per key that NIST SP 800-38D allows for random
// nonces). Files written at different times (a node added later, a keystore edited
// on a node) get a Sealer, and so a salt, of their own.
type Sealer struct {
	version     int
	salt, key   []byte
	hasPassword bool
}

// NewSealer derives the key of format version's keystores for password under a
// fresh salt from rand.
func NewSealer(password []byte, version int, rand io.Reader) (*Sealer, error) {
	if version < minVersion || version > maxVersion {
		return nil, fmt.Errorf("cannot write keystore version %d: escert writes versions %d to %d", version, minVersion, maxVersion)
	}
	if err := checkFIPSPassword(password); err != nil {
		return nil, err
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("generate keystore salt: %w", err)
	}
	key, err := deriveKey(password, salt, version)
	if err != nil {
		return nil, err
	}
	return &Sealer{version: version, salt: salt, key: key, hasPassword: len(password) > 0}, nil
}

// Clear wipes the derived key; the Sealer cannot seal afterwards.
func (s *Sealer) Clear() {
	clear(s.key)
	s.key = nil
}

// Seal encrypts the keystore with the Sealer's key, as Encode does with a password.
// k.Version must be the Sealer's version, since the version fixes the derivation.
func (k *Keystore) Seal(s *Sealer, rand io.Reader) ([]byte, error) {
	if k.Version != s.version {
		return nil, fmt.Errorf("cannot write a version %d keystore with a key derived for version %d", k.Version, s.version)
	}
	if s.key == nil {
		return nil, errors.New("keystore key was cleared")
	}
	if k.entries == nil {
		k.entries = map[string]entry{}
	}
	if _, ok := k.entries[SeedSetting]; !ok {
		if err := k.addSeed(rand); err != nil {
			return nil, err
		}
	}

	plaintext := k.plaintext()
	defer clear(plaintext)
	salt := s.salt
	iv, enc, err := seal(s.key, salt, plaintext, rand)
	if err != nil {
		return nil, fmt.Errorf("encrypt keystore: %w", err)
	}

	dataLen := 4 + len(salt) + 4 + len(iv) + 4 + len(enc)
	out := make([]byte, 0, headerLen+1+4+dataLen+footerLen)
	out = binary.BigEndian.AppendUint32(out, codecMagic)
	out = append(out, byte(len(codecName)))
	out = append(out, codecName...)
	out = binary.BigEndian.AppendUint32(out, uint32(k.Version))
	if s.hasPassword {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	order := byteOrder(k.Version).(binary.AppendByteOrder)
	out = order.AppendUint32(out, uint32(dataLen))
	out = order.AppendUint32(out, uint32(len(salt)))
	out = append(out, salt...)
	out = order.AppendUint32(out, uint32(len(iv)))
	out = append(out, iv...)
	out = order.AppendUint32(out, uint32(len(enc)))
	out = append(out, enc...)
	out = binary.BigEndian.AppendUint32(out, footerMagic)
	out = binary.BigEndian.AppendUint32(out, crcAlgorithm)
	out = binary.BigEndian.AppendUint64(out, uint64(crc32.ChecksumIEEE(out)))
	return out, nil
}

// plaintext serialises the settings as KeyStoreWrapper does with a
// DataOutputStream: big-endian int32 count, then per setting the name as
// writeUTF (uint16 length; names are ASCII, so modified UTF-8 is the plain bytes),
// for version 3 the entry type the same way, and the value with an int32 length.
func (k *Keystore) plaintext() []byte {
	names := k.Names()
	size := 4
	for _, name := range names {
		size += 2 + len(name) + 2 + len(typeString) + 4 + len(k.entries[name].value)
	}
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, name := range names {
		e := k.entries[name]
		b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
		b = append(b, name...)
		if k.Version == 3 {
			kind := e.kind
			if kind == "" {
				kind = typeString
			}
			b = binary.BigEndian.AppendUint16(b, uint16(len(kind)))
			b = append(b, kind...)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.value)))
		b = append(b, e.value...)
	}
	return b
}
