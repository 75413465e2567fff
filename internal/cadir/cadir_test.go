package cadir_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// These tests load CA directories the way every issuing command does, and hand what
// would have been issued to openssl, which is what decides whether a CA was usable.
// The clock is the real one, because openssl judges validity by it.

// bothLayers are the layers every issuing command loads.
var bothLayers = []spec.Layer{spec.Transport, spec.HTTP}

// makeCA makes a CA valid from notBefore to notAfter, self-signed or issued by
// parent, with the extensions escert gives a CA unless edit changes them.
func makeCA(t *testing.T, cn string, notBefore, notAfter time.Time, parent *ca.Authority, edit func(*x509.Certificate)) *ca.Authority {
	t.Helper()
	key, err := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	ski, err := ca.SubjectKeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, SubjectKeyId: ski,
	}
	if edit != nil {
		edit(tmpl)
	}
	parentCert, signer := tmpl, key
	if parent != nil {
		parentCert, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca.Authority{Cert: cert, Key: key}
}

// writeCA writes a CA's key and the given certificates as dir/base.crt and .key.
func writeCA(t *testing.T, dir, base string, a *ca.Authority, certs ...*x509.Certificate) {
	t.Helper()
	key, err := ca.MarshalKeyPEM(rand.Reader, a.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, base+".crt"), ca.EncodeCertificates(certs...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, base+".key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, ca.EncodeCertificates(certs...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRefusesACAThatCannotIssueNow(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	tests := []struct {
		name string
		ca   func(t *testing.T) *ca.Authority
		want string // "" : loads
	}{
		{"valid", func(t *testing.T) *ca.Authority { return makeCA(t, "valid", now.Add(-day), now.Add(365*day), nil, nil) }, ""},
		{"without keyUsage, as certutil made CAs before 8.18", func(t *testing.T) *ca.Authority {
			return makeCA(t, "certutil", now.Add(-day), now.Add(365*day), nil, func(c *x509.Certificate) { c.KeyUsage = 0 })
		}, ""},
		{"not yet valid", func(t *testing.T) *ca.Authority {
			return makeCA(t, "future", now.Add(2*day), now.Add(365*day), nil, nil)
		},
			"the CA is not valid before " + now.Add(2*day).UTC().Format(time.DateTime) + " UTC and this machine's clock says " + now.UTC().Format(time.DateTime) + " UTC: fix the clock, or wait"},
		{"expired", func(t *testing.T) *ca.Authority { return makeCA(t, "past", now.Add(-30*day), now.Add(-day), nil, nil) },
			"the CA expired on " + now.Add(-day).UTC().Format(time.DateOnly) + ", and so has every certificate it signed: create new CAs (escert ca create) and issue the nodes from them"},
		{"keyUsage without keyCertSign", func(t *testing.T) *ca.Authority {
			return makeCA(t, "nosign", now.Add(-day), now.Add(365*day), nil, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign })
		}, "the CA lacks keyCertSign in its keyUsage, so openssl and Java reject every certificate it signs"},
		{"CA:FALSE", func(t *testing.T) *ca.Authority {
			return makeCA(t, "notca", now.Add(-day), now.Add(365*day), nil, func(c *x509.Certificate) { c.IsCA = false; c.KeyUsage = x509.KeyUsageDigitalSignature })
		}, "the CA has no basicConstraints CA:TRUE, so it is not a CA certificate: point --ca-dir at a CA's files"},
	}
	http := makeCA(t, "http", now.Add(-day), now.Add(365*day), nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := tt.ca(t)
			writeCA(t, dir, "transport-ca", a, a.Cert)
			writeCA(t, dir, "http-ca", http, http.Cert)
			_, err := cadir.Load(dir, bothLayers, nil, fips.Policy{}, now)
			var in *fault.InputError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.want != "" && (!errors.As(err, &in) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "transport-ca.crt")+": "+tt.want)):
				t.Fatalf("Load = %v, want an InputError on transport-ca.crt saying %q", err, tt.want)
			}
			// What the CA would have issued, signed past the check: openssl must agree.
			// (-x509_strict also refuses a CA without keyUsage, which Java and plain
			// openssl accept: that CA is checked without it.)
			key, _ := ca.GenerateKey(rand.Reader, fips.Policy{}, fips.DefaultKey)
			leaf, err := a.Sign(rand.Reader, fips.Policy{}, ca.Leaf{
				Subject: pkix.Name{CommonName: "node1"}, DNSNames: []string{"node1.example.com"}, ServerAuth: true,
				NotBefore: a.Cert.NotBefore.Add(10 * time.Minute), NotAfter: a.Cert.NotAfter,
			}, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			caFile, leafFile := writePEM(t, dir, "trust.crt", a.Cert), writePEM(t, dir, "leaf.crt", leaf)
			if a.Cert.KeyUsage == 0 {
				return
			}
			if err := realtest.OpenSSLVerify(t, caFile, leafFile, "sslserver"); (err == nil) != (tt.want == "") {
				t.Errorf("openssl verify of a leaf from this CA: %v; escert loaded it: %v", err, tt.want == "")
			}
		})
	}
}

func TestLoadUsesAnIntermediateCAsChainAndRefusesOtherCertificates(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	root := makeCA(t, "root", now.Add(-day), now.Add(3650*day), nil, nil)
	intermediate := makeCA(t, "intermediate", now.Add(-day), now.Add(365*day), root, nil)
	other := makeCA(t, "other", now.Add(-day), now.Add(365*day), nil, nil)
	expiredRoot := makeCA(t, "old root", now.Add(-30*day), now.Add(-day), nil, nil)
	underExpired := makeCA(t, "under old root", now.Add(-day), now.Add(365*day), expiredRoot, nil)
	http := makeCA(t, "http", now.Add(-day), now.Add(365*day), nil, nil)
	tests := []struct {
		name  string
		ca    *ca.Authority
		certs []*x509.Certificate
		want  string
	}{
		{"intermediate and its root", intermediate, []*x509.Certificate{intermediate.Cert, root.Cert}, ""},
		{"a CA and an unrelated CA", other, []*x509.Certificate{other.Cert, root.Cert}, "certificate 2 (CN=root) did not issue the certificate before it: the file may hold only the CA certificate, followed by the CAs that issued it in order; remove the others"},
		{"a root followed by more", root, []*x509.Certificate{root.Cert, root.Cert}, "certificate 2 (CN=root) did not issue the certificate before it"},
		{"the chain in the wrong order", intermediate, []*x509.Certificate{intermediate.Cert, other.Cert, root.Cert}, "certificate 2 (CN=other) did not issue"},
		{"an expired root above the CA", underExpired, []*x509.Certificate{underExpired.Cert, expiredRoot.Cert}, "certificate 2 (CN=old root) expired on " + now.Add(-day).UTC().Format(time.DateOnly)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCA(t, dir, "transport-ca", tt.ca, tt.certs...)
			writeCA(t, dir, "http-ca", http, http.Cert)
			cas, err := cadir.Load(dir, bothLayers, nil, fips.Policy{}, now)
			if tt.want != "" {
				var in *fault.InputError
				if !errors.As(err, &in) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "transport-ca.crt")+": "+tt.want) {
					t.Fatalf("Load = %v, want an InputError on transport-ca.crt saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			local := &issuer.Local{CAs: cas, Rand: rand.Reader, Now: func() time.Time { return now }}
			if trust := local.Trust(spec.Transport); len(trust) != 2 || !trust[0].Equal(intermediate.Cert) || !trust[1].Equal(root.Cert) {
				t.Fatalf("Trust(transport) = %d certificates, want the intermediate then the root", len(trust))
			}
			c := spec.Certificate{Layer: spec.Transport, Subject: pkix.Name{CommonName: "node1"}, DNSNames: []string{"node1.example.com"}, ServerAuth: true, ClientAuth: true, Days: 30}
			_, chain, err := issuer.Obtain(context.Background(), local, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 3 || !chain[1].Equal(intermediate.Cert) || !chain[2].Equal(root.Cert) {
				t.Fatalf("chain of %d certificates, want leaf, intermediate, root", len(chain))
			}
			// A client trusting only the root verifies the node through the chain it sends.
			if err := realtest.OpenSSLVerify(t, writePEM(t, dir, "root.crt", root.Cert), writePEM(t, dir, "leaf.crt", chain[0]), "sslserver", writePEM(t, dir, "intermediate.crt", chain[1])); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLoadRefusesADirectoryWithBothLayouts(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	for _, base := range []string{"ca", "transport-ca", "http-ca"} {
		a := makeCA(t, base, now.Add(-time.Hour), now.Add(24*time.Hour), nil, nil)
		writeCA(t, dir, base, a, a.Cert)
	}
	_, err := cadir.Load(dir, bothLayers, nil, fips.Policy{}, now)
	want := dir + ": holds both ca.crt (one CA for both layers) and transport-ca.crt and http-ca.crt (one CA per layer), and escert would use only one: " +
		"remove ca.crt and ca.key if the nodes trust the per-layer CAs, or transport-ca.* and http-ca.* if they trust ca.crt"
	var in *fault.InputError
	if !errors.As(err, &in) || err.Error() != want {
		t.Fatalf("Load = %v\nwant %s", err, want)
	}
}

// TestManifestOfIntermediateCAsUnderOneRootShowsTwoCAs: two layers' intermediates
// chaining to one root are two CAs; the root both trust is listed once, for both.
func TestManifestOfIntermediateCAsUnderOneRootShowsTwoCAs(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	root := makeCA(t, "root", now.Add(-day), now.Add(3650*day), nil, nil)
	dir := t.TempDir()
	for _, layer := range []string{"transport", "http"} {
		a := makeCA(t, layer+" intermediate", now.Add(-day), now.Add(365*day), root, nil)
		writeCA(t, dir, layer+"-ca", a, a.Cert, root.Cert)
	}
	cas, err := cadir.Load(dir, bothLayers, nil, fips.Policy{}, now)
	if err != nil {
		t.Fatal(err)
	}
	local := &issuer.Local{CAs: cas, Rand: rand.Reader, Now: func() time.Time { return now }}
	inst, err := spec.NewInstance("app", "", spec.Client, nil, nil, nil, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: []spec.Instance{inst}}, bundle.Options{
		Format: bundle.PEM, Key: fips.DefaultKey, Policy: fips.Policy{}, Rand: rand.Reader, Now: func() time.Time { return now },
		Spec: spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true, Days: 30}, KeystoreVersion: eskeystore.DefaultVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Manifest.CAs {
		got = append(got, c.Layer+" "+c.Subject)
	}
	want := []string{"transport CN=transport intermediate", "transport+http CN=root", "http CN=http intermediate"}
	if res.Manifest.SingleCA || !slices.Equal(got, want) {
		t.Errorf("manifest: single_ca %v, CAs %q; want two CAs %q", res.Manifest.SingleCA, got, want)
	}
}

// TestFilesWritesWhatLoadReadsBack: each layout Files writes (one CA per layer, one
// for both, a rotation's one new layer) has its names and modes, and Load gives back
// the same CAs, their keys encrypted under the password and refused without it.
func TestFilesWritesWhatLoadReadsBack(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	transport := makeCA(t, "transport", now.Add(-day), now.Add(365*day), nil, nil)
	http := makeCA(t, "http", now.Add(-day), now.Add(365*day), nil, nil)
	password := []byte("correct horse battery staple")
	tests := []struct {
		name string
		cas  map[spec.Layer]*ca.Authority
		want map[string]fs.FileMode
	}{
		{"one CA per layer", map[spec.Layer]*ca.Authority{spec.Transport: transport, spec.HTTP: http},
			map[string]fs.FileMode{"ca/transport-ca.crt": 0o644, "ca/transport-ca.key": 0o600, "ca/http-ca.crt": 0o644, "ca/http-ca.key": 0o600}},
		{"one CA for both layers", map[spec.Layer]*ca.Authority{spec.Transport: transport, spec.HTTP: transport},
			map[string]fs.FileMode{"ca/ca.crt": 0o644, "ca/ca.key": 0o600}},
		{"one layer alone, as a rotation's new CA", map[spec.Layer]*ca.Authority{spec.HTTP: http},
			map[string]fs.FileMode{"ca/http-ca.crt": 0o644, "ca/http-ca.key": 0o600}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := cadir.Files(tt.cas, "ca/", rand.Reader, password)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]fs.FileMode{}
			for _, f := range files {
				got[f.Path] = f.Mode
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("files %v, want %v", got, tt.want)
			}
			out := filepath.Join(t.TempDir(), "out")
			if _, err := (atomicfs.Writer{}).WriteTree(out, files, false, now); err != nil {
				t.Fatal(err)
			}
			layers := slices.Sorted(maps.Keys(tt.cas))
			loaded, err := cadir.Load(filepath.Join(out, "ca"), layers, password, fips.Policy{}, now)
			if err != nil {
				t.Fatal(err)
			}
			for layer, want := range tt.cas {
				if a := loaded[layer]; a == nil || !a.Cert.Equal(want.Cert) || ca.KeyMatches(a.Cert, a.Key) != nil {
					t.Errorf("%s: loaded %+v, want the CA written", layer, a)
				}
			}
			if _, err := cadir.Load(filepath.Join(out, "ca"), layers, nil, fips.Policy{}, now); err == nil || !strings.Contains(err.Error(), "--ca-pass-file or ESCERT_CA_PASSWORD") {
				t.Errorf("Load without the password = %v, want it asked for", err)
			}
		})
	}
}
