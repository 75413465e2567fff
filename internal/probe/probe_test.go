package probe

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/target"
)

// fixedNow is the clock of every certificate and probe here; the Go servers check
// client certificates at the same time.
var fixedNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t *testing.T, cn string) *ca.Authority {
	t.Helper()
	policy := fips.ForCurrent(false)
	key, err := ca.GenerateKey(rand.Reader, policy, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.NewRoot(rand.Reader, policy, key, pkix.Name{CommonName: cn}, fixedNow.AddDate(0, 0, -400), fixedNow.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return &ca.Authority{Cert: cert, Key: key}
}

func issue(t *testing.T, a *ca.Authority, leaf ca.Leaf) issued {
	t.Helper()
	policy := fips.ForCurrent(false)
	key, err := ca.GenerateKey(rand.Reader, policy, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.Sign(rand.Reader, policy, leaf, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return issued{cert, key}
}

// pkiSet is built once per test process: a CA, another CA, node certificates of
// several ages and client certificates from both CAs.
type pkiSet struct {
	ca, other               *ca.Authority
	node, expiring, expired issued
	client, foreignClient   issued
}

var pkiOnce struct {
	sync.Once
	p *pkiSet
}

func thePKI(t *testing.T) *pkiSet {
	t.Helper()
	pkiOnce.Do(func() {
		p := &pkiSet{ca: newCA(t, "probe test CA"), other: newCA(t, "other CA")}
		node := func(notBefore, notAfter time.Time) ca.Leaf {
			return ca.Leaf{
				Subject: pkix.Name{CommonName: "node1"}, DNSNames: []string{"node1.escert.test", "localhost"},
				IPs: []net.IP{net.ParseIP("127.0.0.1")}, OtherNames: []string{"node1.node.escert-test"},
				ServerAuth: true, ClientAuth: true, NotBefore: notBefore, NotAfter: notAfter,
			}
		}
		p.node = issue(t, p.ca, node(fixedNow.AddDate(0, 0, -1), fixedNow.AddDate(1, 0, 0)))
		p.expiring = issue(t, p.ca, node(fixedNow.AddDate(0, 0, -1), fixedNow.AddDate(0, 0, 10)))
		p.expired = issue(t, p.ca, node(fixedNow.AddDate(0, 0, -30), fixedNow.AddDate(0, 0, -2)))
		clientLeaf := node(fixedNow.AddDate(0, 0, -1), fixedNow.AddDate(1, 0, 0))
		clientLeaf.Subject.CommonName = "node2"
		p.client = issue(t, p.ca, clientLeaf)
		p.foreignClient = issue(t, p.other, clientLeaf)
		pkiOnce.p = p
	})
	if pkiOnce.p == nil {
		t.Fatal("test PKI not built")
	}
	return pkiOnce.p
}

func pool(cas ...*ca.Authority) *x509.CertPool {
	p := x509.NewCertPool()
	for _, a := range cas {
		p.AddCert(a.Cert)
	}
	return p
}

func keyPair(leaf issued, chain ...*x509.Certificate) tls.Certificate {
	c := tls.Certificate{PrivateKey: leaf.key, Leaf: leaf.cert, Certificate: [][]byte{leaf.cert.Raw}}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// serveTLS runs a Go TLS server on 127.0.0.1 until the test ends. Like realtest's JSSE
// server, it writes one line after each completed handshake and closes.
func serveTLS(t *testing.T, cfg *tls.Config) Target {
	t.Helper()
	cfg.Time = clock
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, ln, func(c net.Conn) {
		if err := c.(*tls.Conn).Handshake(); err == nil {
			io.WriteString(c, "OK\n")
		}
	})
}

// serve accepts connections on ln and hands each to handle, closing it afterwards.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) Target {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			})
		}
	})
	target, err := ParseTarget(ln.Addr().String(), "9200")
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func findingIDs(r Result) []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestProbeGradesWhatTheServerServes(t *testing.T) {
	p := thePKI(t)
	full := keyPair(p.node, p.ca.Cert)
	requireClient := func(max uint16) func(*tls.Config) {
		return func(c *tls.Config) {
			c.ClientAuth, c.ClientCAs, c.MaxVersion = tls.RequireAndVerifyClientCert, pool(p.ca), max
		}
	}
	cases := []struct {
		name         string
		served       tls.Certificate
		server       func(*tls.Config)
		opts         Options
		status       Status
		ids          []string
		verification string
		caSent       bool
	}{
		{"verifies by DNS name", full, nil, Options{Roots: pool(p.ca), Name: "node1.escert.test"}, OK, nil, Verified, true},
		{"verifies by IP address", full, nil, Options{Roots: pool(p.ca)}, OK, nil, Verified, true},
		{"a name the certificate lacks is critical", full, nil, Options{Roots: pool(p.ca), Name: "node2.escert.test"}, StatusCritical, []string{"name-mismatch"}, Verified, true},
		{"skipping the name checks the chain only", full, nil, Options{Roots: pool(p.ca), Name: "node2.escert.test", SkipName: true}, OK, nil, Verified, true},
		{"another CA is critical", full, nil, Options{Roots: pool(p.other)}, StatusCritical, []string{"chain-untrusted"}, Failed, true},
		{"no CA given is not verified but OK", full, nil, Options{}, OK, nil, NotVerified, true},
		{"expiring within warn-days is a warning", keyPair(p.expiring, p.ca.Cert), nil, Options{Roots: pool(p.ca), WarnDays: 30}, StatusWarning, []string{"cert-expiring"}, Verified, true},
		{"expiring after warn-days is OK", keyPair(p.expiring, p.ca.Cert), nil, Options{Roots: pool(p.ca), WarnDays: 5}, OK, nil, Verified, true},
		{"expired is critical, once", keyPair(p.expired, p.ca.Cert), nil, Options{Roots: pool(p.ca)}, StatusCritical, []string{"cert-expired"}, Verified, true},
		{"a leaf without its CA is a warning", keyPair(p.node), nil, Options{Roots: pool(p.ca)}, StatusWarning, []string{"ca-not-sent"}, Verified, false},
		{"a leaf without its CA and no CA given", keyPair(p.node), nil, Options{}, StatusWarning, []string{"ca-not-sent"}, NotVerified, false},
		{"client certificate required, none given, TLS 1.3", full, requireClient(tls.VersionTLS13), Options{Roots: pool(p.ca)}, StatusCritical, []string{"client-cert-rejected"}, Verified, true},
		{"client certificate required, none given, TLS 1.2", full, requireClient(tls.VersionTLS12), Options{Roots: pool(p.ca)}, StatusCritical, []string{"client-cert-rejected"}, Verified, true},
		{"client certificate accepted, TLS 1.3", full, requireClient(tls.VersionTLS13), Options{Roots: pool(p.ca), ClientCertificate: ptr(keyPair(p.client, p.ca.Cert))}, OK, nil, Verified, true},
		{"client certificate accepted, TLS 1.2", full, requireClient(tls.VersionTLS12), Options{Roots: pool(p.ca), ClientCertificate: ptr(keyPair(p.client, p.ca.Cert))}, OK, nil, Verified, true},
		{"client certificate of another CA refused, TLS 1.3", full, requireClient(tls.VersionTLS13), Options{Roots: pool(p.ca), ClientCertificate: ptr(keyPair(p.foreignClient))}, StatusCritical, []string{"client-cert-rejected"}, Verified, true},
		{"client certificate of another CA refused, TLS 1.2", full, requireClient(tls.VersionTLS12), Options{Roots: pool(p.ca), ClientCertificate: ptr(keyPair(p.foreignClient))}, StatusCritical, []string{"client-cert-rejected"}, Verified, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{Certificates: []tls.Certificate{tc.served}}
			if tc.server != nil {
				tc.server(cfg)
			}
			target := serveTLS(t, cfg)
			tc.opts.Now, tc.opts.Timeout = clock, 10*time.Second
			r := One(context.Background(), target, tc.opts)
			if r.Status != tc.status || !slices.Equal(findingIDs(r), tc.ids) {
				t.Fatalf("status %s, findings %v; want %s, %v\n%+v", r.Status, findingIDs(r), tc.status, tc.ids, r.Findings)
			}
			if r.Verification != tc.verification || r.CASent != tc.caSent {
				t.Errorf("verification %q, ca sent %t; want %q, %t (%s)", r.Verification, r.CASent, tc.verification, tc.caSent, r.VerificationError)
			}
			if len(r.Chain) != len(tc.served.Certificate) || r.Chain[0].Subject != "CN=node1" || r.Chain[0].OtherNames[0] != "node1.node.escert-test" {
				t.Errorf("chain not shown: %+v", r.Chain)
			}
			if tc.caSent && r.CAFingerprint != ca.Fingerprint(p.ca.Cert) {
				t.Errorf("CA fingerprint %s, want the CA's %s", r.CAFingerprint, ca.Fingerprint(p.ca.Cert))
			}
			if tc.server != nil && !r.ClientCertRequested {
				t.Error("the client certificate request went unnoticed")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestProbeReportsProtocolCipherAndNames(t *testing.T) {
	p := thePKI(t)
	target := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{keyPair(p.node, p.ca.Cert)}, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}})
	r := One(context.Background(), target, Options{Roots: pool(p.ca), TrustFrom: "ca.crt", Now: clock})
	if r.Protocol != "TLSv1.2" || r.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" {
		t.Errorf("protocol %q, cipher %q", r.Protocol, r.CipherSuite)
	}
	if r.Name != "127.0.0.1" || r.NameMatches == nil || !*r.NameMatches {
		t.Errorf("name %q matches %v", r.Name, r.NameMatches)
	}
	if r.VerifiedTo != "CN=probe test CA" || r.Chain[0].DaysLeft != 365 || r.Chain[0].Key != "ECDSA P-256" {
		t.Errorf("verified to %q, days left %d, key %q", r.VerifiedTo, r.Chain[0].DaysLeft, r.Chain[0].Key)
	}
	var buf bytes.Buffer
	Render(&buf, []Result{r})
	for _, want := range []string{
		"OK 127.0.0.1:", "tls          TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"verified     yes, to CN=probe test CA (trust from ca.crt)", "name         127.0.0.1: matches",
		"ca sent      yes, sha256 " + ca.Fingerprint(p.ca.Cert), "chain[0]: CN=node1", "othername  node1.node.escert-test",
		"sha256     " + ca.Fingerprint(p.node.cert), "chain[1]: CN=probe test CA",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestProbeUntrustedChainIsStillShown(t *testing.T) {
	p := thePKI(t)
	target := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{keyPair(p.node, p.ca.Cert)}})
	r := One(context.Background(), target, Options{Roots: pool(p.other), TrustFrom: "other.crt", Now: clock})
	var buf bytes.Buffer
	Render(&buf, []Result{r})
	for _, want := range []string{"CRITICAL 127.0.0.1:", "critical chain-untrusted: ", "verified     NO (trust from other.crt): x509: certificate signed by unknown authority", "chain[0]: CN=node1", "chain[1]: CN=probe test CA"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, buf.String())
		}
	}
}

// On OpenSearch the leaf's DN comes in the form nodes_dn is matched in, and a chain
// without its CA is fine: no OpenSearch client pins a CA by fingerprint.
func TestProbeOpenSearchGivesTheSecurityDNAndDoesNotAskForTheCA(t *testing.T) {
	p := thePKI(t)
	leaf := issue(t, p.ca, ca.Leaf{
		Subject:  pkix.Name{CommonName: "node,3", Organization: []string{"Example, Inc."}},
		DNSNames: []string{"node3.escert.test"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		ServerAuth: true, ClientAuth: true, NotBefore: fixedNow.AddDate(0, 0, -1), NotAfter: fixedNow.AddDate(1, 0, 0),
	})
	server := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{keyPair(leaf)}})
	cases := []struct {
		engine     target.Target
		status     Status
		ids        []string
		securityDN string
	}{
		{"", StatusWarning, []string{"ca-not-sent"}, ""},
		{"elasticsearch", StatusWarning, []string{"ca-not-sent"}, ""},
		{"opensearch", OK, nil, `CN=node\,3,O=Example\, Inc.`},
	}
	for _, tc := range cases {
		t.Run(string(tc.engine), func(t *testing.T) {
			r := One(context.Background(), server, Options{Roots: pool(p.ca), Engine: tc.engine, Now: clock})
			if r.Status != tc.status || !slices.Equal(findingIDs(r), tc.ids) || r.SecurityDN != tc.securityDN {
				t.Fatalf("status %s, findings %v, security dn %q; want %s, %v, %q", r.Status, findingIDs(r), r.SecurityDN, tc.status, tc.ids, tc.securityDN)
			}
			var buf bytes.Buffer
			Render(&buf, []Result{r})
			if shown := strings.Contains(buf.String(), "security dn  "+tc.securityDN+"\n"); shown != (tc.securityDN != "") {
				t.Errorf("security dn line shown %t, want %t:\n%s", shown, tc.securityDN != "", buf.String())
			}
		})
	}
}

func TestProbeConnectionFailuresAreCriticalWithAClearMessage(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused, _ := ParseTarget(closed.Addr().String(), "9200")
	closed.Close()

	silentLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := serve(t, silentLn, func(c net.Conn) { io.Copy(io.Discard, c) })

	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := serve(t, plainLn, func(c net.Conn) {
		c.Read(make([]byte, 512))
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
	})

	cases := []struct {
		name   string
		target Target
		id     string
		want   string
	}{
		{"nothing listening", refused, "connect-failed", "connection refused: nothing listens on this port"},
		{"a port that never answers", silent, "handshake-failed", "no answer within 300ms"},
		{"plain HTTP", plain, "handshake-failed", "the server answered in plain HTTP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := One(context.Background(), tc.target, Options{Timeout: 300 * time.Millisecond, Now: clock})
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v despite a 300ms timeout", time.Since(start))
			}
			if r.Status != StatusCritical || len(r.Findings) != 1 || r.Findings[0].ID != tc.id || !strings.Contains(r.Findings[0].Message, tc.want) {
				t.Fatalf("status %s, findings %+v; want one %s saying %q", r.Status, r.Findings, tc.id, tc.want)
			}
			if len(r.Chain) != 0 || r.Protocol != "" {
				t.Errorf("chain %v, protocol %q after a failed handshake", r.Chain, r.Protocol)
			}
		})
	}
}

func TestProbeSilentServerAcceptsTheClientCertificateWithinTheTimeout(t *testing.T) {
	// An Elasticsearch transport port says nothing after the handshake: the wait for a
	// TLS 1.3 alert must end with the timeout and count as accepted.
	p := thePKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{keyPair(p.node, p.ca.Cert)}, Time: clock,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool(p.ca),
	})
	if err != nil {
		t.Fatal(err)
	}
	target := serve(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
	r := One(context.Background(), target, Options{Roots: pool(p.ca), Now: clock, Timeout: 500 * time.Millisecond, ClientCertificate: ptr(keyPair(p.client, p.ca.Cert))})
	if r.Status != OK || r.Protocol != "TLSv1.3" || !r.ClientCertSent {
		t.Fatalf("status %s, protocol %s, sent %t: %+v", r.Status, r.Protocol, r.ClientCertSent, r.Findings)
	}
}

func TestProbeKeepsTargetOrderAndRunsConcurrently(t *testing.T) {
	p := thePKI(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{keyPair(p.node, p.ca.Cert)}}
	good := serveTLS(t, cfg)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	bad, _ := ParseTarget(closed.Addr().String(), "9200")
	closed.Close()
	targets := []Target{good, bad, good, bad, good}
	results := Probe(context.Background(), targets, Options{Roots: pool(p.ca), Now: clock, Concurrency: 2})
	for i, r := range results {
		if r.Address != targets[i].Address() {
			t.Errorf("result %d is for %s, want %s", i, r.Address, targets[i].Address())
		}
		if want := map[bool]Status{true: OK, false: StatusCritical}[i%2 == 0]; r.Status != want {
			t.Errorf("result %d: %s, want %s", i, r.Status, want)
		}
	}
	if Worst(results) != StatusCritical || Worst(results[:1]) != OK || Worst(nil) != OK {
		t.Error("Worst does not pick the worst status")
	}
}

func TestClientCertificateRefusesAKeyOfAnotherCertificate(t *testing.T) {
	p := thePKI(t)
	if _, err := ClientCertificate([]*x509.Certificate{p.client.cert}, p.node.key); err == nil {
		t.Error("a key of another certificate was accepted")
	}
	c, err := ClientCertificate([]*x509.Certificate{p.client.cert, p.ca.Cert}, p.client.key)
	if err != nil || len(c.Certificate) != 2 {
		t.Errorf("chain of 2: %v, %v", c, err)
	}
}
