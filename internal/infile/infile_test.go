package infile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRefusesFilesPastTheKindsLimit(t *testing.T) {
	dir := t.TempDir()
	small := Kind{"a test file", 8}
	tests := []struct {
		name    string
		data    string
		wantErr bool
	}{
		{"empty", "", false},
		{"at the limit", "12345678", false},
		{"one byte past", "123456789", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			data, err := Read(p, small)
			if tt.wantErr {
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "8 bytes") {
					t.Fatalf("Read = %v, want a too-large error naming %s and the limit", err, p)
				}
				return
			}
			if err != nil || string(data) != tt.data {
				t.Fatalf("Read = %q, %v; want %q", data, err, tt.data)
			}
		})
	}
}

func TestReadStopsAnEndlessDevice(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := Read("/dev/zero", Secret)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "read /dev/zero: larger than a password file can be (64 KiB): check the path names the right file" {
		t.Fatalf("Read(/dev/zero) = %v", err)
	}
}
