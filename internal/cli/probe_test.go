package cli

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
)

// The probes here run on the wall clock: the JSSE servers check client certificates
// against it.

// escertProbe runs `escert probe args...` as Run does.
func escertProbe(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	e := &env{rand: rand.Reader, now: time.Now, getenv: func(k string) string { return environ[k] }}
	var stdout, stderr bytes.Buffer
	code := run(e, append([]string{"probe"}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

const probeInstances = `instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [127.0.0.1]
  - name: node2
    dns: [node2.escert.test]
    ip: [127.0.0.2]
`

var probeFIPS = fips.Current().Name != "off"

// probeBundle bootstraps two nodes with the clock at now and returns the output
// directory. A p12 bundle is skipped in FIPS mode, which writes PEM only; a PEM bundle
// gets the passwords FIPS mode demands.
func probeBundle(t *testing.T, now time.Time, args ...string) string {
	t.Helper()
	var environ map[string]string
	if probeFIPS {
		if !strings.Contains(strings.Join(args, " "), "--format pem") {
			t.Skip("FIPS mode writes PEM only: a FIPS JVM reads PKCS#12 only outside its FIPS module")
		}
		environ = fipsEnv
	}
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", probeInstances)
	out := filepath.Join(dir, "out")
	e := &env{rand: rand.Reader, now: func() time.Time { return now }, getenv: func(k string) string { return environ[k] }}
	var stdout, stderr bytes.Buffer
	argv := append([]string{"bootstrap", "--instances", in, "--out", out, "--quiet", "--cluster-name", "escert-test"}, args...)
	if code := run(e, argv, &stdout, &stderr); code != ExitOK {
		t.Fatalf("bootstrap: exit %d: %s", code, stderr.String())
	}
	return out
}

// nodeSecret reads a secure setting of a p12 bundle node's elasticsearch.keystore.
func nodeSecret(t *testing.T, out, node, setting string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "nodes", node, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := ks.Get(setting)
	if !ok {
		t.Fatalf("%s keystore lacks %s", node, setting)
	}
	return string(v)
}

// p12Store is a node's layer.p12 with its password, as JSSE loads it.
func p12Store(t *testing.T, out, node, layer string) realtest.Store {
	return realtest.Store{
		P12Path:     filepath.Join(out, "nodes", node, "certs", layer+".p12"),
		P12Password: nodeSecret(t, out, node, "xpack.security."+layer+".ssl.keystore.secure_password"),
	}
}

// serveGoTLS serves the PEM chain and key on 127.0.0.1 with Go's crypto/tls, the first
// leafOnly certificate(s) only when leafOnly is set, and returns the address.
func serveGoTLS(t *testing.T, certFile, keyFile string, leafOnly bool) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if leafOnly {
		pair.Certificate = pair.Certificate[:1]
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
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
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "OK\n")
				}
			})
		}
	})
	return ln.Addr().String()
}

func checkProbe(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("the report is the message, but stderr says: %s", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestProbeHTTPP12OnJSSE(t *testing.T) {
	out := probeBundle(t, time.Now())
	addr := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: p12Store(t, out, "node1", "http")})
	_, port, _ := net.SplitHostPort(addr)
	httpCA := filepath.Join(out, "clients", "http-ca.crt")
	transportCA := filepath.Join(out, "ca", "transport-ca.crt")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"verifies by DNS name", []string{addr, "--ca", httpCA, "--name", "node1.escert.test"}, 0,
			[]string{"OK " + addr, "name         node1.escert.test: matches", "verified     yes, to CN=escert escert-test http CA", "ca sent      yes, sha256 ", "dns        node1.escert.test, localhost"}},
		{"verifies by IP 127.0.0.1", []string{"127.0.0.1:" + port, "--ca", httpCA}, 0,
			[]string{"OK 127.0.0.1:" + port, "name         127.0.0.1: matches", "tls          TLSv1.3, TLS_"}},
		{"wrong name is critical", []string{addr, "--ca", httpCA, "--name", "node2.escert.test"}, 2,
			[]string{"CRITICAL " + addr, "critical name-mismatch: the certificate \"CN=node1\" does not name node2.escert.test: it names DNS node1.escert.test"}},
		{"wrong CA is critical but the chain is still printed", []string{addr, "--ca", transportCA}, 2,
			[]string{"critical chain-untrusted: ", "verified     NO (trust from " + transportCA + "): x509: certificate signed by unknown authority", "chain[0]: CN=node1", "chain[1]: CN=escert escert-test http CA"}},
		{"without --ca the chain is not verified", []string{addr}, 0, []string{"verified     not verified: no CA given"}},
		{"a close expiry warns", []string{addr, "--ca", httpCA, "--warn-days", "400"}, 1, []string{"WARNING " + addr, "warning cert-expiring: certificate \"CN=node1\" expires on "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkProbe(t, escertProbe(t, nil, tc.args...), tc.code, tc.want...)
		})
	}
}

// writeClientPEM extracts a node's layer key and chain from its p12 into PEM files,
// the way a PEM-configured node holds them.
func writeClientPEM(t *testing.T, out, node, layer string) (certFile, keyFile string) {
	t.Helper()
	store := p12Store(t, out, node, layer)
	data, err := os.ReadFile(store.P12Path)
	if err != nil {
		t.Fatal(err)
	}
	contents, err := p12.Decode(data, store.P12Password)
	if err != nil {
		t.Fatal(err)
	}
	entry := contents.Keys[0]
	keyPEM, err := ca.MarshalKeyPEM(rand.Reader, entry.Key.(crypto.Signer), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return writeFile(t, dir, layer+".crt", string(ca.EncodeCertificates(entry.Chain...))), writeFile(t, dir, layer+".key", string(keyPEM))
}

func TestProbeTransportP12OnJSSEWithAClientCertificate(t *testing.T) {
	out := probeBundle(t, time.Now())
	// node1's transport layer as its elasticsearch.yml configures it.
	addr := realtest.StartJSSEServer(t, realtest.JSSEConfig{
		Key: p12Store(t, out, "node1", "transport"), Trust: p12Store(t, out, "node1", "transport"),
		ClientAuth: true, TrustSubjectPatterns: []string{"*.node.escert-test"},
	})
	transportCA := filepath.Join(out, "ca", "transport-ca.crt")
	node2Cert, node2Key := writeClientPEM(t, out, "node2", "transport")
	httpCert, httpKey := writeClientPEM(t, out, "node2", "http")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"node2's PEM client material is accepted", []string{addr, "--ca", transportCA, "--cert", node2Cert, "--key", node2Key}, 0,
			[]string{"OK " + addr, "client cert  requested, sent", "othername  node1.node.escert-test", "verified     yes, to CN=escert escert-test transport CA"}},
		{"node2's transport.p12 opens with its bundle's keystore", []string{addr, "--ca", transportCA, "--no-verify-name", "--p12", filepath.Join(out, "nodes", "node2", "certs", "transport.p12")}, 0,
			[]string{"OK " + addr, "client cert  requested, sent"}},
		{"no client certificate is critical", []string{addr, "--ca", transportCA}, 2,
			[]string{"CRITICAL " + addr, "critical client-cert-rejected: ", "the server requires a client certificate and none was given", "client cert  requested, none sent", "chain[0]: CN=node1"}},
		{"a certificate of the HTTP CA is refused", []string{addr, "--ca", transportCA, "--cert", httpCert, "--key", httpKey}, 2,
			[]string{"critical client-cert-rejected: ", "the server refused the client certificate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkProbe(t, escertProbe(t, nil, tc.args...), tc.code, tc.want...)
		})
	}
}

func TestProbeExpiryAndMissingCAOnGoServer(t *testing.T) {
	now := time.Now()
	certs := func(out string) (string, string) {
		dir := filepath.Join(out, "nodes", "node1", "certs")
		return filepath.Join(dir, "http.crt"), filepath.Join(dir, "http.key")
	}
	fresh := probeBundle(t, now, "--format", "pem")
	soon := probeBundle(t, now, "--format", "pem", "--days", "10")
	// Issued five days ago for one day.
	expired := probeBundle(t, now.AddDate(0, 0, -5), "--format", "pem", "--days", "1")
	cases := []struct {
		name     string
		out      string
		leafOnly bool
		args     []string
		code     int
		want     []string
	}{
		{"a fresh chain is OK", fresh, false, nil, 0, []string{"OK 127.0.0.1:", "(364 days left)"}},
		{"expiring within --warn-days warns", soon, false, []string{"--warn-days", "30"}, 1,
			[]string{"WARNING 127.0.0.1:", "warning cert-expiring: certificate \"CN=node1\" expires on ", "in 9 days"}},
		{"expiring after --warn-days is OK", soon, false, []string{"--warn-days", "5"}, 0, []string{"OK 127.0.0.1:"}},
		{"expired is critical", expired, false, nil, 2,
			[]string{"CRITICAL 127.0.0.1:", "critical cert-expired: certificate \"CN=node1\" expired on ", "verified     yes"}},
		{"a server not sending its CA warns", fresh, true, nil, 1,
			[]string{"WARNING 127.0.0.1:", "warning ca-not-sent: ", "ca sent      no", "verified     yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile := certs(tc.out)
			addr := serveGoTLS(t, certFile, keyFile, tc.leafOnly)
			args := append([]string{addr, "--ca", filepath.Join(tc.out, "clients", "http-ca.crt")}, tc.args...)
			checkProbe(t, escertProbe(t, nil, args...), tc.code, tc.want...)
		})
	}
}

func TestProbeNothingListeningIsCriticalWithAClearMessage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	checkProbe(t, escertProbe(t, nil, addr, "--timeout", "2s"), 2,
		"CRITICAL "+addr, "critical connect-failed: connect "+addr+": connection refused: nothing listens on this port")
}

func TestProbeUnusableInputExits3AndProbesNothing(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not.pem", "hello\n")
	wrongPass := writeFile(t, dir, "wrong.pass", "not the password\n")
	// node2's transport.p12; FIPS mode writes none.
	var p12File string
	if !probeFIPS {
		p12File = filepath.Join(probeBundle(t, time.Now()), "nodes", "node2", "certs", "transport.p12")
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no target", nil, "needs at least one HOST[:PORT]"},
		{"a bad port", []string{"node1:https"}, `target "node1:https": port "https"`},
		{"plain http", []string{"http://node1:9200"}, "probe speaks TLS only"},
		{"an unreadable --ca", []string{"127.0.0.1", "--ca", filepath.Join(dir, "missing.crt")}, "--ca " + filepath.Join(dir, "missing.crt") + ": no such file or directory"},
		{"a --ca that is not PEM", []string{"127.0.0.1", "--ca", notPEM}, "--ca " + notPEM + ": neither PEM, a DER certificate nor PKCS#7"},
		{"--cert without --key", []string{"127.0.0.1:9300", "--cert", notPEM}, "--cert and --key go together"},
		{"--p12 with --cert", []string{"127.0.0.1:9300", "--p12", notPEM, "--cert", "x", "--key", "y"}, "give one client certificate"},
		{"a wrong --p12 password", []string{"127.0.0.1:9300", "--p12", p12File, "--pass-file", wrongPass}, "wrong PKCS#12 password: give it with --pass-file or ESCERT_PASSWORD"},
		{"an unknown flag", []string{"127.0.0.1", "--insecure"}, "unknown flag: --insecure"},
		{"a bad output", []string{"127.0.0.1", "-o", "yaml"}, `"yaml" is not an output format: use text or json`},
		{"a zero timeout", []string{"127.0.0.1", "--timeout", "0s"}, "--timeout 0s: must be more than 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "p12 password") && p12File == "" {
				t.Skip("FIPS mode writes no PKCS#12 file")
			}
			r := escertProbe(t, nil, tc.args...)
			if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("exit %d, want 3 and one line with %q\nstdout:\n%s\nstderr:\n%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestProbeJSONIsAnArrayWithOneObjectPerTarget(t *testing.T) {
	out := probeBundle(t, time.Now(), "--format", "pem")
	certs := filepath.Join(out, "nodes", "node1", "certs")
	addr := serveGoTLS(t, filepath.Join(certs, "http.crt"), filepath.Join(certs, "http.key"), false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	r := escertProbe(t, nil, addr, closed, "--ca", filepath.Join(out, "clients", "http-ca.crt"), "--name", "node1.escert.test", "-o", "json")
	if r.code != 2 || r.stderr != "" {
		t.Fatalf("exit %d, want 2 (one target down); stderr: %s", r.code, r.stderr)
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(results) != 2 {
		t.Fatalf("%d objects for 2 targets", len(results))
	}
	up, down := results[0], results[1]
	for key, want := range map[string]any{
		"target": addr, "address": addr, "status": "ok", "protocol": "TLSv1.3", "ca_sent": true,
		"verification": "verified", "name": "node1.escert.test", "name_matches": true, "client_cert_requested": false,
	} {
		if up[key] != want {
			t.Errorf("%s = %v, want %v", key, up[key], want)
		}
	}
	for _, key := range []string{"cipher_suite", "ca_fingerprint", "verified_to", "trust_from"} {
		if s, _ := up[key].(string); s == "" {
			t.Errorf("%s missing: %v", key, up)
		}
	}
	chain, _ := up["chain"].([]any)
	if len(chain) != 2 {
		t.Fatalf("chain = %v", up["chain"])
	}
	leaf := chain[0].(map[string]any)
	for _, key := range []string{"subject", "issuer", "not_after", "days_left", "sha256", "key", "signature", "dns", "ip"} {
		if _, ok := leaf[key]; !ok {
			t.Errorf("chain[0] lacks %s: %v", key, leaf)
		}
	}
	if findings, ok := up["findings"].([]any); !ok || len(findings) != 0 {
		t.Errorf("findings of a healthy target = %v, want []", up["findings"])
	}
	findings, _ := down["findings"].([]any)
	if down["status"] != "critical" || len(findings) != 1 || findings[0].(map[string]any)["id"] != "connect-failed" {
		t.Errorf("the closed port: %v", down)
	}
	if c, ok := down["chain"].([]any); !ok || len(c) != 0 {
		t.Errorf("chain of a failed handshake = %v, want []", down["chain"])
	}
	if strings.Contains(r.stdout, "PRIVATE KEY") {
		t.Error("key material in the JSON")
	}
}
