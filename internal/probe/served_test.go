package probe

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/realtest"
)

// newIntermediate is a CA certificate issued by parent, as an issuing CA under an
// offline root is.
func newIntermediate(t *testing.T, parent *ca.Authority, cn string, notBefore, notAfter time.Time) *ca.Authority {
	t.Helper()
	key, err := ca.GenerateKey(rand.Reader, fips.ForCurrent(false), fips.DefaultKey)
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

func writePEM(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProbeJudgesWhetherTheServedChainIsComplete runs a real Java (JSSE) server, as
// Elasticsearch is, under a two-level PKI (root -> issuing CA -> node) serving its
// certificate file with or without the intermediate, and probes it with --ca holding
// the root, or the root and the intermediate.
func TestProbeJudgesWhetherTheServedChainIsComplete(t *testing.T) {
	realtest.Require(t, "java")
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	dir := t.TempDir()

	root := &ca.Authority{}
	{
		key, err := ca.GenerateKey(rand.Reader, fips.ForCurrent(false), fips.DefaultKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.NewRoot(rand.Reader, fips.ForCurrent(false), key, pkix.Name{CommonName: "Offline Root CA"}, now.AddDate(-1, 0, 0), now.AddDate(20, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		root.Cert, root.Key = cert, key
	}
	inter := newIntermediate(t, root, "Issuing CA", now.AddDate(0, -6, 0), now.AddDate(5, 0, 0))
	short := newIntermediate(t, root, "Short Issuing CA", now.AddDate(0, -6, 0), now.AddDate(0, 0, 10))
	node := func(a *ca.Authority, notAfter time.Time) issued {
		return issue(t, a, ca.Leaf{
			Subject: pkix.Name{CommonName: "node1"}, DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
			ServerAuth: true, ClientAuth: true, NotBefore: now.AddDate(0, 0, -1), NotAfter: notAfter,
		})
	}
	leaf, shortLeaf := node(inter, now.AddDate(1, 0, 0)), node(short, now.AddDate(0, 0, 5))

	keyFile := func(name string, key crypto.Signer) string {
		pemKey, err := ca.MarshalKeyPEM(rand.Reader, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name, pemKey)
	}
	leafKey, shortKey := keyFile("node.key", leaf.key), keyFile("short.key", shortLeaf.key)
	type served struct {
		key   string
		chain []*x509.Certificate
	}
	chains := map[string]served{
		"leaf":                       {leafKey, []*x509.Certificate{leaf.cert}},
		"leaf+intermediate":          {leafKey, []*x509.Certificate{leaf.cert, inter.Cert}},
		"leaf+intermediate+root":     {leafKey, []*x509.Certificate{leaf.cert, inter.Cert, root.Cert}},
		"leaf+expiring-intermediate": {shortKey, []*x509.Certificate{shortLeaf.cert, short.Cert}},
	}
	servers := map[string]Target{}
	serve := func(name string) Target {
		if target, ok := servers[name]; ok {
			return target
		}
		s := chains[name]
		certFile := writePEM(t, dir, name+".crt", ca.EncodeCertificates(s.chain...))
		addr := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: realtest.Store{KeyPEM: s.key, CertPEM: certFile}})
		target, err := ParseTarget(addr, "9200")
		if err != nil {
			t.Fatal(err)
		}
		servers[name] = target
		return target
	}
	trustRoot, trustBoth := pool(root), pool(root, inter)

	yes, no := ptr(true), ptr(false)
	cases := []struct {
		name     string
		served   string
		roots    *x509.CertPool
		warnDays int
		status   Status
		ids      []string
		complete *bool
		missing  string
		text     string // the chain line of the text output
	}{
		{"leaf and intermediate verify to the root alone", "leaf+intermediate", trustRoot, 0,
			OK, nil, yes, "", fmt.Sprintf("chain        2 sent: leaf, intermediate CN=Issuing CA (until %s, %d days left); complete", inter.Cert.NotAfter.UTC().Format(time.DateOnly), int(inter.Cert.NotAfter.Sub(now).Hours()/24))},
		{"leaf, intermediate and root are complete", "leaf+intermediate+root", trustRoot, 0,
			OK, nil, yes, "", "chain        3 sent: leaf, intermediate CN=Issuing CA (until "},
		{"leaf and intermediate with the intermediate in --ca too are complete", "leaf+intermediate", trustBoth, 0,
			OK, nil, yes, "", "; complete"},
		{"leaf only verifies only thanks to the intermediate in --ca", "leaf", trustBoth, 0,
			StatusWarning, []string{"chain-incomplete", "ca-not-sent"}, no, "CN=Issuing CA", "chain        1 sent: leaf only; INCOMPLETE: CN=Issuing CA not sent"},
		{"leaf only with the root alone in --ca lacks its issuer", "leaf", trustRoot, 0,
			StatusCritical, []string{"chain-untrusted", "chain-incomplete", "ca-not-sent"}, no, "CN=Issuing CA", "; INCOMPLETE: CN=Issuing CA not sent"},
		{"leaf only without --ca is not judged", "leaf", nil, 0,
			StatusWarning, []string{"ca-not-sent"}, nil, "", "chain        1 sent: leaf only\n"},
		{"an intermediate expiring within --warn-days is a warning", "leaf+expiring-intermediate", trustRoot, 30,
			StatusWarning, []string{"cert-expiring", "cert-expiring"}, yes, "", "intermediate CN=Short Issuing CA (until "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := One(context.Background(), serve(tc.served), Options{Roots: tc.roots, TrustFrom: "ca.crt", WarnDays: tc.warnDays, Now: clock, Timeout: 10 * time.Second})
			if r.Status != tc.status || !slices.Equal(findingIDs(r), tc.ids) {
				t.Fatalf("status %s, findings %v; want %s, %v\n%+v", r.Status, findingIDs(r), tc.status, tc.ids, r.Findings)
			}
			if (r.ChainComplete == nil) != (tc.complete == nil) || r.ChainComplete != nil && *r.ChainComplete != *tc.complete || r.MissingIssuer != tc.missing {
				t.Errorf("chain complete %v, missing issuer %q; want %v, %q", deref(r.ChainComplete), r.MissingIssuer, deref(tc.complete), tc.missing)
			}
			want := chains[tc.served].chain
			if len(r.Chain) != len(want) {
				t.Errorf("%d certificates reported, the server sent %d", len(r.Chain), len(want))
			}
			var inters []string
			for _, i := range r.Intermediates {
				if !i.NotAfter.Equal(want[i.Index].NotAfter) || i.Subject != ca.FormatDN(want[i.Index].RawSubject) {
					t.Errorf("intermediate %+v is not chain[%d]", i, i.Index)
				}
				inters = append(inters, i.Subject)
			}
			if len(want) > 1 && !slices.Equal(inters, []string{ca.FormatDN(want[1].RawSubject)}) || len(want) == 1 && len(inters) != 0 {
				t.Errorf("intermediates %v", inters)
			}
			for _, f := range r.Findings {
				if f.ID == "chain-incomplete" && !(strings.Contains(f.Message, `serves only its leaf "CN=node1", issued by `) && strings.Contains(f.Fix, `"CN=Issuing CA" after the leaf in the node's certificate file (PEM) or in its keystore's key entry`)) {
					t.Errorf("chain-incomplete does not say what is missing and where it goes: %s. Fix: %s", f.Message, f.Fix)
				}
			}
			if tc.warnDays > 0 && !slices.ContainsFunc(r.Findings, func(f Finding) bool {
				return strings.Contains(f.Message, `CA certificate "CN=Short Issuing CA" expires`)
			}) {
				t.Errorf("the served intermediate's expiry is not reported: %+v", r.Findings)
			}
			var buf bytes.Buffer
			Render(&buf, []Result{r})
			if os.Getenv("PROBE_DUMP") != "" {
				t.Log("\n" + buf.String())
			}
			if !strings.Contains(buf.String(), tc.text) {
				t.Errorf("text output lacks %q:\n%s", tc.text, buf.String())
			}
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			if got, ok := out["chain_complete"]; ok != (tc.complete != nil) || ok && got != *tc.complete {
				t.Errorf("JSON chain_complete = %v (present %t), want %v", got, ok, deref(tc.complete))
			}
			if list, ok := out["intermediates"].([]any); !ok || len(list) != len(r.Intermediates) {
				t.Errorf("JSON intermediates = %v", out["intermediates"])
			}
		})
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
