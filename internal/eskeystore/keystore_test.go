package eskeystore

import (
	"bytes"
	"errors"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testPassword is long enough for FIPS 140-only mode (MinFIPSPasswordLen).
var testPassword = []byte("correct horse battery staple")

// testRand returns a deterministic byte stream, so that encoded files are
// reproducible outside FIPS 140-only mode.
func testRand() io.Reader {
	return mrand.NewChaCha8([32]byte([]byte("escert eskeystore test rand 0001")))
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("rand failed") }

func TestNewCreatesSeedFromElasticsearchAlphabet(t *testing.T) {
	for _, version := range []int{4, 5, 6, 7} {
		k, err := New(version, testRand())
		if err != nil {
			t.Fatalf("New(%d): %v", version, err)
		}
		if k.Version != version {
			t.Errorf("New(%d).Version = %d", version, k.Version)
		}
		if got := k.Names(); !slices.Equal(got, []string{SeedSetting}) {
			t.Errorf("New(%d).Names() = %q, want only %s", version, got, SeedSetting)
		}
		seed, _ := k.Get(SeedSetting)
		if len(seed) != seedLength {
			t.Errorf("seed is %d characters, want %d", len(seed), seedLength)
		}
		for _, c := range string(seed) {
			if !strings.ContainsRune(seedChars, c) {
				t.Errorf("seed character %q is not in KeyStoreWrapper.SEED_CHARS", c)
			}
		}
	}
}

func TestNewSeedDependsOnlyOnRand(t *testing.T) {
	a, _ := New(6, testRand())
	b, _ := New(6, testRand())
	c, _ := New(6, mrand.NewChaCha8([32]byte{1}))
	sa, _ := a.Get(SeedSetting)
	sb, _ := b.Get(SeedSetting)
	sc, _ := c.Get(SeedSetting)
	if !bytes.Equal(sa, sb) {
		t.Errorf("same rand gave seeds %q and %q", sa, sb)
	}
	if bytes.Equal(sa, sc) {
		t.Errorf("different rand gave the same seed %q", sa)
	}
}

func TestNewSeedRejectsBiasedBytes(t *testing.T) {
	// Bytes >= 228 (3*76) would bias the pick and must be skipped: a stream of 0xFF
	// followed by zeros must give a seed of seedChars[0] only.
	stream := append(bytes.Repeat([]byte{0xFF}, 50), make([]byte, 100)...)
	k, err := New(5, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := k.Get(SeedSetting)
	if want := strings.Repeat("A", seedLength); string(seed) != want {
		t.Errorf("seed = %q, want %q", seed, want)
	}
}

func TestNewRefusesVersionsItDoesNotCreate(t *testing.T) {
	for _, version := range []int{0, 2, 3, 8} {
		if _, err := New(version, testRand()); err == nil {
			t.Errorf("New(%d) succeeded, want an error", version)
		}
	}
}

func TestNewReportsRandFailure(t *testing.T) {
	if _, err := New(6, errReader{}); err == nil || !strings.Contains(err.Error(), "keystore.seed") {
		t.Errorf("New with a failing rand: err = %v, want one naming keystore.seed", err)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"bootstrap.password", true},
		{"xpack.security.http.ssl.keystore.secure_password", true},
		{"s3.client.my-client_1.access_key", true},
		{"A.Z.a.z.0.9._-", true},
		{"", false},
		{"has space", false},
		{"tab\there", false},
		{"slash/name", false},
		{"colon:name", false},
		{"caf\u00e9", false},
		{strings.Repeat("a", 65535), true},
		{strings.Repeat("a", 65536), false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidName(%.20q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestSetRefusesInvalidNameAndNamesIt(t *testing.T) {
	k, _ := New(6, testRand())
	err := k.Set("bad name", []byte("secret-value"))
	if err == nil {
		t.Fatal("Set with an invalid name succeeded")
	}
	if !strings.Contains(err.Error(), `"bad name"`) {
		t.Errorf("error %q does not name the setting", err)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Errorf("error %q contains the value", err)
	}
	if _, ok := k.Get("bad name"); ok {
		t.Error("invalid setting was stored")
	}
}

func TestSetGetRemoveNames(t *testing.T) {
	k, _ := New(6, testRand())
	value := []byte("changeme")
	if err := k.Set("bootstrap.password", value); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // Set must have copied the value
	if err := k.Set("a.first", []byte{}); err != nil {
		t.Fatal(err)
	}

	got, ok := k.Get("bootstrap.password")
	if !ok || string(got) != "changeme" {
		t.Fatalf("Get = %q, %v; want changeme, true", got, ok)
	}
	got[0] = 'Y' // Get must return a copy
	if again, _ := k.Get("bootstrap.password"); string(again) != "changeme" {
		t.Errorf("modifying Get's result changed the stored value to %q", again)
	}
	if got, ok := k.Get("a.first"); !ok || len(got) != 0 {
		t.Errorf("Get(empty value) = %q, %v", got, ok)
	}
	if _, ok := k.Get("missing"); ok {
		t.Error("Get(missing) reported a value")
	}

	if want := []string{"a.first", "bootstrap.password", SeedSetting}; !slices.Equal(k.Names(), want) {
		t.Errorf("Names() = %q, want %q", k.Names(), want)
	}
	if !k.Remove("a.first") {
		t.Error("Remove(existing) = false")
	}
	if k.Remove("a.first") {
		t.Error("Remove(already removed) = true")
	}
	if want := []string{"bootstrap.password", SeedSetting}; !slices.Equal(k.Names(), want) {
		t.Errorf("Names() after Remove = %q, want %q", k.Names(), want)
	}
}

func TestVersionFor(t *testing.T) {
	tests := []struct {
		es      string
		version int // 0: error
	}{
		{"9.0", 7},
		{"9.1.3", 7},
		{"9.5.4", 7},
		{"8.18", 7},
		{"8.19.21", 7},
		{"8.17", 6},
		{"8.17.4", 6},
		{"8.14", 6},
		{"8.14.0", 6},
		{"8.15.1", 6},
		{"8.13", 5},
		{"8.13.4", 5},
		{"8.0", 5},
		{"8.0.0", 5},
		{"7.17.22", 4},
		{"7.0", 4},
		{"6.8", 4},
		{"6.8.23", 4},
		{"6.7", 0},
		{"6.3.0", 0},
		{"5.6", 0},
		{"10.0", 0},
		{"8", 0},
		{"9", 0},
		{"", 0},
		{"8.x", 0},
		{"v8.15", 0},
		{"8.15.1.2", 0},
		{"8.15-SNAPSHOT", 0},
		{"8..1", 0},
		{"8.+1", 0},
	}
	for _, tt := range tests {
		got, err := VersionFor(tt.es)
		if tt.version == 0 {
			if err == nil {
				t.Errorf("VersionFor(%q) = %d, want an error", tt.es, got)
			} else if !strings.Contains(err.Error(), "MAJOR.MINOR") || !strings.Contains(err.Error(), "7.x") {
				t.Errorf("VersionFor(%q) error %q does not name the accepted forms", tt.es, err)
			}
			continue
		}
		if err != nil || got != tt.version {
			t.Errorf("VersionFor(%q) = %d, %v; want %d", tt.es, got, err, tt.version)
		}
	}
}
