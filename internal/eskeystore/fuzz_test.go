package eskeystore

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode and HasPassword never panic and only return the
// package's errors, whatever the input. The corpus starts from real and golden
// files; few mutations get past the CRC, which FuzzParsePlaintext makes up for.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/real/*.keystore", "testdata/golden/*.keystore"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = HasPassword(data)
		k, err := Decode(data, nil)
		switch {
		case err == nil && k == nil:
			t.Fatal("Decode returned neither a keystore nor an error")
		case err != nil && !errors.Is(err, ErrCorrupted) && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrPasswordTooShortFIPS):
			t.Fatalf("Decode returned an unexpected error type: %v", err)
		}
	})
}

// FuzzParsePlaintext fuzzes the decrypted-settings parser directly, which Decode
// only reaches behind a valid CRC and GCM tag. Whatever it accepts must survive
// being written out and parsed again.
func FuzzParsePlaintext(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 1, 'x'}, false)
	f.Add([]byte{0, 0, 0, 1, 0, 1, 'a', 0, 4, 'F', 'I', 'L', 'E', 0, 0, 0, 1, 'x'}, true)
	f.Fuzz(func(t *testing.T, data []byte, v3 bool) {
		version := 4
		if v3 {
			version = 3
		}
		entries, err := parsePlaintext(data, version)
		if err != nil {
			if !errors.Is(err, ErrCorrupted) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		k := &Keystore{Version: version, entries: entries}
		again, err := parsePlaintext(k.plaintext(), version)
		if err != nil {
			t.Fatalf("re-parse of written plaintext: %v", err)
		}
		if !maps.EqualFunc(entries, again, func(a, b entry) bool { return string(a.value) == string(b.value) && a.kind == b.kind }) {
			t.Fatal("written plaintext parses to different settings")
		}
	})
}
