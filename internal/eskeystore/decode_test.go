package eskeystore

import (
	"bytes"
	"crypto/fips140"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Offsets in a keystore file; salt (64) and iv (12) have fixed sizes.
const (
	offVersion  = 27
	offHasPw    = 31
	offDataLen  = 32
	offSaltLen  = 36
	offIVLen    = offSaltLen + 4 + 64
	offEncLen   = offIVLen + 4 + 12
	offEnc      = offEncLen + 4
	realDir     = "testdata/real"
	wrongPasswd = "not the right password"
)

// encodeTest encodes newTestKeystore(version) with password.
func encodeTest(t *testing.T, version int, password []byte) []byte {
	t.Helper()
	data, err := newTestKeystore(t, version).Encode(password, testRand())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixCRC returns a copy of data with the footer checksum recomputed, so that a test
// can reach the checks behind the CRC.
func fixCRC(data []byte) []byte {
	out := bytes.Clone(data)
	binary.BigEndian.PutUint64(out[len(out)-8:], uint64(crc32.ChecksumIEEE(out[:len(out)-8])))
	return out
}

func TestDecodeWrongPassword(t *testing.T) {
	tests := []struct {
		name              string
		version           int
		password, attempt []byte
	}{
		{"v4 other password", 4, testPassword, []byte(wrongPasswd)},
		{"v6 other password", 6, testPassword, []byte(wrongPasswd)},
		{"v5 empty instead of password", 5, testPassword, nil},
		{"v4 password on a keystore without one", 4, nil, []byte(wrongPasswd)},
		{"v3 other password", 3, testPassword, []byte(wrongPasswd)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skipEmptyPasswordUnderFIPS(t, tt.password)
			skipEmptyPasswordUnderFIPS(t, tt.attempt)
			_, err := Decode(encodeTest(t, tt.version, tt.password), tt.attempt)
			if !errors.Is(err, ErrWrongPassword) {
				t.Fatalf("err = %v, want ErrWrongPassword", err)
			}
			if err.Error() != "wrong keystore password" {
				t.Errorf("message = %q, want %q", err, "wrong keystore password")
			}
			if errors.Is(err, ErrCorrupted) {
				t.Error("a wrong password is reported as corruption")
			}
		})
	}
}

// TestDecodeAnyChangedByteIsCorruption flips every byte of a file in two ways.
// Because the CRC32 footer covers every byte and is checked before decryption, each
// change must give ErrCorrupted, never ErrWrongPassword, even inside the salt, iv,
// ciphertext or tag. No change reaches PBKDF2, so the loop is fast.
func TestDecodeAnyChangedByteIsCorruption(t *testing.T) {
	for _, version := range []int{4, 5} {
		data := encodeTest(t, version, testPassword)
		for i := range data {
			for _, mask := range []byte{0x01, 0xFF} {
				mutated := bytes.Clone(data)
				mutated[i] ^= mask
				_, err := Decode(mutated, testPassword)
				if !errors.Is(err, ErrCorrupted) || errors.Is(err, ErrWrongPassword) {
					t.Fatalf("v%d byte %d ^ %#x: err = %v, want ErrCorrupted", version, i, mask, err)
				}
			}
		}
		for n := range len(data) {
			if _, err := Decode(data[:n], testPassword); !errors.Is(err, ErrCorrupted) {
				t.Fatalf("v%d truncated to %d bytes: err = %v, want ErrCorrupted", version, n, err)
			}
		}
		for _, extra := range [][]byte{{0}, {0xC0, 0x28, 0x93, 0xE8}, data[len(data)-16:]} {
			if _, err := Decode(append(bytes.Clone(data), extra...), testPassword); !errors.Is(err, ErrCorrupted) {
				t.Fatalf("v%d with % x after the footer: err = %v, want ErrCorrupted", version, extra, err)
			}
		}
	}
}

// TestDecodeNamesANewerFormatAsTooNewNotCorrupted: an intact file of a format
// newer than escert reads comes from a newer Elasticsearch (each node upgrades its
// keystore when it starts), so the error points at upgrading escert.
func TestDecodeNamesANewerFormatAsTooNewNotCorrupted(t *testing.T) {
	data := encodeTest(t, 7, testPassword)
	binary.BigEndian.PutUint32(data[offVersion:], 8)
	data = fixCRC(data)
	for name, call := range map[string]func() error{
		"Decode":      func() error { _, err := Decode(data, testPassword); return err },
		"HasPassword": func() error { _, err := HasPassword(data); return err },
	} {
		err := call()
		var tooNew *TooNewError
		if !errors.As(err, &tooNew) || tooNew.Version != 8 || errors.Is(err, ErrCorrupted) {
			t.Fatalf("%s: err = %v, want a TooNewError for format 8", name, err)
		}
		if !strings.Contains(err.Error(), "upgrade escert") {
			t.Errorf("%s: %q does not say to upgrade escert", name, err)
		}
	}
}

func TestDecodeReportsWhatIsCorrupted(t *testing.T) {
	put := func(d []byte, off int, order binary.ByteOrder, v int32) { order.PutUint32(d[off:], uint32(v)) }
	tests := []struct {
		name   string
		mutate func(d []byte, order binary.ByteOrder) []byte
		fixCRC bool
		want   string
	}{
		{"empty file", func(d []byte, _ binary.ByteOrder) []byte { return nil }, false, "shorter than the keystore header"},
		{"bad header magic", func(d []byte, _ binary.ByteOrder) []byte { d[0] ^= 1; return d }, true, "bad header magic"},
		{"wrong codec name", func(d []byte, _ binary.ByteOrder) []byte { d[5] = 'E'; return d }, true, "wrong codec name"},
		{"wrong codec name length", func(d []byte, _ binary.ByteOrder) []byte { d[4] = 21; return d }, true, "wrong codec name"},
		{"version 8 with a bad checksum", func(d []byte, _ binary.ByteOrder) []byte { put(d, offVersion, binary.BigEndian, 8); return d }, false,
			"keystore is corrupted: checksum mismatch"},
		{"version 2", func(d []byte, _ binary.ByteOrder) []byte { put(d, offVersion, binary.BigEndian, 2); return d }, true, "unsupported version 2"},
		{"negative version", func(d []byte, _ binary.ByteOrder) []byte { put(d, offVersion, binary.BigEndian, -1); return d }, true, "unsupported version -1"},
		{"checksum mismatch", func(d []byte, _ binary.ByteOrder) []byte { d[offEnc] ^= 1; return d }, false, "keystore is corrupted: checksum mismatch"},
		{"checksum high half set", func(d []byte, _ binary.ByteOrder) []byte { d[len(d)-8] = 1; return d }, false, "checksum mismatch"},
		{"unknown checksum algorithm", func(d []byte, _ binary.ByteOrder) []byte { d[len(d)-9] = 1; return d }, true, "unknown checksum algorithm 1"},
		{"byte after footer", func(d []byte, _ binary.ByteOrder) []byte { return append(d, 0) }, false, "bad footer magic"},
		{"truncated", func(d []byte, _ binary.ByteOrder) []byte { return d[:len(d)-1] }, false, "bad footer magic"},
		{"hasPassword 2", func(d []byte, _ binary.ByteOrder) []byte { d[offHasPw] = 2; return d }, true, "invalid hasPassword byte 2"},
		{"data length too large", func(d []byte, o binary.ByteOrder) []byte {
			put(d, offDataLen, o, int32(len(d)-offDataLen-4-16+1))
			return d
		}, true, "data block length"},
		{"data length negative", func(d []byte, o binary.ByteOrder) []byte { put(d, offDataLen, o, -1); return d }, true, "data block length -1"},
		{"data length huge", func(d []byte, o binary.ByteOrder) []byte { put(d, offDataLen, o, 0x7FFFFFFF); return d }, true, "data block length"},
		{"salt length 63", func(d []byte, o binary.ByteOrder) []byte { put(d, offSaltLen, o, 63); return d }, true, "salt length is 63"},
		{"iv length 16", func(d []byte, o binary.ByteOrder) []byte { put(d, offIVLen, o, 16); return d }, true, "iv length is 16"},
		{"encrypted length past the end", func(d []byte, o binary.ByteOrder) []byte {
			put(d, offEncLen, o, int32(len(d)-offEnc-16+1))
			return d
		}, true, "encrypted data needs"},
		{"encrypted length huge", func(d []byte, o binary.ByteOrder) []byte { put(d, offEncLen, o, 0x7FFFFFFF); return d }, true, "encrypted data needs 2147483647 bytes"},
		{"encrypted length negative", func(d []byte, o binary.ByteOrder) []byte { put(d, offEncLen, o, -5); return d }, true, "encrypted data needs -5 bytes"},
		{"bytes after the encrypted data", func(d []byte, o binary.ByteOrder) []byte {
			out := append(bytes.Clone(d[:len(d)-16]), 0xAA)
			out = append(out, d[len(d)-16:]...)
			put(out, offDataLen, o, int32(len(out)-offDataLen-4-16))
			return out
		}, true, "1 unexpected bytes after the encrypted data"},
		{"encrypted data shorter than the tag", func(d []byte, o binary.ByteOrder) []byte {
			out := bytes.Clone(d[:offEnc+15])
			out = append(out, d[len(d)-16:]...)
			put(out, offEncLen, o, 15)
			put(out, offDataLen, o, int32(len(out)-offDataLen-4-16))
			return out
		}, true, "shorter than the GCM tag"},
	}
	for _, version := range []int{4, 7} {
		data := encodeTest(t, version, testPassword)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("v%d/%s", version, tt.name), func(t *testing.T) {
				mutated := tt.mutate(bytes.Clone(data), byteOrder(version))
				if tt.fixCRC {
					mutated = fixCRC(mutated)
				}
				_, err := Decode(mutated, testPassword)
				if !errors.Is(err, ErrCorrupted) {
					t.Fatalf("v%d: err = %v, want ErrCorrupted", version, err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("v%d: err = %q, want it to contain %q", version, err, tt.want)
				}
				if strings.Contains(err.Error(), string(testPassword)) {
					t.Errorf("v%d: error contains the password", version)
				}
			})
		}
	}
}

func TestParsePlaintext(t *testing.T) {
	be32 := func(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
	str16 := func(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	entry := func(name, value string) []byte { return join(str16(name), be32(int32(len(value))), []byte(value)) }
	entry3 := func(name, kind, value string) []byte {
		return join(str16(name), str16(kind), be32(int32(len(value))), []byte(value))
	}

	tests := []struct {
		name    string
		version int
		in      []byte
		want    map[string]string // nil: error
		wantErr string
	}{
		{"no settings", 4, be32(0), map[string]string{}, ""},
		{"two settings", 5, join(be32(2), entry("a", "1"), entry("b.c", "")), map[string]string{"a": "1", "b.c": ""}, ""},
		{"v3 STRING and FILE", 3, join(be32(2), entry3("a", "STRING", "x"), entry3("f", "FILE", "\x00\x01")),
			map[string]string{"a": "x", "f": "\x00\x01"}, ""},
		{"empty", 4, nil, nil, "number of settings needs 4 bytes, 0 left"},
		{"negative count", 4, be32(-1), nil, "negative number of settings -1"},
		{"huge count", 4, join(be32(0x7FFFFFFF), entry("a", "1")), nil, "setting name length needs 2 bytes, 0 left"},
		{"fewer settings than counted", 4, join(be32(2), entry("a", "1")), nil, "setting name length needs"},
		{"bytes after the settings", 4, join(be32(1), entry("a", "1"), []byte{0}), nil, "1 unexpected bytes after the settings"},
		{"duplicate name", 4, join(be32(2), entry("a", "1"), entry("a", "2")), nil, `setting "a" appears twice`},
		{"name past the end", 4, join(be32(1), []byte{0, 9, 'a'}), nil, "setting name needs 9 bytes, 1 left"},
		{"negative value length", 4, join(be32(1), str16("a"), be32(-1)), nil, "setting value needs -1 bytes"},
		{"huge value length", 4, join(be32(1), str16("a"), be32(0x7FFFFFFF)), nil, "setting value needs 2147483647 bytes, 0 left"},
		{"v3 unknown entry type", 3, join(be32(1), entry3("a", "BLOB", "x")), nil, `unknown entry type "BLOB"`},
		{"v3 missing entry type", 3, join(be32(1), entry("a", "x")), nil, "entry type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := parsePlaintext(tt.in, tt.version)
			if tt.want == nil {
				if !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrCorrupted containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for name, e := range entries {
				got[name] = string(e.value)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDecodeCorruptPlaintextBehindValidTag checks that plaintext problems are
// reported as corruption end to end, for a file whose GCM tag is valid.
func TestDecodeCorruptPlaintextBehindValidTag(t *testing.T) {
	plaintext := []byte{0, 0, 0, 0, 0xAA} // zero settings, then a stray byte
	salt := make([]byte, saltLen)
	key, err := deriveKey(testPassword, salt, 4)
	if err != nil {
		t.Fatal(err)
	}
	iv, enc, err := seal(key, salt, plaintext, testRand())
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	data = binary.BigEndian.AppendUint32(data, codecMagic)
	data = append(append(data, byte(len(codecName))), codecName...)
	data = binary.BigEndian.AppendUint32(data, 4)
	data = append(data, 1)
	data = binary.BigEndian.AppendUint32(data, uint32(4+saltLen+4+ivLen+4+len(enc)))
	data = append(binary.BigEndian.AppendUint32(data, saltLen), salt...)
	data = append(binary.BigEndian.AppendUint32(data, ivLen), iv...)
	data = append(binary.BigEndian.AppendUint32(data, uint32(len(enc))), enc...)
	data = binary.BigEndian.AppendUint32(data, footerMagic)
	data = fixCRC(append(data, make([]byte, 12)...))

	_, err = Decode(data, testPassword)
	if !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), "unexpected bytes after the settings") {
		t.Errorf("err = %v, want ErrCorrupted about bytes after the settings", err)
	}
}

func TestHasPassword(t *testing.T) {
	withPassword := encodeTest(t, 5, testPassword)
	realV6, err := os.ReadFile(filepath.Join(realDir, "v6-seed-only.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		want    bool
		wantErr string
	}{
		{"password", withPassword, true, ""},
		{"empty password", realV6, false, ""},
		{"reads only the header", withPassword[:offHasPw+1], true, ""},
		{"bad byte", append(bytes.Clone(withPassword[:offHasPw]), 2), false, "invalid hasPassword byte 2"},
		{"ends after the header", withPassword[:offHasPw], false, "file ends after the header"},
		{"not a keystore", []byte("PK\x03\x04 this is a zip file, not a keystore"), false, "bad header magic"},
		{"future version without a footer", append(bytes.Clone(withPassword[:offVersion]), 0, 0, 0, 8, 0), false, "too short to hold a keystore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HasPassword(tt.data)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrCorrupted containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("HasPassword = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// realKeystores are files written by real Elasticsearch installs, all with an empty
// password (see testdata/real/README.md). keystore.seed is in every one.
var realKeystores = []struct {
	file     string
	version  int
	settings map[string]string
}{
	{"v3-seed-only.keystore", 3, map[string]string{}},
	{"v4-ldap-bind-password.keystore", 4, map[string]string{
		"xpack.security.authc.realms.ldap.ldap1.secure_bind_password": "pass",
	}},
	{"v5-s3-credentials.keystore", 5, map[string]string{
		"s3.client.default.access_key": "AKIAIOSFODNN7EXAMPLE",
		"s3.client.default.secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	}},
	{"v6-seed-only.keystore", 6, map[string]string{}},
}

func TestDecodeRealKeystores(t *testing.T) {
	for _, rk := range realKeystores {
		t.Run(rk.file, func(t *testing.T) {
			skipEmptyPasswordUnderFIPS(t, nil)
			data, err := os.ReadFile(filepath.Join(realDir, rk.file))
			if err != nil {
				t.Fatal(err)
			}
			if hasPassword, err := HasPassword(data); err != nil || hasPassword {
				t.Errorf("HasPassword = %v, %v; want false", hasPassword, err)
			}
			k, err := Decode(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if k.Version != rk.version {
				t.Errorf("Version = %d, want %d", k.Version, rk.version)
			}
			assertSettings(t, k, rk.settings)
			seed, _ := k.Get(SeedSetting)
			for _, c := range string(seed) {
				if !strings.ContainsRune(seedChars, c) {
					t.Errorf("real seed character %q is not in seedChars", c)
				}
			}
			if rk.version == 3 && k.entries[SeedSetting].kind != typeString {
				t.Errorf("v3 entry type = %q, want %q", k.entries[SeedSetting].kind, typeString)
			}
		})
	}
}

// TestRealKeystoresAddSettingAndWriteBackInSameVersion is what escert does to an
// existing keystore: add a setting, write the file back in the version it had.
func TestRealKeystoresAddSettingAndWriteBackInSameVersion(t *testing.T) {
	for _, rk := range realKeystores {
		t.Run(rk.file, func(t *testing.T) {
			skipEmptyPasswordUnderFIPS(t, nil)
			data, err := os.ReadFile(filepath.Join(realDir, rk.file))
			if err != nil {
				t.Fatal(err)
			}
			k, err := Decode(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			seed, _ := k.Get(SeedSetting)
			if err := k.Set("bootstrap.password", []byte("changeme")); err != nil {
				t.Fatal(err)
			}
			out, err := k.Encode(nil, testRand())
			if err != nil {
				t.Fatal(err)
			}
			if got := int(binary.BigEndian.Uint32(out[offVersion:])); got != rk.version {
				t.Errorf("written version = %d, want %d", got, rk.version)
			}
			assertLayout(t, out, rk.version, false)
			again, err := Decode(out, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := maps.Clone(rk.settings)
			want["bootstrap.password"] = "changeme"
			assertSettings(t, again, want)
			if got, _ := again.Get(SeedSetting); !bytes.Equal(got, seed) {
				t.Errorf("keystore.seed changed from %q to %q", seed, got)
			}
		})
	}
}

// TestRealKeystoresRefuseWrongPassword runs in FIPS 140-only mode too, since the
// attempted password is long enough.
func TestRealKeystoresRefuseWrongPassword(t *testing.T) {
	for _, rk := range realKeystores {
		data, err := os.ReadFile(filepath.Join(realDir, rk.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(data, []byte(wrongPasswd)); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: err = %v, want ErrWrongPassword", rk.file, err)
		}
	}
}

func TestFIPSRefusesShortPasswords(t *testing.T) {
	if !fips140.Enforced() {
		t.Skip("only under GODEBUG=fips140=only (TestUnderFIPS140Only runs it so)")
	}
	realV4, err := os.ReadFile(filepath.Join(realDir, "v4-ldap-bind-password.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, password := range [][]byte{nil, []byte("13 bytes long")} {
		if _, err := newTestKeystore(t, 6).Encode(password, testRand()); !errors.Is(err, ErrPasswordTooShortFIPS) {
			t.Errorf("Encode with %d-byte password: err = %v, want ErrPasswordTooShortFIPS", len(password), err)
		}
		if _, err := Decode(realV4, password); !errors.Is(err, ErrPasswordTooShortFIPS) {
			t.Errorf("Decode with %d-byte password: err = %v, want ErrPasswordTooShortFIPS", len(password), err)
		}
	}
	// The IV comes from the FIPS module, not from rand: the same rand gives two
	// different files that both decode.
	password := []byte("14 bytes long!")
	a := encodeTest(t, 4, password)
	b := encodeTest(t, 4, password)
	if bytes.Equal(a, b) {
		t.Error("two encodings with the same rand are identical; the IV should come from the FIPS module")
	}
	for _, data := range [][]byte{a, b} {
		if _, err := Decode(data, password); err != nil {
			t.Errorf("Decode: %v", err)
		}
	}
}

// TestUnderFIPS140Only runs this package's tests again in a child process with
// GODEBUG=fips140=only, so a plain go test covers both crypto paths.
func TestUnderFIPS140Only(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("already running under GODEBUG=fips140=only")
	}
	if testing.Short() {
		t.Skip("-short: skipping the GODEBUG=fips140=only child run")
	}
	if strings.Contains(runtime.Version(), "boringcrypto") {
		t.Skip("a BoringCrypto build cannot switch on Go's FIPS 140-3 module")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^Test", "-test.skip=^TestUnderFIPS140Only$")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=only")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests under GODEBUG=fips140=only failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child run printed no PASS:\n%s", out)
	}
}
