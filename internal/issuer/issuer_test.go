package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }

func newLocal(t *testing.T, single bool) *Local {
	t.Helper()
	l, err := NewLocal(rand.Reader, fips.Policy{}, fips.DefaultKey, "prod", 3650, single, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeCADir writes a local issuer's CAs the way cadir.Files lays them out.
func writeCADir(t *testing.T, l *Local, password []byte) string {
	t.Helper()
	dir := t.TempDir()
	layers := []spec.Layer{spec.Transport, spec.HTTP}
	if l.SingleCA() {
		layers = layers[:1]
	}
	for _, layer := range layers {
		base := filepath.Join(dir, cadir.Base(layer, l.SingleCA()))
		key, err := ca.MarshalKeyPEM(rand.Reader, l.CAs[layer].Key, password)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(base+".crt", ca.EncodeCertificates(l.CAs[layer].Cert), 0o644)
		os.WriteFile(base+".key", key, 0o600)
	}
	return dir
}

func TestIssueSignsWithTheCAOfTheLayerAndReturnsLeafThenCA(t *testing.T) {
	l := newLocal(t, false)
	if l.SingleCA() {
		t.Fatal("two CAs reported as one")
	}
	key, _ := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		c := spec.Certificate{Layer: layer, DNSNames: []string{"node1.example.com"}, ServerAuth: true, Days: 30}
		c.Subject.CommonName = "node1"
		chain, err := l.Issue(context.Background(), c, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != 2 || !chain[1].Equal(l.Trust(layer)[0]) {
			t.Fatalf("%s chain does not end with the layer's CA", layer)
		}
		pool := x509.NewCertPool()
		pool.AddCert(chain[1])
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "node1.example.com", CurrentTime: fixedNow()}); err != nil {
			t.Errorf("%s leaf does not verify: %v", layer, err)
		}
	}
	if subj := l.Trust(spec.HTTP)[0].Subject.CommonName; subj != "escert prod http CA" {
		t.Errorf("HTTP CA subject = %q", subj)
	}
}

// ownKey is a backend that makes its keys itself, as Vault's issue mode does: it
// never calls newKey.
type ownKey struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func (o ownKey) Certify(context.Context, spec.Certificate, KeyMaker) (crypto.Signer, []*x509.Certificate, error) {
	return o.key, o.chain, nil
}

func (o ownKey) Trust(spec.Layer) []*x509.Certificate { return nil }

func TestObtainMakesTheKeyOfTheAskedTypeUnlessTheBackendMakesItsOwn(t *testing.T) {
	p384 := fips.KeySpec{Type: fips.ECDSA, Curve: "P-384"}
	theirs, err := ca.GenerateKey(rand.Reader, fips.Policy{}, p384)
	if err != nil {
		t.Fatal(err)
	}
	// P-224 is outside escert's policy, yet Go makes it even under fips140=only.
	weak, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := spec.Certificate{Layer: spec.HTTP, DNSNames: []string{"node1.example.com"}, ServerAuth: true, Days: 30}
	cases := []struct {
		name    string
		iss     Issuer
		ask     fips.KeySpec
		want    crypto.Signer // nil: a new key of the asked type
		wantErr string
	}{
		{"the local CA certifies a key made here, of the asked type", newLocal(t, false), p384, nil, ""},
		{"a backend's own key is kept, whatever was asked", ownKey{key: theirs}, fips.DefaultKey, theirs, ""},
		{"a backend's own key outside the policy is refused", ownKey{key: weak}, fips.DefaultKey, nil, "the issuer's key: curve \"P-224\" is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, _, err := Obtain(context.Background(), tc.iss, c, rand.Reader, fips.Policy{}, tc.ask)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want.Public()) {
					t.Error("the backend's key was replaced")
				}
				return
			}
			if got, _ := fips.SpecOf(key.Public()); got != tc.ask {
				t.Errorf("key %v, want %v", got, tc.ask)
			}
		})
	}
}

func TestLoadLocalReadsBothLayoutsAndEncryptedKeys(t *testing.T) {
	for _, single := range []bool{false, true} {
		l := newLocal(t, single)
		password := []byte("correct horse battery staple")
		dir := writeCADir(t, l, password)
		got, err := LoadLocal(dir, password, fips.Policy{}, rand.Reader, fixedNow)
		if err != nil {
			t.Fatalf("single=%v: %v", single, err)
		}
		if got.SingleCA() != single || !got.CAs[spec.HTTP].Cert.Equal(l.CAs[spec.HTTP].Cert) {
			t.Errorf("single=%v: loaded different CAs", single)
		}
	}
}

func TestLoadLocalNamesTheFileAndTheFix(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		file   string
		want   string
	}{
		{"missing certificate", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "http-ca.crt")) }, "http-ca.crt", "missing: run `escert ca create"},
		{"missing key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "transport-ca.key")) }, "transport-ca.key", "missing: the CA key must sit beside its certificate"},
		{"key of another CA", func(t *testing.T, dir string) {
			other, _ := os.ReadFile(filepath.Join(dir, "transport-ca.key"))
			os.WriteFile(filepath.Join(dir, "http-ca.key"), other, 0o600)
		}, "http-ca.key", "does not match the CA certificate"},
		{"leaf instead of CA", func(t *testing.T, dir string) {
			l := newLocal(t, false)
			key, _ := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
			c := spec.Certificate{Layer: spec.HTTP, DNSNames: []string{"x.example.com"}, ServerAuth: true, Days: 1}
			chain, _ := l.Issue(context.Background(), c, key.Public())
			os.WriteFile(filepath.Join(dir, "http-ca.crt"), ca.EncodeCertificates(chain[0]), 0o644)
		}, "http-ca.crt", "not a CA certificate"},
		{"garbage certificate", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "http-ca.crt"), []byte("junk"), 0o644) }, "http-ca.crt", "neither PEM, a DER certificate nor PKCS#7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCADir(t, newLocal(t, false), nil)
			tc.damage(t, dir)
			_, err := LoadLocal(dir, nil, fips.Policy{}, rand.Reader, fixedNow)
			var in *fault.InputError
			if !errors.As(err, &in) || filepath.Base(in.File) != tc.file || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InputError on %s saying %q", err, tc.file, tc.want)
			}
		})
	}
}

func TestLoadLocalWantsThePassphraseOfAnEncryptedKey(t *testing.T) {
	dir := writeCADir(t, newLocal(t, false), []byte("correct horse battery staple"))
	for _, pw := range [][]byte{nil, []byte("wrong password here")} {
		_, err := LoadLocal(dir, pw, fips.Policy{}, rand.Reader, fixedNow)
		if err == nil || !strings.Contains(err.Error(), "--ca-pass-file or ESCERT_CA_PASSWORD") {
			t.Errorf("password %q: err = %v", pw, err)
		}
	}
}

func TestClusterNameComesBackFromTheCASubject(t *testing.T) {
	for _, single := range []bool{false, true} {
		if name, ok := newLocal(t, single).ClusterName(); !ok || name != "prod" {
			t.Errorf("single=%v: ClusterName() = %q, %v; want prod", single, name, ok)
		}
	}
	foreign := newLocal(t, false)
	foreign.CAs[spec.Transport].Cert.Subject.CommonName = "Elastic Certificate Tool Autogenerated CA"
	if _, ok := foreign.ClusterName(); ok {
		t.Error("a CA escert did not name yielded a cluster name")
	}
}

func TestObtainAfterCtrlCIssuesNothingAndIsAnInterruption(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := spec.Certificate{Instance: "node1", Layer: spec.HTTP, DNSNames: []string{"node1.example.com"}, ServerAuth: true, Days: 30}
	key, chain, err := Obtain(ctx, newLocal(t, false), c, rand.Reader, fips.Policy{}, fips.DefaultKey)
	if key != nil || chain != nil || !errors.Is(err, context.Canceled) || fault.KindOf(err) != fault.Interrupted {
		t.Fatalf("Obtain after cancel = %v, %v, %v (%v); want nothing and an interruption", key, chain, err, fault.KindOf(err))
	}
}

func TestObtainRefusesASubjectTheIssuerRewroteOnlyWhenPeersMatchIt(t *testing.T) {
	l := newLocal(t, false)
	key, err := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	issued := func(name string) []*x509.Certificate {
		raw, subject, err := spec.ParseName(name)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := l.Issue(context.Background(), spec.Certificate{Layer: spec.HTTP, Subject: subject, RawSubject: raw, OtherNames: []string{"admin.search"}, ClientAuth: true, Days: 30}, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		return chain
	}
	raw, subject, err := spec.ParseName("CN=admin,OU=escert-admin,O=search")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		keep     bool
		returned []*x509.Certificate
		wantErr  string
	}{
		{"a kept subject passes", true, issued("CN=admin,OU=escert-admin,O=search"), ""},
		{"a subject cut to its CN is refused, naming both", true, issued("admin"), `the http certificate of "admin" came back with the subject "CN=admin", not the "CN=admin,OU=escert-admin,O=search" asked for`},
		{"a reordered subject is refused", true, issued("O=search,OU=escert-admin,CN=admin"), `not the "CN=admin,OU=escert-admin,O=search"`},
		{"without KeepSubject (Elasticsearch) any subject passes", false, issued("admin"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := spec.Certificate{Instance: "admin", Layer: spec.HTTP, Subject: subject, RawSubject: raw, KeepSubject: tc.keep, ClientAuth: true, Days: 30}
			_, chain, err := Obtain(context.Background(), ownKey{key: key, chain: tc.returned}, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
			if tc.wantErr == "" {
				if err != nil || chain == nil {
					t.Fatalf("Obtain = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || fault.KindOf(err) != fault.Refused {
				t.Fatalf("Obtain = %v (%v); want %q, refused", err, fault.KindOf(err), tc.wantErr)
			}
		})
	}
}
