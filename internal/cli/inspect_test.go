package cli

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/eskeystore"
)

// TestInspectReadsP12CertificatesWithoutOpeningTheKeystore: a node's p12 is described
// from its certificates when no password is given, even though the bundle's
// elasticsearch.keystore next to it now has a password nobody gave. Opening that
// keystore would fail, so a report proves it was not opened. A given password still
// decrypts the p12.
func TestInspectReadsP12CertificatesWithoutOpeningTheKeystore(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	node := filepath.Join(out, "nodes", "node1")
	ksPath := filepath.Join(node, "elasticsearch.keystore")
	data, err := os.ReadFile(ksPath)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	p12Password, _ := ks.Get("xpack.security.transport.ssl.keystore.secure_password")
	locked, err := ks.Encode([]byte("a password nobody gave"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ksPath, locked, 0o600); err != nil {
		t.Fatal(err)
	}
	p12Path := filepath.Join(node, "certs", "transport.p12")

	tests := []struct {
		name       string
		environ    map[string]string
		unverified bool
	}{
		{"no password given", nil, true},
		{"password given", map[string]string{"ESCERT_PASSWORD": string(p12Password)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := escert(t, tt.environ, "inspect", "-o", "json", p12Path)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var reports []struct {
				PKCS12 struct {
					Unverified bool `json:"unverified"`
					Keys       []struct {
						Alias string            `json:"alias"`
						Key   string            `json:"key"`
						Chain []json.RawMessage `json:"chain"`
					} `json:"key_entries"`
				} `json:"pkcs12"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 {
				t.Fatalf("not one JSON report (%v): %s", err, r.stdout)
			}
			p := reports[0].PKCS12
			if p.Unverified != tt.unverified || len(p.Keys) != 1 || p.Keys[0].Alias != "transport" || len(p.Keys[0].Chain) != 2 ||
				!strings.Contains(string(p.Keys[0].Chain[0]), "node1.node.elasticsearch") {
				t.Errorf("want unverified %v and key entry transport with node1's chain of 2:\n%s", tt.unverified, r.stdout)
			}
		})
	}

	r := escert(t, nil, "inspect", p12Path)
	if r.code != ExitOK || !strings.Contains(r.stdout, "key not decrypted, MAC not verified") {
		t.Errorf("text report does not say the p12 was read unverified: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
