package check_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// twoLevel is a company PKI: an offline root, an issuing intermediate under it, and a
// second intermediate that expires soon.
type twoLevel struct {
	root, issuing, short *ca.Authority
}

func newTwoLevel(t *testing.T) twoLevel {
	t.Helper()
	policy := fips.ForCurrent(false)
	key := mustKey(t)
	cert, err := ca.NewRoot(rand.Reader, policy, key, pkix.Name{CommonName: "Offline Root CA"}, fixedNow.AddDate(-2, 0, 0), fixedNow.AddDate(20, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	root := &ca.Authority{Cert: cert, Key: key}
	return twoLevel{
		root:    root,
		issuing: intermediateCA(t, root, "Issuing CA", fixedNow.AddDate(5, 0, 0)),
		short:   intermediateCA(t, root, "Short Issuing CA", fixedNow.AddDate(0, 0, 20)),
	}
}

func intermediateCA(t *testing.T, parent *ca.Authority, cn string, notAfter time.Time) *ca.Authority {
	t.Helper()
	key := mustKey(t)
	ski, err := ca.SubjectKeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: fixedNow.AddDate(-1, 0, 0), NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		SubjectKeyId: ski, AuthorityKeyId: parent.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.Cert, key.Public(), parent.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca.Authority{Cert: cert, Key: key, Issuers: parent.Chain()}
}

// reissueUnder signs a new certificate for old's key, names and usages from a, valid
// from fixedNow for at most days.
func reissueUnder(t *testing.T, a *ca.Authority, old *x509.Certificate, layer string, days int) *x509.Certificate {
	t.Helper()
	c, err := spec.FromCertificate(old, spec.Layer(layer))
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf(fixedNow)
	leaf.NotAfter = fixedNow.AddDate(0, 0, days)
	cert, err := a.Sign(rand.Reader, fips.ForCurrent(false), leaf, old.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// pemChain gives the PEM HTTP layer a certificate file holding chain(leaf) and a
// certificate_authorities file holding trust.
func pemChain(pki *twoLevel, issuer func(twoLevel) *ca.Authority, days int, chain func(leaf *x509.Certificate) []*x509.Certificate, trust ...func(twoLevel) *ca.Authority) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		old := readCerts(t, filepath.Join(dir, "certs", "http.crt"))[0]
		leaf := reissueUnder(t, issuer(*pki), old, "http", days)
		writeFile("certs/http.crt", ca.EncodeCertificates(chain(leaf)...), 0o644)(t, dir)
		var cas []*x509.Certificate
		for _, a := range trust {
			cas = append(cas, a(*pki).Cert)
		}
		writeFile("certs/http-ca.crt", ca.EncodeCertificates(cas...), 0o644)(t, dir)
	}
}

// p12Chain rewrites the transport layer's PKCS#12 file (its keystore and truststore)
// with a key entry holding chain(leaf) and trusted entries for trust.
func p12Chain(pki *twoLevel, chain func(leaf *x509.Certificate) []*x509.Certificate, trust ...func(twoLevel) *ca.Authority) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		pw, _ := openKeystore(t, dir).Get(esconfig.SSLPrefix("transport") + "keystore.secure_password")
		path := filepath.Join(dir, "certs", "transport.p12")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		contents, err := p12.Decode(data, string(pw))
		if err != nil {
			t.Fatal(err)
		}
		entry := contents.Keys[0]
		if _, ok := entry.Key.(crypto.Signer); !ok {
			t.Fatal("the transport key is not a signer")
		}
		leaf := reissueUnder(t, pki.issuing, entry.Chain[0], "transport", 365)
		entry.Chain = chain(leaf)
		var trusted []p12.TrustedCert
		for _, a := range trust {
			trusted = append(trusted, p12.TrustedCert{Alias: strings.ToLower(strings.ReplaceAll(a(*pki).Cert.Subject.CommonName, " ", "-")), Cert: a(*pki).Cert})
		}
		out, err := p12.Encode(rand.Reader, string(pw), &entry, trusted)
		if err != nil {
			t.Fatal(err)
		}
		writeFile("certs/transport.p12", out, 0o600)(t, dir)
	}
}

// trustCAFile makes the p12 transport layer trust certificate_authorities holding
// trust, instead of its PKCS#12 file's trusted entries.
func trustCAFile(pki *twoLevel, trust ...func(twoLevel) *ca.Authority) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		var cas []*x509.Certificate
		for _, a := range trust {
			cas = append(cas, a(*pki).Cert)
		}
		writeFile("certs/transport-ca.crt", ca.EncodeCertificates(cas...), 0o644)(t, dir)
		replaceInYml("xpack.security.transport.ssl.truststore.path: certs/transport.p12\n",
			`xpack.security.transport.ssl.certificate_authorities: [ "certs/transport-ca.crt" ]`+"\n")(t, dir)
	}
}

// TestChainsMustCarryTheirIntermediates: under root -> issuing CA -> node, a node
// whose certificate file or key entry lacks the issuing CA cannot be verified by
// clients trusting only the root, even where its own trust holds the intermediate.
func TestChainsMustCarryTheirIntermediates(t *testing.T) {
	pki := newTwoLevel(t)
	root := func(p twoLevel) *ca.Authority { return p.root }
	issuing := func(p twoLevel) *ca.Authority { return p.issuing }
	short := func(p twoLevel) *ca.Authority { return p.short }
	leafOnly := func(leaf *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{leaf} }
	withIssuing := func(leaf *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{leaf, pki.issuing.Cert} }
	withShort := func(leaf *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{leaf, pki.short.Cert} }
	withRoot := func(leaf *x509.Certificate) []*x509.Certificate {
		return []*x509.Certificate{leaf, pki.issuing.Cert, pki.root.Cert}
	}
	rootFirst := func(leaf *x509.Certificate) []*x509.Certificate {
		return []*x509.Certificate{leaf, pki.root.Cert, pki.issuing.Cert}
	}

	cases := []struct {
		name    string
		variant string
		edit    func(*testing.T, string)
		want    []string
		file    string // of the chain-incomplete finding
		says    []string
	}{
		{name: "PEM leaf and intermediate, root trusted", variant: "pem", edit: pemChain(&pki, issuing, 365, withIssuing, root)},
		{name: "PEM leaf, intermediate and root, root trusted", variant: "pem", edit: pemChain(&pki, issuing, 365, withRoot, root)},
		{name: "PEM chain in another order still reaches the root", variant: "pem", edit: pemChain(&pki, issuing, 365, rootFirst, root)},
		{name: "PEM leaf and intermediate, intermediate alone trusted", variant: "pem", edit: pemChain(&pki, issuing, 365, withIssuing, issuing)},
		{name: "PEM leaf only, root and intermediate trusted: only the trust holds the issuer", variant: "pem",
			edit: pemChain(&pki, issuing, 365, leafOnly, root, issuing),
			want: []string{"warning:chain-incomplete"}, file: "certs/http.crt",
			says: []string{`certs/http.crt holds only the leaf "CN=node1", issued by the intermediate CA "CN=Issuing CA", which only xpack.security.http.ssl.certificate_authorities holds`,
				`take the intermediate CA "CN=Issuing CA" from xpack.security.http.ssl.certificate_authorities and append it to certs/http.crt, after the leaf`}},
		{name: "PEM leaf only, root trusted: the issuer is missing", variant: "pem",
			edit: pemChain(&pki, issuing, 365, leafOnly, root),
			want: []string{"problem:chain-incomplete", "problem:chain-untrusted"}, file: "certs/http.crt",
			says: []string{`issued by "CN=Issuing CA", which neither it nor xpack.security.http.ssl.certificate_authorities holds`,
				`if "CN=Issuing CA" is an intermediate CA, append it to certs/http.crt, after the leaf`}},
		{name: "PEM leaf and an intermediate expiring within --warn-days", variant: "pem",
			edit: pemChain(&pki, short, 10, withShort, root),
			want: []string{"warning:cert-expiring"},
			says: []string{`CA certificate "CN=Short Issuing CA" expires on ` + fixedNow.AddDate(0, 0, 20).Format(time.DateOnly)}},
		{name: "p12 key entry with leaf and intermediate, root trusted", variant: "p12", edit: p12Chain(&pki, withIssuing, root)},
		// Java rebuilds a key entry's chain from every certificate in the file, as p12
		// does: an intermediate stored as a trusted entry beside the leaf is sent.
		{name: "p12 key entry with the leaf only and the intermediate as a trusted entry", variant: "p12", edit: p12Chain(&pki, leafOnly, root, issuing)},
		{name: "p12 key entry with the leaf only, root and intermediate in certificate_authorities", variant: "p12",
			edit: all(p12Chain(&pki, leafOnly), trustCAFile(&pki, root, issuing)),
			want: []string{"warning:chain-incomplete"}, file: "certs/transport.p12",
			says: []string{`certs/transport.p12 holds only the leaf "CN=node1", issued by the intermediate CA "CN=Issuing CA", which only xpack.security.transport.ssl.certificate_authorities holds`,
				`rebuild certs/transport.p12 with it after the leaf in the key entry's chain`}},
		{name: "p12 key entry with the leaf only, root alone trusted", variant: "p12", edit: p12Chain(&pki, leafOnly, root),
			want: []string{"problem:chain-incomplete", "problem:chain-untrusted"}, file: "certs/transport.p12",
			says: []string{`which neither it nor xpack.security.transport.ssl.truststore.path holds`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := secureConfig(t, tc.variant)
			tc.edit(t, dir)
			got := run(t, dir, fixedNow, defaultOptions())
			if os.Getenv("CHECK_DUMP") != "" {
				t.Log("\n" + dump(got))
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("got %v, want %v:\n%s", ids(got), tc.want, dump(got))
			}
			text := dump(got)
			for _, s := range tc.says {
				if !strings.Contains(text, s) {
					t.Errorf("the findings do not say %q:\n%s", s, text)
				}
			}
			for _, f := range got {
				if f.ID == "chain-incomplete" && f.File != tc.file {
					t.Errorf("chain-incomplete names %s, want %s", f.File, tc.file)
				}
			}
		})
	}
}
