package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/issuer/stepca"
	"github.com/escert/escert/internal/realtest"
)

// stepFirst are the flags of a first issuance through s: root pinned by file, the
// JWK provisioner and its password file.
func stepFirst(s *realtest.StepCA) []string {
	return []string{"--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile}
}

// live runs escert with the real clock: step-ca judges tokens and lifetimes by its own.
func live(t *testing.T, args ...string) result {
	t.Helper()
	return escertAt(t, time.Now, nil, args...)
}

// installNode installs a node bundle into a fresh config directory of cluster prod.
func installNode(t *testing.T, dir, bundle string) string {
	t.Helper()
	config := filepath.Join(dir, "config-"+filepath.Base(bundle))
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "cluster.name: prod\n")
	if r := escert(t, nil, "install", "--bundle", bundle, "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatalf("install: %s", r.stderr)
	}
	return config
}

func TestBootstrapAndRenewThroughStepCAPassTheRealConsumers(t *testing.T) {
	s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: stepca.NodeTemplate})
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", remoteInstances)
	out := filepath.Join(dir, "out")
	r := live(t, append([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod"}, stepFirst(s)...)...)
	if r.code != ExitOK {
		t.Fatalf("bootstrap through step-ca: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "escert-test-password") {
		t.Error("the provisioner password reached the output")
	}
	node := func(name string) string { return filepath.Join(out, "nodes", name) }
	server := realtest.StartJSSEServer(t, transportPeer(t, node("node1")))
	if err := realtest.JSSEHandshake(t, transportPeer(t, node("node2")), server, ""); err != nil {
		t.Errorf("node2 -> node1 transport mutual TLS with trust restrictions: %v", err)
	}
	https := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: nodeStore(t, node("node1"), "http")})
	caFile := filepath.Join(out, "clients", "http-ca.crt")
	if err := realtest.NodeTLSConnect(t, https, caFile, "node1.escert.test"); err != nil {
		t.Errorf("Node client: %v", err)
	}
	if err := realtest.PythonStrictConnect(t, https, caFile, "127.0.0.1"); err != nil {
		t.Errorf("Python strict client: %v", err)
	}
	// Kibana's server.crt carries the intermediate after the leaf: openssl takes it
	// from there and trusts the root alone.
	if kibana := filepath.Join(out, "clients", "kibana", "server.crt"); realtest.OpenSSLVerify(t, s.RootFile, kibana, "sslserver", kibana) != nil {
		t.Errorf("openssl verify of Kibana's certificate against step-ca's root: %v", realtest.OpenSSLVerify(t, s.RootFile, kibana, "sslserver", kibana))
	}

	// Renewal on the node: mutual TLS with its own certificate, the root pinned by
	// fingerprint, no provisioner and no password anywhere.
	config := installNode(t, dir, node("node1"))
	before := nodeStore(t, config, "transport")
	r = live(t, "renew", "--es-config", config, "--force", "--issuer", "step", "--ca-url", s.URL, "--fingerprint", s.Fingerprint)
	if r.code != ExitOK || !strings.Contains(r.stdout, "renewed transport") || !strings.Contains(r.stdout, "renewed http") {
		t.Fatalf("renew through step-ca: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	server = realtest.StartJSSEServer(t, transportPeer(t, config))
	if err := realtest.JSSEHandshake(t, transportPeer(t, node("node2")), server, ""); err != nil {
		t.Errorf("node2 -> renewed node1: %v", err)
	}
	if after := nodeStore(t, config, "transport"); after.P12Password != before.P12Password {
		t.Error("renewal changed the keystore password: Elasticsearch would need a restart")
	}
}

func TestStepCAErrorsNameTheCauseAndWriteNothing(t *testing.T) {
	s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: stepca.NodeTemplate, DenyDNS: []string{"*.forbidden.test"}})
	plain := realtest.StartStepCA(t, realtest.StepCAOptions{}) // step-ca's default template
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", remoteInstances)
	forbidden := writeFile(t, dir, "forbidden.yml", "instances:\n  - name: node9\n    dns: [node9.forbidden.test]\n")
	wrongPassword := writeFile(t, dir, "wrong", "not-the-password\n")
	cases := []struct {
		name string
		in   string
		args []string
		code int
		want string
	}{
		{"unknown provisioner", in, []string{"--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile, "--provisioner", "nobody", "--provisioner-password-file", s.PasswordFile}, ExitInput, `no provisioner "nobody"`},
		{"wrong password", in, []string{"--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile, "--provisioner", s.Provisioner, "--provisioner-password-file", wrongPassword}, ExitCredentials, "password does not decrypt"},
		{"root fingerprint mismatch", in, []string{"--issuer", "step", "--ca-url", s.URL, "--fingerprint", plain.Fingerprint, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile}, ExitInput, "fingerprint"},
		{"root file of another CA", in, []string{"--issuer", "step", "--ca-url", s.URL, "--root", plain.RootFile, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile}, ExitInput, "not from the root given"},
		{"name refused by the provisioner policy", forbidden, stepFirst(s), ExitRefused, "policy"},
		{"provisioner without escert's template", in, stepFirst(plain), ExitRefused, "escert step template"},
		{"no provisioner for a first issuance", in, []string{"--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile}, ExitUsage, "--provisioner"},
		{"trust restrictions cannot be turned off", in, append(stepFirst(s), "--no-trust-restrictions"), ExitUsage, "trust restrictions"},
		{"no root given", in, []string{"--issuer", "step", "--ca-url", s.URL, "--provisioner", s.Provisioner}, ExitUsage, "--root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "out")
			r := live(t, append([]string{"bootstrap", "--instances", c.in, "--out", out, "-q"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, want %d and one line with %q: %q", r.code, c.code, c.want, r.stderr)
			}
			assertDocumented(t, []string{"bootstrap"}, r.code)
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused bootstrap wrote files")
			}
		})
	}
	s.Stop()
	r := live(t, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-q"}, stepFirst(s)...)...)
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "cannot connect to step-ca") {
		t.Errorf("stopped CA: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRenewingAnExpiredStepCertificateIsRefusedWithTheWayOut(t *testing.T) {
	const lifetime = 6 * time.Second
	s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: stepca.NodeTemplate, MinDuration: time.Second, DefaultDuration: lifetime})
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", "instances:\n  - name: node1\n    dns: [node1.escert.test]\n")
	out := filepath.Join(dir, "out")
	if r := live(t, append([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod", "--es-version", "8.13"}, stepFirst(s)...)...); r.code != ExitOK {
		t.Fatalf("bootstrap: %s", r.stderr)
	}
	config := installNode(t, dir, filepath.Join(out, "nodes", "node1"))
	time.Sleep(lifetime + time.Second)

	renew := []string{"renew", "--es-config", config, "--force", "--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile}
	before, _ := os.ReadFile(filepath.Join(config, "certs", "transport.p12"))
	r := live(t, renew...)
	if r.code != ExitInput || !strings.Contains(r.stderr, "expired") || !strings.Contains(r.stderr, "--provisioner") {
		t.Fatalf("renewing an expired certificate: exit %d, want %d naming the way out: %q", r.code, ExitInput, r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(config, "certs", "transport.p12")); string(after) != string(before) {
		t.Error("a refused renewal changed the keystore")
	}
	// The way out: the provisioner issues afresh, and renewal works again after it.
	r = live(t, append(renew, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile)...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "renewed transport") {
		t.Fatalf("fresh issuance with the provisioner: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = live(t, renew...); r.code != ExitOK {
		t.Errorf("renewal over mutual TLS after the fresh issuance: exit %d: %s", r.code, r.stderr)
	}
}
