package eskeystore

import (
	"encoding/binary"
	"fmt"

	"github.com/escert/escert/internal/esconfig"
)

// The framing comes from Lucene's CodecUtil, which KeyStoreWrapper uses for the
// header and footer.
const (
	codecMagic  uint32 = 0x3FD76C17  // CodecUtil.CODEC_MAGIC
	footerMagic uint32 = ^codecMagic // CodecUtil.FOOTER_MAGIC, 0xC02893E8
	codecName          = "elasticsearch.keystore"
	// headerLen is magic, the one-byte VInt length of the codec name, the name and
	// the version (CodecUtil.headerLength).
	headerLen = 4 + 1 + len(codecName) + 4
	// footerLen is the magic, the checksum algorithm id and the int64 checksum
	// (CodecUtil.footerLength).
	footerLen = 4 + 4 + 8
	// crcAlgorithm is the only checksum algorithm id Lucene defines: CRC32.
	crcAlgorithm = 0
)

// Format versions (KeyStoreWrapper.MIN_FORMAT_VERSION to CURRENT_VERSION).
const (
	minVersion = 3 // 6.3: oldest version Elasticsearch 8 still reads
	// leVersion is the first version whose data block ints are little-endian:
	// Elasticsearch 8.0 moved to Lucene 9, whose DataOutput.writeInt is
	// little-endian. The CodecUtil header and footer stay big-endian.
	leVersion = 5
	// pbkdf2v6Version is the first version whose key derivation uses 210,000
	// PBKDF2 iterations instead of 10,000 (Elasticsearch 8.14; 210,000 is OWASP's
	// recommended count for PBKDF2-HMAC-SHA512).
	pbkdf2v6Version = 6
	// aes256Version is the first version whose AES key is 256 bits (a 32-byte
	// PBKDF2 output) instead of 128: Elasticsearch 9.0, and 8.18 by backport
	// (PR #119749/#119827). Nothing else changed.
	aes256Version = 7
	maxVersion    = 7
)

// KeyStoreWrapper's crypto parameters.
const (
	saltLen        = 64 // new byte[64] in KeyStoreWrapper.encrypt
	ivLen          = 12 // new byte[12]; GCM's standard nonce size
	tagLen         = 16 // GCM_TAG_BITS = 128
	keyLen128      = 16 // AES_KEY_BITS = 128, versions 3 to 6
	keyLen256      = 32 // AES_KEY_BITS = 256 from version 7
	iterationsOld  = 10_000
	iterationsV6   = 210_000
	hasPasswordOff = headerLen
)

// byteOrder returns the byte order of the ints inside the data block of a file of
// the given version.
func byteOrder(version int) binary.ByteOrder {
	if version >= leVersion {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// Iterations returns the PBKDF2-HMAC-SHA512 iteration count of the given format
// version: the cost of one keystore key derivation (bench/ measures its floor with it).
func Iterations(version int) int {
	if version >= pbkdf2v6Version {
		return iterationsV6
	}
	return iterationsOld
}

// Formats lists the format versions escert reads, oldest first.
func Formats() []int {
	var out []int
	for v := minVersion; v <= maxVersion; v++ {
		out = append(out, v)
	}
	return out
}

// KeyLen returns the AES key length in bytes of the given format version.
func KeyLen(version int) int {
	if version >= aes256Version {
		return keyLen256
	}
	return keyLen128
}

// VersionFor returns the keystore format version to write for a cluster running the
// given Elasticsearch version, written MAJOR.MINOR or MAJOR.MINOR.PATCH: the newest
// version that Elasticsearch reads, which is also the one it upgrades the file to on
// its first start. 7 for 9.x and 8.18 and later, 6 for 8.14 to 8.17 (which refuse
// version 7 as too new), 5 for 8.0 to 8.13 (which refuse version 6), 4 for 6.8 and
// 7.x.
func VersionFor(esVersion string) (int, error) {
	if v, err := esconfig.ParseVersion(esVersion); err == nil {
		major, minor := v.Major, v.Minor
		switch {
		case major == 9, major == 8 && minor >= 18:
			return 7, nil
		case major == 8 && minor >= 14:
			return 6, nil
		case major == 8:
			return 5, nil
		case major == 7, major == 6 && minor == 8:
			return 4, nil
		}
	}
	return 0, fmt.Errorf("unsupported Elasticsearch version %q: escert writes keystores for 6.8, 7.x, 8.x and 9.x, given as MAJOR.MINOR or MAJOR.MINOR.PATCH (for example 8.15 or 7.17.2)", esVersion)
}

// HasPassword reports whether the keystore in data is protected by a non-empty
// password, reading only the header. Elasticsearch's CLI uses this to decide whether
// to prompt; the password itself is only checked by Decode.
func HasPassword(data []byte) (bool, error) {
	if _, err := parseHeader(data); err != nil {
		return false, err
	}
	if len(data) <= hasPasswordOff {
		return false, fmt.Errorf("%w: file ends after the header", ErrCorrupted)
	}
	return parseHasPassword(data[hasPasswordOff])
}

// parseHeader checks the CodecUtil header (CodecUtil.checkHeader) and returns the
// format version.
func parseHeader(data []byte) (int, error) {
	if len(data) < headerLen {
		return 0, fmt.Errorf("%w: file is %d bytes, shorter than the keystore header", ErrCorrupted, len(data))
	}
	if binary.BigEndian.Uint32(data) != codecMagic {
		return 0, fmt.Errorf("%w: not an elasticsearch.keystore file (bad header magic)", ErrCorrupted)
	}
	if int(data[4]) != len(codecName) || string(data[5:5+len(codecName)]) != codecName {
		return 0, fmt.Errorf("%w: not an elasticsearch.keystore file (wrong codec name)", ErrCorrupted)
	}
	v := int32(binary.BigEndian.Uint32(data[headerLen-4:]))
	if v < minVersion || v > maxVersion {
		// A version out of range is corruption unless the checksum vouches for it:
		// then a newer Elasticsearch wrote the file, and the fix is a newer escert.
		if err := checkFooter(data); err != nil {
			return 0, err
		}
		if v > maxVersion {
			return 0, &TooNewError{Version: int(v)}
		}
		return 0, fmt.Errorf("%w: unsupported version %d (escert reads %d to %d)", ErrCorrupted, v, minVersion, maxVersion)
	}
	return int(v), nil
}

func parseHasPassword(b byte) (bool, error) {
	switch b {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: invalid hasPassword byte %d (must be 0 or 1)", ErrCorrupted, b)
}
