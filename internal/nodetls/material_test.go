package nodetls

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
)

func TestJavaOnlyStoresAreToldByTypeOrMagic(t *testing.T) {
	p12ish := []byte{0x30, 0x82, 0x01, 0x00}
	cases := []struct {
		name string
		typ  string
		data []byte
		want bool
	}{
		{"PKCS#12 by type and bytes", "PKCS12", p12ish, false},
		{"no type, PKCS#12 bytes", "", p12ish, false},
		{"JKS type", "jks", p12ish, true},
		{"BCFKS type", "BCFKS", p12ish, true},
		{"JKS magic", "", []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, true},
		{"JCEKS magic", "", []byte{0xce, 0xce, 0xce, 0xce}, true},
		{"too short to tell", "", []byte{0xfe}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Store{Type: tc.typ}).JavaOnly(tc.data); got != tc.want {
				t.Errorf("JavaOnly = %v, want %v", got, tc.want)
			}
		})
	}
}

// A layer's PEM key is read with the size bound of a key and decrypted with the
// passphrase the keystore holds.
func TestDecodeKeyUsesTheLayersPassphrase(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	data, err := ca.MarshalKeyPEM(rand.Reader, key, []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "http.key"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	settings := parse(t, "xpack.security.http.ssl.key: http.key\nxpack.security.http.ssl.certificate: http.crt\n")
	cases := []struct {
		name    string
		secrets map[string]string
		wantErr error
	}{
		{"right passphrase", map[string]string{"xpack.security.http.ssl.secure_key_passphrase": "passphrase"}, nil},
		{"wrong passphrase", map[string]string{"xpack.security.http.ssl.secure_key_passphrase": "another"}, ca.ErrKeyPassword},
		{"no passphrase", nil, ca.ErrKeyPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ks *eskeystore.Keystore
			if tc.secrets != nil {
				ks = keystore(t, tc.secrets)
			}
			l := Read(dir, settings, ks).Layer(esconfig.HTTP)
			read, err := l.Key.Read()
			if err != nil {
				t.Fatal(err)
			}
			signer, err := l.DecodeKey(read)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && !key.PublicKey.Equal(signer.Public()) {
				t.Error("decoded another key")
			}
		})
	}
}
