package eskeystore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Decode parses and decrypts an elasticsearch.keystore file of version 3 to 7. Use
// an empty password for a keystore without one (HasPassword reports which).
//
// The CRC32 footer is checked before anything inside the header is trusted, so any
// damaged byte gives ErrCorrupted; ErrWrongPassword is returned only for an intact
// file whose GCM tag does not verify. Every length field is checked against the
// bytes that remain, so hostile input cannot cause large allocations.
func Decode(data []byte, password []byte) (*Keystore, error) {
	version, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	if err := checkFooter(data); err != nil {
		return nil, err
	}
	if len(data) < headerLen+1+4+footerLen {
		return nil, fmt.Errorf("%w: file is %d bytes, too short to hold a keystore", ErrCorrupted, len(data))
	}
	if _, err := parseHasPassword(data[hasPasswordOff]); err != nil {
		return nil, err
	}
	salt, iv, enc, err := parseData(data[hasPasswordOff+1:len(data)-footerLen], byteOrder(version))
	if err != nil {
		return nil, err
	}
	if err := checkFIPSPassword(password); err != nil {
		return nil, err
	}
	key, err := deriveKey(password, salt, version)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	plaintext, err := open(key, salt, iv, enc)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	entries, err := parsePlaintext(plaintext, version)
	if err != nil {
		return nil, err
	}
	return &Keystore{Version: version, entries: entries}, nil
}

// checkFooter is CodecUtil.checkFooter: footer magic, algorithm id 0 and a CRC32 of
// every byte before the checksum, stored as an int64 whose upper half must be zero.
// The footer is taken from the end of data, so nothing can follow it.
func checkFooter(data []byte) error {
	if len(data) < headerLen+footerLen {
		return fmt.Errorf("%w: file is %d bytes, too short to hold a keystore", ErrCorrupted, len(data))
	}
	footer := data[len(data)-footerLen:]
	if binary.BigEndian.Uint32(footer) != footerMagic {
		return fmt.Errorf("%w: bad footer magic (truncated file or data after the footer)", ErrCorrupted)
	}
	if binary.BigEndian.Uint32(footer[4:]) != crcAlgorithm {
		return fmt.Errorf("%w: unknown checksum algorithm %d", ErrCorrupted, binary.BigEndian.Uint32(footer[4:]))
	}
	want := binary.BigEndian.Uint64(footer[8:])
	if got := crc32.ChecksumIEEE(data[:len(data)-8]); uint64(got) != want {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupted)
	}
	return nil
}

// parseData splits the data block into salt, iv and ciphertext. The block must be
// consumed exactly, as KeyStoreWrapper.load checks.
func parseData(block []byte, order binary.ByteOrder) (salt, iv, enc []byte, err error) {
	r := reader{buf: block, order: order}
	dataLen, err := r.int32("data length")
	if err != nil {
		return nil, nil, nil, err
	}
	if int64(dataLen) != int64(len(r.buf)) {
		return nil, nil, nil, fmt.Errorf("%w: data block length %d does not match the %d bytes before the footer", ErrCorrupted, dataLen, len(r.buf))
	}
	if salt, err = r.fixed("salt", saltLen); err != nil {
		return nil, nil, nil, err
	}
	if iv, err = r.fixed("iv", ivLen); err != nil {
		return nil, nil, nil, err
	}
	if enc, err = r.bytes32("encrypted data"); err != nil {
		return nil, nil, nil, err
	}
	if len(enc) < tagLen {
		return nil, nil, nil, fmt.Errorf("%w: encrypted data is %d bytes, shorter than the GCM tag", ErrCorrupted, len(enc))
	}
	if len(r.buf) != 0 {
		return nil, nil, nil, fmt.Errorf("%w: %d unexpected bytes after the encrypted data", ErrCorrupted, len(r.buf))
	}
	return salt, iv, enc, nil
}

// parsePlaintext reads the decrypted settings, written by Java's DataOutputStream
// and therefore big-endian in every version. Values are copied out of plaintext.
func parsePlaintext(plaintext []byte, version int) (map[string]entry, error) {
	r := reader{buf: plaintext, order: binary.BigEndian}
	n, err := r.int32("number of settings")
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: negative number of settings %d", ErrCorrupted, n)
	}
	entries := map[string]entry{}
	for i := int32(0); i < n; i++ {
		name, err := r.bytes16("setting name")
		if err != nil {
			return nil, err
		}
		var kind string
		if version == 3 {
			t, err := r.bytes16("entry type")
			if err != nil {
				return nil, err
			}
			kind = string(t)
			if kind != typeString && kind != typeFile {
				return nil, fmt.Errorf("%w: setting %q has unknown entry type %q", ErrCorrupted, name, kind)
			}
		}
		value, err := r.bytes32("setting value")
		if err != nil {
			return nil, err
		}
		if _, dup := entries[string(name)]; dup {
			return nil, fmt.Errorf("%w: setting %q appears twice", ErrCorrupted, name)
		}
		entries[string(name)] = entry{value: append([]byte{}, value...), kind: kind}
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes after the settings", ErrCorrupted, len(r.buf))
	}
	return entries, nil
}

// reader consumes a byte slice. Every length it reads is checked against what is
// left before anything is sliced, so it never allocates and never panics.
type reader struct {
	buf   []byte
	order binary.ByteOrder
}

func (r *reader) take(what string, n int) ([]byte, error) {
	if n < 0 || n > len(r.buf) {
		return nil, fmt.Errorf("%w: %s needs %d bytes, %d left", ErrCorrupted, what, n, len(r.buf))
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b, nil
}

func (r *reader) int32(what string) (int32, error) {
	b, err := r.take(what, 4)
	if err != nil {
		return 0, err
	}
	return int32(r.order.Uint32(b)), nil
}

// fixed reads an int32 length that must equal want, then that many bytes.
func (r *reader) fixed(what string, want int) ([]byte, error) {
	n, err := r.int32(what + " length")
	if err != nil {
		return nil, err
	}
	if int(n) != want {
		return nil, fmt.Errorf("%w: %s length is %d, Elasticsearch writes %d", ErrCorrupted, what, n, want)
	}
	return r.take(what, want)
}

// bytes32 reads an int32 length and that many bytes.
func (r *reader) bytes32(what string) ([]byte, error) {
	n, err := r.int32(what + " length")
	if err != nil {
		return nil, err
	}
	return r.take(what, int(n))
}

// bytes16 reads a uint16 length and that many bytes: Java's DataOutput.writeUTF.
func (r *reader) bytes16(what string) ([]byte, error) {
	b, err := r.take(what+" length", 2)
	if err != nil {
		return nil, err
	}
	return r.take(what, int(r.order.Uint16(b)))
}
