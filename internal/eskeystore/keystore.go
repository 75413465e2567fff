// Package eskeystore reads and writes Elasticsearch's secure settings file,
// elasticsearch.keystore, natively, so that escert can store TLS passwords and the
// bootstrap password without Java or an Elasticsearch install.
//
// The file format is Elasticsearch's KeyStoreWrapper framed by Lucene's CodecUtil
// header and footer: a header naming the format version, a hasPassword byte, a data
// block holding a salt, an IV and the AES-GCM encrypted settings (AES-128, AES-256 from version 7), and a CRC32
// footer. Versions 3 to 7 are read and written; see VersionFor for which
// Elasticsearch reads which version.
//
// The package works on bytes only. Writing the file (temp file, mode 0660, rename) is
// the job of the caller, so that all file writes live in one place.
//
// FIPS 140: the package uses only crypto/pbkdf2 (HMAC-SHA-512), crypto/aes and
// AES-GCM, all approved. Under GODEBUG=fips140=only it refuses passwords shorter than
// 14 bytes (see ErrPasswordTooShortFIPS), and the IV of a written file comes from the
// FIPS module's own random generator rather than from the caller's rand.
package eskeystore

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
)

// DefaultVersion is the format version escert writes when the target Elasticsearch
// version is unknown: version 6, the one Elasticsearch 8.14 and later write.
const DefaultVersion = 6

// LatestVersion is the newest format escert reads and writes, the one Elasticsearch
// 8.18 and later write.
const LatestVersion = maxVersion

// SeedSetting is the setting every keystore holds. Elasticsearch creates it with the
// keystore (KeyStoreWrapper.addBootstrapSeed) and uses it as a per-cluster secret,
// for example to derive the default token encryption keys.
const SeedSetting = "keystore.seed"

// seedChars and seedLength are KeyStoreWrapper.SEED_CHARS and SEED_LENGTH.
const (
	seedChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~!@#$%^&*-_=+?"
	seedLength = 20
)

// v3 entry types. Version 3 stores one of these with every entry (KeyStoreWrapper's
// EntryType); later versions dropped it.
const (
	typeString = "STRING"
	typeFile   = "FILE"
)

// Keystore is the decrypted content of an elasticsearch.keystore file: a format
// version and a set of named secret settings. The zero value is not usable; get one
// from New or Decode.
type Keystore struct {
	// Version is the format version Encode writes, 3 to 7. Decode sets it to the
	// version of the file, so that a decoded keystore is written back in the same
	// version unless the caller changes it (use VersionFor to pick one).
	Version int

	entries map[string]entry
}

type entry struct {
	value []byte
	// kind is the entry type a version 3 file stored ("STRING" or "FILE"), kept so
	// that writing the file back as version 3 preserves it. Empty for entries added
	// by Set; those are written as "STRING", since escert only stores passwords.
	kind string
}

// New returns a keystore of the given format version holding a fresh keystore.seed
// drawn from rand, as elasticsearch-keystore create does. escert creates versions 4
// to 7 only: version 3 is read by Elasticsearch 6.3 to 6.7, which escert does not
// target, and is written only to save back a file that was already version 3.
func New(version int, rand io.Reader) (*Keystore, error) {
	if version < 4 || version > maxVersion {
		return nil, fmt.Errorf("cannot create a version %d keystore: escert creates versions 4 to %d", version, maxVersion)
	}
	k := &Keystore{Version: version, entries: map[string]entry{}}
	if err := k.addSeed(rand); err != nil {
		return nil, err
	}
	return k, nil
}

// addSeed stores a new keystore.seed: seedLength characters picked uniformly from
// seedChars, like KeyStoreWrapper.addBootstrapSeed.
func (k *Keystore) addSeed(rand io.Reader) error {
	// Rejection sampling keeps the pick uniform: only bytes below the largest
	// multiple of len(seedChars) are used.
	limit := 256 - 256%len(seedChars)
	seed := make([]byte, 0, seedLength)
	buf := make([]byte, seedLength)
	for len(seed) < seedLength {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return fmt.Errorf("generate %s: %w", SeedSetting, err)
		}
		for _, b := range buf {
			if int(b) < limit && len(seed) < seedLength {
				seed = append(seed, seedChars[int(b)%len(seedChars)])
			}
		}
	}
	k.entries[SeedSetting] = entry{value: seed}
	return nil
}

// ValidName reports whether name is a valid secure setting name: one or more of
// A-Z a-z 0-9 _ - . (KeyStoreWrapper.ALLOWED_SETTING_NAME). Elasticsearch refuses
// other names; they could not be referenced from elasticsearch.yml either.
func ValidName(name string) error {
	if name == "" {
		return errors.New("invalid setting name \"\": must not be empty")
	}
	if len(name) > math.MaxUint16 {
		// The name is stored with a 16-bit length (Java's DataOutput.writeUTF).
		return fmt.Errorf("invalid setting name %.40q...: longer than %d bytes", name, math.MaxUint16)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("invalid setting name %q: may only contain A-Z a-z 0-9 _ - .", name)
		}
	}
	return nil
}

// Set stores value under name, replacing any previous value. The value is copied.
func (k *Keystore) Set(name string, value []byte) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if len(value) > math.MaxInt32 {
		// Values are stored with a signed 32-bit length (Java's int).
		return fmt.Errorf("setting %s: value longer than %d bytes", name, math.MaxInt32)
	}
	if k.entries == nil {
		k.entries = map[string]entry{}
	}
	k.entries[name] = entry{value: slices.Clone(value)}
	return nil
}

// Get returns a copy of the value stored under name, and whether there is one.
func (k *Keystore) Get(name string) ([]byte, bool) {
	e, ok := k.entries[name]
	if !ok {
		return nil, false
	}
	return slices.Clone(e.value), true
}

// Remove deletes the setting name and reports whether it existed. Removing
// keystore.seed is allowed; Encode puts a fresh one back, as Elasticsearch would on
// its next start.
func (k *Keystore) Remove(name string) bool {
	_, ok := k.entries[name]
	delete(k.entries, name)
	return ok
}

// Names returns the names of all settings, sorted.
func (k *Keystore) Names() []string {
	return slices.Sorted(maps.Keys(k.entries))
}
