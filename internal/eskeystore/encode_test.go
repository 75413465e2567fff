package eskeystore

import (
	"bytes"
	"crypto/fips140"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/golden"
)

// goldenSettings are the settings of every golden keystore, besides keystore.seed.
var goldenSettings = map[string]string{
	"bootstrap.password": "changeme",
	"xpack.security.http.ssl.keystore.secure_password": "http-keystore-pass",
}

// newTestKeystore returns a keystore of the given version holding goldenSettings.
// Version 3 is made by creating a version 4 keystore and lowering Version, the way
// a caller writes back a version 3 file.
func newTestKeystore(t *testing.T, version int) *Keystore {
	t.Helper()
	k, err := New(max(version, 4), testRand())
	if err != nil {
		t.Fatal(err)
	}
	k.Version = version
	for name, value := range goldenSettings {
		if err := k.Set(name, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// skipEmptyPasswordUnderFIPS skips a case that needs an empty or short password,
// which FIPS 140-only mode refuses (ErrPasswordTooShortFIPS).
func skipEmptyPasswordUnderFIPS(t *testing.T, password []byte) {
	t.Helper()
	if fips140.Enforced() && len(password) < MinFIPSPasswordLen {
		t.Skipf("GODEBUG=fips140=only refuses keystore passwords shorter than %d bytes", MinFIPSPasswordLen)
	}
}

var passwordCases = []struct {
	name     string
	password []byte
}{
	{"nopassword", nil},
	{"password", testPassword},
}

func TestEncodeMatchesGoldenFiles(t *testing.T) {
	if fips140.Enforced() {
		t.Skip("GODEBUG=fips140=only draws the GCM IV inside the FIPS module, so output is not reproducible")
	}
	for _, version := range []int{3, 4, 5, 6, 7} {
		for _, pc := range passwordCases {
			t.Run(fmt.Sprintf("v%d-%s", version, pc.name), func(t *testing.T) {
				got, err := newTestKeystore(t, version).Encode(pc.password, testRand())
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", fmt.Sprintf("v%d-%s.keystore", version, pc.name))
				golden.Check(t, path, got)
				// The golden file must also decode to what was encoded.
				k, err := Decode(got, pc.password)
				if err != nil {
					t.Fatalf("Decode(%s): %v", path, err)
				}
				assertSettings(t, k, goldenSettings)
			})
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	for _, version := range []int{3, 4, 5, 6, 7} {
		for _, pc := range passwordCases {
			t.Run(fmt.Sprintf("v%d-%s", version, pc.name), func(t *testing.T) {
				skipEmptyPasswordUnderFIPS(t, pc.password)
				data, err := newTestKeystore(t, version).Encode(pc.password, testRand())
				if err != nil {
					t.Fatal(err)
				}
				assertLayout(t, data, version, len(pc.password) > 0)
			})
		}
	}
}

// assertLayout checks every framing field of an encoded keystore against
// keystore-format.md, byte by byte.
func assertLayout(t *testing.T, data []byte, version int, hasPassword bool) {
	t.Helper()
	wantHeader := append([]byte{0x3F, 0xD7, 0x6C, 0x17, 22}, "elasticsearch.keystore"...)
	wantHeader = append(wantHeader, 0, 0, 0, byte(version))
	if !bytes.Equal(data[:31], wantHeader) {
		t.Errorf("header = % x, want % x", data[:31], wantHeader)
	}
	wantHasPassword := byte(0)
	if hasPassword {
		wantHasPassword = 1
	}
	if data[31] != wantHasPassword {
		t.Errorf("hasPassword byte = %d, want %d", data[31], wantHasPassword)
	}

	// Ints in the data block are big-endian before version 5 and little-endian
	// from version 5 on.
	be := func(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	le := func(n int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(n)) }
	enc := be
	if version >= 5 {
		enc = le
	}
	dataLen := len(data) - 36 - 16
	encLen := dataLen - 4 - 64 - 4 - 12 - 4
	fields := []struct {
		what string
		off  int
		want []byte
	}{
		{"dataLen", 32, enc(dataLen)},
		{"salt length", 36, enc(64)},
		{"iv length", 36 + 4 + 64, enc(12)},
		{"encrypted length", 36 + 4 + 64 + 4 + 12, enc(encLen)},
		{"footer magic", len(data) - 16, []byte{0xC0, 0x28, 0x93, 0xE8}},
		{"checksum algorithm", len(data) - 12, []byte{0, 0, 0, 0}},
		{"checksum high half", len(data) - 8, []byte{0, 0, 0, 0}},
		{"checksum", len(data) - 4, be(int(crc32.ChecksumIEEE(data[:len(data)-8])))},
	}
	for _, f := range fields {
		if got := data[f.off : f.off+4]; !bytes.Equal(got, f.want) {
			t.Errorf("%s = % x, want % x", f.what, got, f.want)
		}
	}
	// The plaintext holds 3 settings; GCM adds a 16-byte tag.
	if minPlain := 4 + 3*(2+4); encLen < minPlain+16 {
		t.Errorf("encrypted length %d is too small for 3 settings and a tag", encLen)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, version := range []int{3, 4, 5, 6, 7} {
		for _, pc := range passwordCases {
			t.Run(fmt.Sprintf("v%d-%s", version, pc.name), func(t *testing.T) {
				skipEmptyPasswordUnderFIPS(t, pc.password)
				k := newTestKeystore(t, version)
				// A file setting with arbitrary bytes and an empty value survive too.
				binaryValue := []byte{0, 1, 2, 0xFF, 0xFE, '\n'}
				if err := k.Set("gcs.client.default.credentials_file", binaryValue); err != nil {
					t.Fatal(err)
				}
				if err := k.Set("empty.value", nil); err != nil {
					t.Fatal(err)
				}
				data, err := k.Encode(pc.password, testRand())
				if err != nil {
					t.Fatal(err)
				}
				hasPassword, err := HasPassword(data)
				if err != nil || hasPassword != (len(pc.password) > 0) {
					t.Errorf("HasPassword = %v, %v; want %v", hasPassword, err, len(pc.password) > 0)
				}
				got, err := Decode(data, pc.password)
				if err != nil {
					t.Fatal(err)
				}
				if got.Version != version {
					t.Errorf("decoded Version = %d, want %d", got.Version, version)
				}
				if !slices.Equal(got.Names(), k.Names()) {
					t.Errorf("decoded names %q, want %q", got.Names(), k.Names())
				}
				for _, name := range k.Names() {
					want, _ := k.Get(name)
					if v, _ := got.Get(name); !bytes.Equal(v, want) {
						t.Errorf("setting %s = %q, want %q", name, v, want)
					}
				}
			})
		}
	}
}

func TestEncodeAddsMissingSeed(t *testing.T) {
	k := newTestKeystore(t, 4)
	k.Remove(SeedSetting)
	data, err := k.Encode(testPassword, testRand())
	if err != nil {
		t.Fatal(err)
	}
	seed, ok := k.Get(SeedSetting)
	if !ok || len(seed) != seedLength {
		t.Fatalf("after Encode, keystore.seed = %q, %v; want a new %d-character seed", seed, ok, seedLength)
	}
	got, err := Decode(data, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if written, _ := got.Get(SeedSetting); !bytes.Equal(written, seed) {
		t.Errorf("written seed %q differs from the one stored in the keystore %q", written, seed)
	}
}

func TestEncodeRefusesUnknownVersion(t *testing.T) {
	for _, version := range []int{0, 2, 8} {
		k := newTestKeystore(t, 4)
		k.Version = version
		if _, err := k.Encode(testPassword, testRand()); err == nil {
			t.Errorf("Encode of version %d succeeded, want an error", version)
		}
	}
}

func TestEncodeReportsRandFailure(t *testing.T) {
	k := newTestKeystore(t, 4)
	_, err := k.Encode(testPassword, errReader{})
	if err == nil || !strings.Contains(err.Error(), "salt") {
		t.Errorf("Encode with a failing rand: err = %v, want one naming the salt", err)
	}
}

func TestEncodeOfZeroKeystoreWorks(t *testing.T) {
	k := &Keystore{Version: 5}
	if err := k.Set("bootstrap.password", []byte("changeme")); err != nil {
		t.Fatal(err)
	}
	data, err := k.Encode(testPassword, testRand())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bootstrap.password", SeedSetting}; !slices.Equal(got.Names(), want) {
		t.Errorf("names = %q, want %q", got.Names(), want)
	}
}

// assertSettings checks that k holds a 20-character keystore.seed plus exactly want.
func assertSettings(t *testing.T, k *Keystore, want map[string]string) {
	t.Helper()
	seed, ok := k.Get(SeedSetting)
	if !ok || len(seed) != seedLength {
		t.Errorf("keystore.seed = %q, %v; want %d characters", seed, ok, seedLength)
	}
	for _, name := range k.Names() {
		if name == SeedSetting {
			continue
		}
		got, _ := k.Get(name)
		if w, ok := want[name]; !ok {
			t.Errorf("unexpected setting %s", name)
		} else if string(got) != w {
			t.Errorf("setting %s = %q, want %q", name, got, w)
		}
	}
	for name := range want {
		if _, ok := k.Get(name); !ok {
			t.Errorf("setting %s is missing", name)
		}
	}
}
