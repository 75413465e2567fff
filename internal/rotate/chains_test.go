package rotate_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/rotate"
)

// countingPassword is a keystore password source that counts how often Chains asks.
type countingPassword struct{ asked int }

func (c *countingPassword) get([]byte) ([]byte, error) {
	c.asked++
	return nil, nil
}

// assertSameChains fails unless got holds the layers and leaves of want.
func assertSameChains(t *testing.T, got, want []rotate.NodeCert) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Chains found %d identities, Discover %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Layer != want[i].Layer || !got[i].Leaf().Equal(want[i].Leaf()) || len(got[i].Chain) != len(want[i].Chain) {
			t.Errorf("identity %d: Chains read %s %q, Discover %s %q", i, got[i].Layer, got[i].Leaf().Subject, want[i].Layer, want[i].Leaf().Subject)
		}
		if got[i].Key != nil {
			t.Errorf("identity %d: Chains loaded a key; it reads certificates only", i)
		}
	}
}

func TestChainsReadsAnEscertNodeWithoutOpeningItsKeystore(t *testing.T) {
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		t.Run(string(format), func(t *testing.T) {
			n := installedNode(t, format, 365, 3650)
			var pw countingPassword
			got, err := rotate.Chains(n.config, pw.get)
			if err != nil {
				t.Fatal(err)
			}
			if pw.asked != 0 {
				t.Errorf("Chains opened the keystore %d time(s); escert's files read without it", pw.asked)
			}
			want, err := rotate.Discover(n.config, nil)
			if err != nil {
				t.Fatal(err)
			}
			assertSameChains(t, got, want)
		})
	}
}

func TestChainsOpensTheKeystoreOnceForEncryptedCertificates(t *testing.T) {
	openssl := realtest.Require(t, "openssl")
	n := installedNode(t, bundle.P12, 365, 3650)
	want, err := rotate.Discover(n.config, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite transport.p12 as OpenSSL 3 writes it by default: certificates in a
	// PBES2-encrypted safe, which nothing reads without the password.
	data, err := os.ReadFile(filepath.Join(n.config, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := ks.Get("xpack.security.transport.ssl.keystore.secure_password")
	var transport rotate.NodeCert
	for _, c := range want {
		if c.Layer == "transport" {
			transport = c
		}
	}
	tmp := t.TempDir()
	keyPEM, err := ca.MarshalKeyPEM(nil, transport.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"key.pem": keyPEM, "cert.pem": ca.EncodeCertificates(transport.Chain...), "pw": password} {
		if err := os.WriteFile(filepath.Join(tmp, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p12Path := transport.P12Path
	if !filepath.IsAbs(p12Path) {
		p12Path = filepath.Join(n.config, p12Path)
	}
	out, err := exec.Command(openssl, "pkcs12", "-export", "-in", filepath.Join(tmp, "cert.pem"), "-inkey", filepath.Join(tmp, "key.pem"),
		"-passout", "file:"+filepath.Join(tmp, "pw"), "-out", p12Path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
	}
	encrypted, err := os.ReadFile(p12Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p12.Certificates(encrypted); !errors.Is(err, p12.ErrEncrypted) {
		t.Fatalf("p12.Certificates of openssl's default file: %v, want ErrEncrypted: the test needs encrypted certificates", err)
	}
	var pw countingPassword
	got, err := rotate.Chains(n.config, pw.get)
	if err != nil {
		t.Fatal(err)
	}
	if pw.asked != 1 {
		t.Errorf("Chains asked for the keystore password %d times, want once (for the encrypted transport.p12)", pw.asked)
	}
	assertSameChains(t, got, want)
}
