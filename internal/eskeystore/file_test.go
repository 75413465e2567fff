package eskeystore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSetFileWritesAFileEntryInVersion3AndKeepsIt(t *testing.T) {
	skipEmptyPasswordUnderFIPS(t, nil)
	data, err := os.ReadFile(filepath.Join(realDir, "v3-seed-only.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	value := []byte{0, 1, 2, 0xff}
	if err := k.SetFile("xpack.watcher.encryption_key", value); err != nil {
		t.Fatal(err)
	}
	if err := k.Set("bootstrap.password", []byte("changeme")); err != nil {
		t.Fatal(err)
	}
	out, err := k.Encode(nil, testRand())
	if err != nil {
		t.Fatal(err)
	}
	again, err := Decode(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.entries["xpack.watcher.encryption_key"]; got.kind != typeFile || !bytes.Equal(got.value, value) {
		t.Errorf("file entry = %q %x, want FILE %x", got.kind, got.value, value)
	}
	if got := again.entries["bootstrap.password"].kind; got != typeString {
		t.Errorf("string entry kind = %q, want STRING", got)
	}
}

func TestSetFileRefusesInvalidName(t *testing.T) {
	k, err := New(DefaultVersion, testRand())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetFile("bad name", []byte("x")); err == nil {
		t.Error("SetFile accepted an invalid name")
	}
}
