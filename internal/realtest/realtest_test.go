package realtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests run in parallel and each starts its own JSSE servers: a JVM start per server,
// not TLS, is what costs time here (Java clients share one daemon JVM).

// p12Password has characters java.util.Properties gives meaning to, so the test also
// proves passwords reach Java intact.
const p12Password = `s3cret pass=:#!\x`

// makeP12 writes node.key/node-chain.crt as a PKCS#12 file with openssl 3 (AES-256,
// HMAC-SHA256: what Java 17 reads), and with trusted=true adds ca.pem as a
// trustedCertEntry with keytool, the way certutil's p12 carries its CA.
func makeP12(t *testing.T, trusted bool) string {
	t.Helper()
	return makeP12From(t, "node.key", "node-chain.crt", trusted)
}

// makeP12From is makeP12 for another key and chain of the test PKI.
func makeP12From(t *testing.T, key, chain string, trusted bool) string {
	t.Helper()
	openssl := Require(t, "openssl")
	path := filepath.Join(t.TempDir(), "node.p12")
	env := []string{"P12PASS=" + p12Password}
	mustRun(t, openssl, []string{"pkcs12", "-export", "-name", "node1",
		"-inkey", pki(t, key), "-in", pki(t, chain),
		"-out", path, "-passout", "env:P12PASS"}, env)
	if trusted {
		mustRun(t, Require(t, "keytool"), []string{"-importcert", "-noprompt", "-alias", "ca",
			"-file", pki(t, "ca.pem"), "-keystore", path, "-storetype", "PKCS12",
			"-storepass:env", "P12PASS"}, env)
	}
	return path
}

func mustRun(t *testing.T, path string, args, env []string) {
	t.Helper()
	res, err := run(path, args, env)
	if err == nil && res.code != 0 {
		err = errors.New(res.message())
	}
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(path), args[0], err)
	}
}

// nodePEM is the node's key material as PEM files.
func nodePEM(t *testing.T) Store {
	return Store{KeyPEM: pki(t, "node.key"), CertPEM: pki(t, "node-chain.crt")}
}

func trustCA(t *testing.T, names ...string) Store {
	var s Store
	for _, n := range names {
		s.CAPEMs = append(s.CAPEMs, pki(t, n))
	}
	return s
}

// wantHandshakeError fails unless err is a handshake failure (not a load failure)
// whose text contains want.
func wantHandshakeError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("handshake succeeded, want an error containing %q", want)
	case errors.Is(err, ErrLoad):
		t.Fatalf("got a load error, want a handshake error containing %q: %v", want, err)
	case !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestJSSEMutualTLS(t *testing.T) {
	t.Parallel()
	addr := StartJSSEServer(t, JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem"), ClientAuth: true})

	tests := []struct {
		name     string
		cfg      JSSEConfig
		host     string
		wantLine string // prefix of the server's line; "" means want an error
		wantErr  string
	}{
		{name: "PKCS#8 EC key, DNS name", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")},
			host: "localhost", wantLine: "OK CN=node1 TLSv1.3"},
		{name: "IP address", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")},
			host: "127.0.0.1", wantLine: "OK CN=node1 TLSv1.3"},
		{name: "chain only", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")},
			wantLine: "OK CN=node1"},
		{name: "SEC1 EC key", cfg: JSSEConfig{
			Key: Store{KeyPEM: pki(t, "node-sec1.key"), CertPEM: pki(t, "node.crt")}, Trust: trustCA(t, "ca.pem")},
			host: "localhost", wantLine: "OK CN=node1"},
		{name: "PKCS#1 RSA key", cfg: JSSEConfig{
			Key: Store{KeyPEM: pki(t, "rsa.key"), CertPEM: pki(t, "rsa.crt")}, Trust: trustCA(t, "ca.pem")},
			host: "localhost", wantLine: "OK CN=rsa"},
		{name: "TLSv1.2", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem"), Protocols: []string{"TLSv1.2"}},
			host: "localhost", wantLine: "OK CN=node1 TLSv1.2"},
		// JDK 17 answers with bad_certificate, later JDKs with certificate_required.
		{name: "no client certificate", cfg: JSSEConfig{Trust: trustCA(t, "ca.pem")},
			host: "localhost", wantErr: "Received fatal alert: "},
		// The JDK's key manager offers only certificates from the issuers the server
		// names, so this client sends none, as a node with a foreign CA would.
		{name: "client certificate from another CA", cfg: JSSEConfig{
			Key: Store{KeyPEM: pki(t, "other.key"), CertPEM: pki(t, "other.crt")}, Trust: trustCA(t, "ca.pem")},
			host: "localhost", wantErr: "Received fatal alert: "},
		{name: "server from an untrusted CA", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "other-ca.pem")},
			host: "localhost", wantErr: "PKIX path building failed"},
		{name: "hostname mismatch", cfg: JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")},
			host: "node1.example.com", wantErr: "No subject alternative DNS name matching node1.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line, err := JSSEDial(t, tc.cfg, addr, tc.host)
			if tc.wantErr != "" {
				wantHandshakeError(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(line, tc.wantLine) {
				t.Fatalf("server line %q, want prefix %q", line, tc.wantLine)
			}
			if got, want := ServedFingerprint(line), CertFileFingerprint(t, pki(t, "node.crt")); got != want {
				t.Fatalf("server line %q: served fingerprint %q, want %q", line, got, want)
			}
		})
	}
}

func TestJSSEPKCS12(t *testing.T) {
	t.Parallel()
	p12 := makeP12(t, true)
	store := Store{P12Path: p12, P12Password: p12Password}

	t.Run("keytool", func(t *testing.T) {
		t.Parallel()
		entries, err := KeytoolList(t, p12, p12Password)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]KeytoolEntry{}
		for _, e := range entries {
			got[e.Alias] = e
		}
		want := []KeytoolEntry{{"node1", "PrivateKeyEntry", 2}, {"ca", "trustedCertEntry", 1}}
		if len(entries) != len(want) {
			t.Fatalf("entries %+v, want %+v", entries, want)
		}
		for _, w := range want {
			if got[w.Alias] != w {
				t.Errorf("entry %q = %+v, want %+v", w.Alias, got[w.Alias], w)
			}
		}
		if _, err := KeytoolList(t, p12, "wrong"); !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), "password") {
			t.Errorf("wrong password: got %v, want a load error about the password", err)
		}
	})

	t.Run("server keystore and truststore", func(t *testing.T) {
		t.Parallel()
		// transport.p12 style: one file as keystore and truststore.
		addr := StartJSSEServer(t, JSSEConfig{Key: store, Trust: store, ClientAuth: true})
		// The client mirrors it with the same p12.
		line, err := JSSEDial(t, JSSEConfig{Key: store, Trust: store}, addr, "localhost")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "OK CN=node1 ") {
			t.Fatalf("server line %q", line)
		}
	})

	t.Run("keystore without trusted entries as truststore", func(t *testing.T) {
		t.Parallel()
		bare := Store{P12Path: makeP12(t, false), P12Password: p12Password}
		_, err := TryStartJSSEServer(t, JSSEConfig{Key: bare, Trust: bare})
		if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), "does not contain any trusted certificate entries") {
			t.Fatalf("got %v, want Elasticsearch's truststore error", err)
		}
		// As a keystore next to PEM CAs it is fine (keystore.path + certificate_authorities).
		if err := JSSELoad(t, JSSEConfig{Key: bare, Trust: trustCA(t, "ca.pem")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		err := JSSELoad(t, JSSEConfig{Key: Store{P12Path: p12, P12Password: "wrong"}})
		if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), "password") {
			t.Fatalf("got %v, want a load error about the password", err)
		}
	})
}

func TestJSSEKeyFiles(t *testing.T) {
	t.Parallel()
	openssl := Require(t, "openssl")
	// PBES2 with AES-256 and HMAC-SHA256, the encrypted PKCS#8 escert writes.
	encrypted := filepath.Join(t.TempDir(), "node-enc.key")
	mustRun(t, openssl, []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256",
		"-in", pki(t, "node.key"), "-out", encrypted, "-passout", "env:KEYPASS"}, []string{"KEYPASS=" + p12Password})

	tests := []struct {
		name    string
		key     Store
		wantErr string // "" means Java must load it
	}{
		{name: "encrypted PKCS#8", key: Store{KeyPEM: encrypted, CertPEM: pki(t, "node.crt"), KeyPassword: p12Password}},
		{name: "encrypted PKCS#8, wrong password", wantErr: "wrong key password?",
			key: Store{KeyPEM: encrypted, CertPEM: pki(t, "node.crt"), KeyPassword: "wrong"}},
		{name: "encrypted PKCS#8, no password", wantErr: "no key password",
			key: Store{KeyPEM: encrypted, CertPEM: pki(t, "node.crt")}},
		{name: "key of another certificate", wantErr: "does not match the certificate",
			key: Store{KeyPEM: pki(t, "other.key"), CertPEM: pki(t, "node.crt")}},
		{name: "certificate as key", wantErr: "no private key PEM block",
			key: Store{KeyPEM: pki(t, "node.crt"), CertPEM: pki(t, "node.crt")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := JSSELoad(t, JSSEConfig{Key: tc.key})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrLoad) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want a load error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestJSSETrustRestrictions(t *testing.T) {
	t.Parallel()
	client := JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")}

	t.Run("matching pattern", func(t *testing.T) {
		t.Parallel()
		addr := StartJSSEServer(t, JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem"), ClientAuth: true,
			TrustSubjectPatterns: []string{"*.other.cluster", "*.node.escert"}})
		if err := JSSEHandshake(t, client, addr, "localhost"); err != nil {
			t.Fatal(err)
		}
		// The client side restricts the server the same way.
		restricted := client
		restricted.TrustSubjectPatterns = []string{"node?.node.escert"}
		if err := JSSEHandshake(t, restricted, addr, "localhost"); err != nil {
			t.Fatal(err)
		}
		restricted.TrustSubjectPatterns = []string{"*.node.other"}
		wantHandshakeError(t, JSSEHandshake(t, restricted, addr, "localhost"),
			"with fields [node1.node.escert] does not match the trusted names [*.node.other]")
	})

	t.Run("non-matching pattern", func(t *testing.T) {
		t.Parallel()
		// The chain is fine; only the name restriction refuses the client.
		server := StartReloadingJSSEServer(t, JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem"), ClientAuth: true,
			TrustSubjectPatterns: []string{"*.node.other"}})
		// The client sees certificate_unknown or, when the alert loses the race with its
		// last write, a broken pipe; the server's log says why it refused.
		wantHandshakeError(t, JSSEHandshake(t, client, server.Addr, "localhost"), "")
		server.WaitRejected(t, "with fields [node1.node.escert] does not match the trusted names [*.node.other]", 10*time.Second)
	})
}

func TestClients(t *testing.T) {
	t.Parallel()
	addr := StartJSSEServer(t, JSSEConfig{Key: nodePEM(t)})
	ca, otherCA := pki(t, "ca.pem"), pki(t, "other-ca.pem")

	clients := []struct {
		name    string
		connect func(t testing.TB, addr, caFile, host string) error
		// messages for a name mismatch and an untrusted CA
		wrongName, untrusted string
	}{
		{"node", NodeTLSConnect, "ERR_TLS_CERT_ALTNAME_INVALID", "SELF_SIGNED_CERT_IN_CHAIN"},
		{"python", PythonStrictConnect, "Hostname mismatch", "self-signed certificate in certificate chain"},
		{"go", GoTLSConnect, "certificate is valid for localhost, not node1.example.com", "certificate signed by unknown authority"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, host := range []string{"localhost", "127.0.0.1", ""} {
				if err := c.connect(t, addr, ca, host); err != nil {
					t.Errorf("host %q: %v", host, err)
				}
			}
			wantHandshakeError(t, c.connect(t, addr, ca, "node1.example.com"), c.wrongName)
			wantHandshakeError(t, c.connect(t, addr, otherCA, "localhost"), c.untrusted)
			if err := c.connect(t, addr, filepath.Join(t.TempDir(), "missing.pem"), "localhost"); !errors.Is(err, ErrLoad) {
				t.Errorf("missing CA file: got %v, want ErrLoad", err)
			}
		})
	}
}

// TestPythonStrictRejectsCAWithoutKeyUsage proves strict mode is on: the same chain
// passes Go and Node but not Python with VERIFY_X509_STRICT.
func TestPythonStrictRejectsCAWithoutKeyUsage(t *testing.T) {
	t.Parallel()
	addr := StartJSSEServer(t, JSSEConfig{Key: Store{KeyPEM: pki(t, "noku.key"), CertPEM: pki(t, "noku.crt")}})
	ca := pki(t, "noku-ca.pem")
	if err := GoTLSConnect(t, addr, ca, "localhost"); err != nil {
		t.Fatalf("go: %v", err)
	}
	if err := NodeTLSConnect(t, addr, ca, "localhost"); err != nil {
		t.Fatalf("node: %v", err)
	}
	wantHandshakeError(t, PythonStrictConnect(t, addr, ca, "localhost"), "CA cert does not include key usage extension")
}

func TestOpenSSLVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ca, cert, purpose string
		untrusted               []string
		wantErr                 string
	}{
		{name: "server", ca: "ca.pem", cert: "node.crt", purpose: "sslserver"},
		{name: "client", ca: "ca.pem", cert: "node.crt", purpose: "sslclient"},
		{name: "RSA", ca: "ca.pem", cert: "rsa.crt", purpose: "any"},
		{name: "intermediate offered", ca: "ca.pem", cert: "int-leaf.crt", purpose: "sslserver", untrusted: []string{"int-ca.pem"}},
		{name: "intermediate missing", ca: "ca.pem", cert: "int-leaf.crt", purpose: "sslserver",
			wantErr: "unable to get local issuer certificate"},
		{name: "serverAuth only as client", ca: "ca.pem", cert: "int-leaf.crt", purpose: "sslclient", untrusted: []string{"int-ca.pem"},
			wantErr: "unsuitable certificate purpose"},
		{name: "other CA", ca: "other-ca.pem", cert: "node.crt", purpose: "sslserver",
			wantErr: "unable to get local issuer certificate"},
		{name: "CA without key usage", ca: "noku-ca.pem", cert: "noku.crt", purpose: "sslserver",
			wantErr: "CA cert does not include key usage extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var untrusted []string
			for _, u := range tc.untrusted {
				untrusted = append(untrusted, pki(t, u))
			}
			err := OpenSSLVerify(t, pki(t, tc.ca), pki(t, tc.cert), tc.purpose, untrusted...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPropertiesEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a b=c:d#e!f\g`, `a\ b\=c\:d\#e\!f\\g`},
		{"tab\tnl\n", `tab\tnl\n`},
		{"é€😀", `\u00e9\u20ac\ud83d\ude00`},
	}
	for _, tc := range tests {
		if got := propertiesEscape(tc.in); got != tc.want {
			t.Errorf("propertiesEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseKeytoolList(t *testing.T) {
	out := `Keystore type: PKCS12
Keystore provider: SUN

Your keystore contains 2 entries

Alias name: ca
Creation date: Nov 27, 2025
Entry type: trustedCertEntry

Owner: CN=realtest CA
*******************************************


Alias name: node1
Creation date: Nov 27, 2025
Entry type: PrivateKeyEntry
Certificate chain length: 2
Certificate[1]:
Owner: CN=node1
`
	got, err := parseKeytoolList(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []KeytoolEntry{{"ca", "trustedCertEntry", 1}, {"node1", "PrivateKeyEntry", 2}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// recordingTB records Skip and Fatalf instead of stopping the test, to observe Require.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skip(args ...any)               { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestRequire(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing to find

	t.Setenv("ESCERT_REQUIRE_TOOLS", "")
	r := &recordingTB{TB: t}
	Require(r, "node")
	if !strings.Contains(r.skipped, "install the Debian package nodejs") || r.failed != "" {
		t.Errorf("missing tool: skipped %q, failed %q; want a skip naming nodejs", r.skipped, r.failed)
	}

	t.Setenv("ESCERT_REQUIRE_TOOLS", "1")
	r = &recordingTB{TB: t}
	Require(r, "javac")
	if !strings.Contains(r.failed, "openjdk-17-jdk-headless") || r.skipped != "" {
		t.Errorf("ESCERT_REQUIRE_TOOLS=1: skipped %q, failed %q; want a failure naming the JDK", r.skipped, r.failed)
	}
}

// Reload tests poll ten times faster than a test needs and give each step far more
// time than it takes, so a loaded CI machine stays green.
const (
	reloadInterval = 100 * time.Millisecond
	reloadWait     = 15 * time.Second
)

// replaceFile replaces path atomically, as a careful renewal does: write a temporary
// file beside it, then rename it over path.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// copyPKI copies test PKI files into a fresh directory under new names (dst → src)
// and returns their paths by new name.
func copyPKI(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for dst, src := range files {
		out[dst] = filepath.Join(dir, dst)
		if err := os.WriteFile(out[dst], readFile(t, pki(t, src)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// servedBy dials srv with a Java client and returns the fingerprint it was served.
func servedBy(t *testing.T, client JSSEConfig, srv *JSSEServer) string {
	t.Helper()
	line, err := JSSEDial(t, client, srv.Addr, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	fp := ServedFingerprint(line)
	if fp == "" {
		t.Fatalf("server line %q carries no fingerprint", line)
	}
	return fp
}

func wantReloads(t *testing.T, srv *JSSEServer, wantOK, wantFailed int) {
	t.Helper()
	if ok, failed := srv.Reloads(); ok != wantOK || failed != wantFailed {
		t.Fatalf("reloads: %d ok, %d failed %q; want %d ok, %d failed", ok, failed, srv.ReloadFailures(), wantOK, wantFailed)
	}
}

// TestJSSEReloadPKCS12 renews a keystore the way Elasticsearch picks it up: the file is
// replaced atomically, the server reloads it, and handshakes running throughout never
// fail and switch once from the old certificate to the new one. A broken replacement
// is refused and the server keeps serving the certificate it has.
func TestJSSEReloadPKCS12(t *testing.T) {
	t.Parallel()
	p12 := filepath.Join(t.TempDir(), "http.p12")
	if err := os.WriteFile(p12, readFile(t, makeP12(t, false)), 0o600); err != nil {
		t.Fatal(err)
	}
	renewedP12 := makeP12From(t, "renewed.key", "renewed-chain.crt", false)
	oldFP, newFP := CertFileFingerprint(t, pki(t, "node.crt")), CertFileFingerprint(t, pki(t, "renewed.crt"))

	srv := StartReloadingJSSEServer(t, JSSEConfig{
		Key: Store{P12Path: p12, P12Password: p12Password}, ReloadInterval: reloadInterval})
	client := JSSEConfig{Trust: trustCA(t, "ca.pem")}
	if got := servedBy(t, client, srv); got != oldFP {
		t.Fatalf("served %s before the renewal, want node.crt %s", got, oldFP)
	}

	h := StartHammer(t, srv.Addr, pki(t, "ca.pem"), "localhost", nil)
	h.WaitServed(t, oldFP, reloadWait)
	replaceFile(t, p12, readFile(t, renewedP12))
	srv.WaitReload(t, 1, reloadWait)
	if got := srv.ReloadedFingerprints(); !slices.Equal(got, []string{newFP}) {
		t.Fatalf("reloaded %v, want [%s]", got, newFP)
	}
	// The context is swapped before the server reports the reload.
	if got := servedBy(t, client, srv); got != newFP {
		t.Fatalf("served %s after the reload, want renewed.crt %s", got, newFP)
	}
	h.WaitServed(t, newFP, reloadWait)

	// A half-written or broken file: the reload fails, the renewed context stays.
	replaceFile(t, p12, []byte("not a PKCS#12 file"))
	srv.WaitReloadFailed(t, 1, reloadWait)
	if msg := srv.ReloadFailures()[0]; !strings.Contains(msg, "cannot read PKCS#12 file") {
		t.Errorf("reload failure %q, want the PKCS#12 load error", msg)
	}
	if got := servedBy(t, client, srv); got != newFP {
		t.Fatalf("served %s after a failed reload, want renewed.crt %s", got, newFP)
	}
	h.WaitHandshakes(t, 5, reloadWait)

	report := h.Stop()
	if len(report.Failures) != 0 {
		t.Fatalf("handshakes failed during the renewal: %v", report)
	}
	if !slices.Equal(report.Served, []string{oldFP, newFP}) {
		t.Fatalf("served sequence %v, want one switch from node.crt to renewed.crt: %v", report.Served, report)
	}
	wantReloads(t, srv, 1, 1)
	t.Logf("%v", report)
}

// TestJSSEReloadPEM renews separate PEM key and certificate files on a transport-style
// server (client authentication, trust restrictions). Renaming the key and the
// certificate into place back to back may let one poll see the new key with the old
// certificate; the reload refuses that pair and keeps the old context, so no handshake
// fails. A key replaced alone is refused the same way until its certificate follows.
// Replacing the CA file rebuilds the trust managers, restrictions included.
func TestJSSEReloadPEM(t *testing.T) {
	t.Parallel()
	files := copyPKI(t, map[string]string{"node.key": "node.key", "node.crt": "node-chain.crt", "ca.pem": "ca.pem"})
	oldFP, newFP := CertFileFingerprint(t, pki(t, "node.crt")), CertFileFingerprint(t, pki(t, "renewed.crt"))
	srv := StartReloadingJSSEServer(t, JSSEConfig{
		Key:                  Store{KeyPEM: files["node.key"], CertPEM: files["node.crt"]},
		Trust:                Store{CAPEMs: []string{files["ca.pem"]}},
		ClientAuth:           true,
		TrustSubjectPatterns: []string{"*.node.escert"},
		ReloadInterval:       reloadInterval,
	})
	client := JSSEConfig{Key: nodePEM(t), Trust: trustCA(t, "ca.pem")}
	clientCert, err := tls.LoadX509KeyPair(pki(t, "node-chain.crt"), pki(t, "node.key"))
	if err != nil {
		t.Fatal(err)
	}

	h := StartHammer(t, srv.Addr, pki(t, "ca.pem"), "localhost", &clientCert)
	h.WaitServed(t, oldFP, reloadWait)
	replaceFile(t, files["node.key"], readFile(t, pki(t, "renewed.key")))
	replaceFile(t, files["node.crt"], readFile(t, pki(t, "renewed-chain.crt")))
	srv.WaitReload(t, 1, reloadWait)
	h.WaitServed(t, newFP, reloadWait)
	if got := servedBy(t, client, srv); got != newFP {
		t.Fatalf("served %s after the renewal, want renewed.crt %s", got, newFP)
	}
	// One or two reloads and zero or one refused pair, depending on where the polls fell
	// between the renames.
	ok, failed := srv.Reloads()
	for _, msg := range srv.ReloadFailures() {
		if !strings.Contains(msg, "does not match the certificate") {
			t.Errorf("reload failure %q, want a key mismatch", msg)
		}
	}

	// The key alone: refused, the renewed pair stays.
	replaceFile(t, files["node.key"], readFile(t, pki(t, "node.key")))
	srv.WaitReloadFailed(t, failed+1, reloadWait)
	if msg := srv.ReloadFailures()[failed]; !strings.Contains(msg, "does not match the certificate") {
		t.Fatalf("reload failure %q, want a key mismatch", msg)
	}
	if got := servedBy(t, client, srv); got != newFP {
		t.Fatalf("served %s with a mismatched key on disk, want renewed.crt %s", got, newFP)
	}
	h.WaitHandshakes(t, 5, reloadWait)
	// Its certificate follows: the pair loads.
	replaceFile(t, files["node.crt"], readFile(t, pki(t, "node-chain.crt")))
	srv.WaitReload(t, ok+1, reloadWait)
	h.WaitServed(t, oldFP, reloadWait)

	report := h.Stop()
	if len(report.Failures) != 0 {
		t.Fatalf("handshakes failed during the renewal: %v", report)
	}
	if !slices.Equal(report.Served, []string{oldFP, newFP, oldFP}) {
		t.Fatalf("served sequence %v, want node.crt, renewed.crt, node.crt: %v", report.Served, report)
	}
	wantReloads(t, srv, ok+1, failed+1)
	t.Logf("%v", report)

	// Trust moves to the other CA: its leaf (same otherName) is now accepted, ours not.
	replaceFile(t, files["ca.pem"], readFile(t, pki(t, "other-ca.pem")))
	srv.WaitReload(t, ok+2, reloadWait)
	wantHandshakeError(t, JSSEHandshake(t, client, srv.Addr, "localhost"), "Received fatal alert: ")
	other := JSSEConfig{Key: Store{KeyPEM: pki(t, "other.key"), CertPEM: pki(t, "other.crt")}, Trust: trustCA(t, "ca.pem")}
	if err := JSSEHandshake(t, other, srv.Addr, "localhost"); err != nil {
		t.Fatalf("client from the newly trusted CA: %v", err)
	}
}

// TestJSSEReloadSkipsKeyCheck shows what Elasticsearch itself does with a key replaced
// before its certificate: PemKeyConfig loads the pair without comparing them, so the
// reload succeeds and new handshakes fail until the certificate follows.
func TestJSSEReloadSkipsKeyCheck(t *testing.T) {
	t.Parallel()
	files := copyPKI(t, map[string]string{"node.key": "node.key", "node.crt": "node-chain.crt"})
	newFP := CertFileFingerprint(t, pki(t, "renewed.crt"))
	srv := StartReloadingJSSEServer(t, JSSEConfig{
		Key:            Store{KeyPEM: files["node.key"], CertPEM: files["node.crt"]},
		ReloadInterval: reloadInterval, ReloadSkipsKeyCheck: true,
	})
	ca := pki(t, "ca.pem")
	if err := GoTLSConnect(t, srv.Addr, ca, "localhost"); err != nil {
		t.Fatal(err)
	}

	replaceFile(t, files["node.key"], readFile(t, pki(t, "renewed.key")))
	srv.WaitReload(t, 1, reloadWait)
	wantHandshakeError(t, GoTLSConnect(t, srv.Addr, ca, "localhost"), "invalid signature by the server certificate")

	replaceFile(t, files["node.crt"], readFile(t, pki(t, "renewed-chain.crt")))
	srv.WaitReload(t, 2, reloadWait)
	if err := GoTLSConnect(t, srv.Addr, ca, "localhost"); err != nil {
		t.Fatal(err)
	}
	if got := servedBy(t, JSSEConfig{Trust: trustCA(t, "ca.pem")}, srv); got != newFP {
		t.Fatalf("served %s, want renewed.crt %s", got, newFP)
	}
	wantReloads(t, srv, 2, 0)
}

func TestServedFingerprint(t *testing.T) {
	fp := strings.Repeat("0123456789abcdef", 4)
	tests := []struct{ line, want string }{
		{"OK CN=node1 TLSv1.3 " + fp, fp},
		{"OK - TLSv1.2 " + fp, fp},
		{"OK CN=Elastic Certificate Tool Autogenerated CA,O=x TLSv1.3 " + fp, fp},
		{"OK CN=node1 TLSv1.3", ""},
		{"OK CN=node1 TLSv1.3 " + strings.ToUpper(fp), ""},
		{"OK TLSv1.3 " + fp, ""},
		{"SILENT TLSv1.3", ""},
		{"CLOSED TLSv1.3", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := ServedFingerprint(tc.line); got != tc.want {
			t.Errorf("ServedFingerprint(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
