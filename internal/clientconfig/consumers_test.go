package clientconfig_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// These tests hand the generated settings to the programs that read them, or to the
// closest stand-in available: curl runs curl.sh itself; Node's tls (Kibana) and a JSSE
// client (Logstash is a JVM program) load the CA the settings name; a Go client does
// what Beats do with ssl.ca_trusted_fingerprint. The server is a JSSE server with a
// node's http.p12, as Elasticsearch serves it.

const consumerInstances = `
instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [127.0.0.1]
  - name: node2
    dns: [node2.escert.test]
  - name: kibana
    type: kibana
    dns: [kibana.escert.test]
    client_auth: true
`

// bootstrapped is one real bundle shared by the consumer tests, with the client
// settings generated from its manifest.json and clients/http-ca.crt as
// `escert client-config` does.
var bootstrapped struct {
	once sync.Once
	dir  string
	err  error
}

func realBundle(t *testing.T) string {
	t.Helper()
	bootstrapped.once.Do(func() {
		bootstrapped.dir, bootstrapped.err = buildBundle()
	})
	if bootstrapped.err != nil {
		t.Fatal(bootstrapped.err)
	}
	return bootstrapped.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bootstrapped.dir != "" {
		os.RemoveAll(filepath.Dir(bootstrapped.dir))
	}
	os.Exit(code)
}

func buildBundle() (string, error) {
	const cluster = "escert-test"
	// Certificates must be valid now for the real consumers, which use the wall clock.
	opts := bundle.Options{
		Format: bundle.P12, Key: fips.DefaultKey, Policy: fips.ForCurrent(false),
		Spec:            spec.Options{ClusterName: cluster, TrustRestrictions: true, Localhost: true, Days: 30},
		KeystoreVersion: eskeystore.DefaultVersion, TransportVerification: "certificate",
		Rand: rand.Reader, Now: time.Now, Version: "test",
	}
	instances, err := spec.ParseInstances("instances.yml", []byte(consumerInstances))
	if err != nil {
		return "", err
	}
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 365, false, opts.Now)
	if err != nil {
		return "", err
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "bootstrap-password"}, opts)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "escert-clientconfig-")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "bundle")
	if _, err := (atomicfs.Writer{}).WriteTree(dir, res.Files, false, opts.Now()); err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(dir, manifest.File))
	if err != nil {
		return "", err
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return "", err
	}
	httpCA, err := os.ReadFile(filepath.Join(dir, "clients", "http-ca.crt"))
	if err != nil {
		return "", err
	}
	files, err := clientconfig.Files(clientconfig.Input{Manifest: m, HTTPCA: httpCA, Rand: rand.Reader})
	if err != nil {
		return "", err
	}
	// WriteInto replaces: the bootstrap may already have written these files.
	if err := (atomicfs.Writer{}).WriteInto(dir, files); err != nil {
		return "", err
	}
	return dir, nil
}

// startNode serves HTTPS with a node's http.p12 as Elasticsearch's HTTP layer does
// (keystore only, no client authentication) and returns its address.
func startNode(t *testing.T, dir, node string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "nodes", node, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	password, ok := ks.Get("xpack.security.http.ssl.keystore.secure_password")
	if !ok {
		t.Fatalf("%s keystore lacks the http.p12 password", node)
	}
	return realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: realtest.Store{
		P12Path: filepath.Join(dir, "nodes", node, "certs", "http.p12"), P12Password: string(password),
	}})
}

// onHost maps a path the settings name on a client host to the bundle file the
// operator copies there.
func onHost(t *testing.T, dir, p string) string {
	t.Helper()
	for prefix, from := range map[string]string{
		clientconfig.KibanaCertDir + "/":   filepath.Join(dir, "clients", "kibana"),
		clientconfig.LogstashCertDir + "/": filepath.Join(dir, "clients"),
		clientconfig.BeatsCertDir + "/":    filepath.Join(dir, "clients"),
	} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			return filepath.Join(from, rest)
		}
	}
	t.Fatalf("%s is in no directory the settings use", p)
	return ""
}

func readSettings(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "clients", name))
	if err != nil {
		t.Fatal(err)
	}
	return parseYAML(t, data)
}

// requireCurl returns curl's path, or skips (fails under ESCERT_REQUIRE_TOOLS=1).
func requireCurl(t *testing.T) string { return realtest.Require(t, "curl") }

// curl exit codes for TLS failures (curl's libcurl-errors): a handshake refused, a
// certificate that does not verify or name the host, an unusable CA file.
var curlTLSErrors = map[int]string{35: "SSL connect error", 51: "peer certificate name mismatch", 58: "local certificate problem",
	60: "peer certificate cannot be authenticated", 77: "CA file problem", 83: "issuer check failed", 90: "pinned key mismatch", 91: "invalid certificate status"}

// runCurlScript runs the generated curl.sh as an operator would, with curl sent to
// addr for the script's host name, a password on the command line instead of the
// prompt (it goes to the test server, which ignores it) and -v for the TLS details.
func runCurlScript(t *testing.T, dir, addr string) (code int, out string) {
	t.Helper()
	requireCurl(t)
	script, err := os.ReadFile(filepath.Join(dir, "clients", clientconfig.CurlFile))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^exec curl .* https://([^/:]+):(\d+)/$`).FindSubmatch(script)
	if m == nil {
		t.Fatalf("curl.sh runs no curl against https://host:port/:\n%s", script)
	}
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(dir, "clients", clientconfig.CurlFile),
		"-v", "-sS", "-u", "elastic:not-the-password", "--max-time", "30",
		"--connect-to", fmt.Sprintf("%s:%s:127.0.0.1:%s", m[1], m[2], port))
	cmd.Stdin = strings.NewReader("")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), buf.String()
}

func TestCurlScriptVerifiesTheNodeCertificate(t *testing.T) {
	dir := realBundle(t)
	code, out := runCurlScript(t, dir, startNode(t, dir, "node1"))
	// The test server answers one line and closes, not HTTP: curl reports that after a
	// verified handshake. Only the TLS part is asserted.
	if reason, failed := curlTLSErrors[code]; failed || !strings.Contains(out, "SSL connection using") {
		t.Fatalf("curl.sh: exit %d (%s), no verified TLS connection:\n%s", code, reason, out)
	}
	// node2's certificate does not name node1.escert.test: the same script must refuse it,
	// which shows it verifies host names and not only the chain.
	code, out = runCurlScript(t, dir, startNode(t, dir, "node2"))
	if code != 60 && code != 51 {
		t.Fatalf("curl.sh accepted node2's certificate for node1.escert.test: exit %d\n%s", code, out)
	}
}

func TestKibanaSettingsVerifyInNode(t *testing.T) {
	dir := realBundle(t)
	kibana := readSettings(t, dir, clientconfig.KibanaFile)
	cas := kibana["elasticsearch.ssl.certificateAuthorities"].([]any)
	caFile := onHost(t, dir, cas[0].(string))
	if err := realtest.NodeTLSConnect(t, startNode(t, dir, "node1"), caFile, "node1.escert.test"); err != nil {
		t.Errorf("node tls to Elasticsearch with elasticsearch.ssl.certificateAuthorities: %v", err)
	}
	// Kibana's own HTTPS from server.ssl.certificate and server.ssl.key, verified by a
	// browser-like Node client that trusts the HTTP CA.
	server := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: realtest.Store{
		KeyPEM:  onHost(t, dir, kibana["server.ssl.key"].(string)),
		CertPEM: onHost(t, dir, kibana["server.ssl.certificate"].(string)),
	}})
	if err := realtest.NodeTLSConnect(t, server, caFile, "kibana.escert.test"); err != nil {
		t.Errorf("node tls to Kibana's server.ssl files: %v", err)
	}
	// The client certificate and key Kibana would present load and match.
	if _, err := tls.LoadX509KeyPair(onHost(t, dir, kibana["elasticsearch.ssl.certificate"].(string)), onHost(t, dir, kibana["elasticsearch.ssl.key"].(string))); err != nil {
		t.Errorf("elasticsearch.ssl.certificate/key: %v", err)
	}
}

func TestLogstashCAVerifiesInJSSE(t *testing.T) {
	dir := realBundle(t)
	conf, err := os.ReadFile(filepath.Join(dir, "clients", clientconfig.LogstashFile))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`ssl_certificate_authorities => \["([^"]+)"\]`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("no ssl_certificate_authorities in:\n%s", conf)
	}
	trust := realtest.JSSEConfig{Trust: realtest.Store{CAPEMs: []string{onHost(t, dir, string(m[1]))}}}
	if err := realtest.JSSEHandshake(t, trust, startNode(t, dir, "node1"), "node1.escert.test"); err != nil {
		t.Errorf("jsse with Logstash's ssl_certificate_authorities, verification full: %v", err)
	}
}

func TestBeatsSettingsVerifyInGo(t *testing.T) {
	dir := realBundle(t)
	beats := readSettings(t, dir, clientconfig.BeatsFile)
	addr := startNode(t, dir, "node1")
	cas := beats["output.elasticsearch.ssl.certificate_authorities"].([]any)
	if err := realtest.GoTLSConnect(t, addr, onHost(t, dir, cas[0].(string)), "node1.escert.test"); err != nil {
		t.Errorf("go tls with ssl.certificate_authorities: %v", err)
	}
	fp := beats["output.elasticsearch.ssl.ca_trusted_fingerprint"].(string)
	if err := fingerprintConnect(addr, fp, "node1.escert.test"); err != nil {
		t.Errorf("ssl.ca_trusted_fingerprint alone: %v", err)
	}
	if err := fingerprintConnect(addr, strings.Repeat("0", 64), "node1.escert.test"); err == nil {
		t.Error("a wrong fingerprint was trusted")
	}
}

// fingerprintConnect does what libbeat does with ssl.ca_trusted_fingerprint and
// verification_mode full: it trusts a CA certificate of the chain the server sends
// when its SHA-256 matches, then verifies the chain and host name against it alone.
func fingerprintConnect(addr, fingerprint, host string) error {
	cfg := &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			found := false
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
				if c.IsCA && ca.Fingerprint(c) == fingerprint {
					roots.AddCert(c)
					found = true
				}
			}
			if !found {
				return errors.New("no certificate of the server's chain has the fingerprint")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			return err
		},
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}
