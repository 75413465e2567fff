package cli

import (
	"crypto"
	"crypto/x509"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/issuer/stepca"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
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

// stepBootstrap bootstraps instances of cluster prod through s into a fresh
// directory, with the extra flags, and returns the bundle's directory and the run.
func stepBootstrap(t *testing.T, s *realtest.StepCA, instances string, flags ...string) (string, result) {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", instances)
	out := filepath.Join(dir, "out")
	r := live(t, slices.Concat([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod"}, flags, stepFirst(s))...)
	if r.code != ExitOK {
		t.Fatalf("bootstrap through step-ca: exit %d: %s", r.code, r.stderr)
	}
	return out, r
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
	out, r := stepBootstrap(t, s, remoteInstances)
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
	config := installNode(t, t.TempDir(), node("node1"))
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
	out, _ := stepBootstrap(t, s, "instances:\n  - name: node1\n    dns: [node1.escert.test]\n", "--es-version", "8.13")
	config := installNode(t, t.TempDir(), filepath.Join(out, "nodes", "node1"))
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

// serverOnlyTemplate is escert's provisioner template without clientAuth, as a
// provisioner set up with a template of its own may have had it: its certificates
// serve TLS but cannot be a transport layer's client side.
func serverOnlyTemplate(t *testing.T) string {
	t.Helper()
	both := `"extKeyUsage": ["serverAuth", "clientAuth"]`
	if !strings.Contains(stepca.NodeTemplate, both) {
		t.Fatalf("stepca.NodeTemplate no longer asks for %s: adapt serverOnlyTemplate", both)
	}
	return strings.Replace(stepca.NodeTemplate, both, `"extKeyUsage": ["serverAuth"]`, 1)
}

// layerCerts are the node's certificates by layer, as renewal reads them.
func layerCerts(t *testing.T, config string) map[spec.Layer]rotate.NodeCert {
	t.Helper()
	certs, err := rotate.Discover(config, nil)
	if err != nil {
		t.Fatal(err)
	}
	byLayer := map[spec.Layer]rotate.NodeCert{}
	for _, c := range certs {
		byLayer[c.Layer] = c
	}
	return byLayer
}

// certifyServerOnly replaces the PEM certificates of layers in the node at config by
// ones s issues for the same keys and names with serverAuth only: s's provisioner
// template leaves clientAuth out meanwhile.
func certifyServerOnly(t *testing.T, s *realtest.StepCA, config string, layers ...spec.Layer) {
	t.Helper()
	s.SetTemplate(t, serverOnlyTemplate(t))
	defer s.SetTemplate(t, stepca.NodeTemplate)
	iss, err := stepca.New(t.Context(), stepca.Config{URL: s.URL, RootFile: s.RootFile, Provisioner: s.Provisioner, Password: []byte(s.Password)})
	if err != nil {
		t.Fatal(err)
	}
	installed := layerCerts(t, config)
	for _, layer := range layers {
		n := installed[layer]
		if n.CertPath == "" {
			t.Fatalf("the node has no PEM %s certificate", layer)
		}
		c, err := spec.FromCertificate(n.Leaf(), layer)
		if err != nil {
			t.Fatal(err)
		}
		c.ClientAuth = false
		_, chain, err := iss.Certify(t.Context(), c, func() (crypto.Signer, error) { return n.Key, nil })
		if err != nil {
			t.Fatalf("issue a %s certificate with serverAuth only: %v", layer, err)
		}
		if err := os.WriteFile(n.CertPath, ca.EncodeCertificates(chain...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, layer := range layers {
		if got := layerCerts(t, config)[layer].Leaf().ExtKeyUsage; !slices.Equal(got, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
			t.Fatalf("the installed %s certificate has usages %v, want serverAuth only", layer, got)
		}
	}
}

// readTree is every file under dir with its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, f := range listTree(t, dir) {
		files[f] = string(mustRead(t, filepath.Join(dir, f)))
	}
	return files
}

// TestStepRenewalAddsALayersMissingUsageByIssuingAfresh: step-ca's renewal by
// possession copies the old certificate, usages and all, so a transport certificate
// without clientAuth is issued afresh through the provisioner, never renewed into
// another broken copy; without a provisioner the run says why and writes nothing.
// step-ca takes a certificate as proof of possession only when it has clientAuth
// (its TLS server verifies client certificates for it; smallstep/certificates#1843),
// so an HTTP certificate with serverAuth only cannot renew by possession either: the
// run stops before writing.
func TestStepRenewalAddsALayersMissingUsageByIssuingAfresh(t *testing.T) {
	s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: stepca.NodeTemplate})
	out, _ := stepBootstrap(t, s, remoteInstances, "--format", "pem")
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth
	type renewed struct {
		usages []x509.ExtKeyUsage
		afresh bool // a new key: issued through the provisioner, not renewed by possession
	}
	cases := []struct {
		name        string
		serverOnly  []spec.Layer
		provisioner bool
		code        int
		stderr      string                 // a line of stderr: all of it when the run fails
		want        map[spec.Layer]renewed // nil: the node's files are unchanged
	}{
		{
			"without a provisioner a transport certificate lacking clientAuth is refused, not renewed into a copy",
			[]spec.Layer{spec.Transport}, false, ExitUsage,
			"escert: transport certificate: its extended key usages (serverAuth) lack one its layer needs, which renewing it by possession would keep, so it must be issued afresh: " +
				"a certificate issued afresh by step-ca needs a provisioner: --provisioner NAME --provisioner-password-file FILE (renewing one by possession needs neither)",
			nil,
		},
		{
			"with the provisioner it is issued afresh with clientAuth while the HTTP certificate renews by possession",
			[]spec.Layer{spec.Transport}, true, ExitOK,
			"escert: the transport certificate lacked clientAuth, which its layer needs; the renewed one has serverAuth, clientAuth",
			map[spec.Layer]renewed{spec.Transport: {[]x509.ExtKeyUsage{server, client}, true}, spec.HTTP: {[]x509.ExtKeyUsage{server, client}, false}},
		},
		// step-ca's renew authenticates with the old certificate as a TLS client
		// certificate, which one without clientAuth cannot be (smallstep/certificates#1843):
		// it is issued afresh, which needs the provisioner, rather than sent to be refused.
		{
			"an HTTP certificate with serverAuth only cannot prove possession, so it needs the provisioner and nothing is written",
			[]spec.Layer{spec.HTTP}, false, ExitUsage,
			"escert: http certificate: its extended key usages (serverAuth) lack clientAuth, so it cannot prove possession to the CA over mutual TLS and must be issued afresh: " +
				"a certificate issued afresh by step-ca needs a provisioner: --provisioner NAME --provisioner-password-file FILE (renewing one by possession needs neither)",
			nil,
		},
		{
			// escert's step template gives every certificate both usages.
			"with the provisioner an HTTP certificate with serverAuth only is issued afresh",
			[]spec.Layer{spec.HTTP}, true, ExitOK,
			"warning: the new http certificate lives 24h0m0s, less than the renewal window, so every run renews it: use a shorter --before or --at 2/3",
			map[spec.Layer]renewed{spec.HTTP: {[]x509.ExtKeyUsage{server, client}, true}, spec.Transport: {[]x509.ExtKeyUsage{server, client}, false}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config := installNode(t, t.TempDir(), filepath.Join(out, "nodes", "node1"))
			certifyServerOnly(t, s, config, c.serverOnly...)
			before, files := layerCerts(t, config), readTree(t, config)
			args := []string{"renew", "--es-config", config, "--force", "--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile}
			if c.provisioner {
				args = append(args, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile)
			}
			r := live(t, args...)
			assertDocumented(t, args, r.code)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != c.code || !slices.Contains(lines, c.stderr) || c.want == nil && len(lines) != 1 {
				t.Fatalf("exit %d, want %d with the line %q (the only one when it fails):\n%s%s", r.code, c.code, c.stderr, r.stdout, r.stderr)
			}
			if c.want == nil {
				if after := readTree(t, config); !maps.Equal(after, files) {
					t.Errorf("a refused renewal changed the node's files: %v, were %v", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(files)))
				}
				return
			}
			after := layerCerts(t, config)
			for layer, want := range c.want {
				n := after[layer]
				if got := n.Leaf().ExtKeyUsage; !slices.Equal(got, want.usages) {
					t.Errorf("the renewed %s certificate has usages %v, want %v", layer, got, want.usages)
				}
				if n.Leaf().Equal(before[layer].Leaf()) {
					t.Errorf("the %s certificate was not renewed", layer)
				}
				if _, err := nodetls.Verify(n.Chain, nodetls.Pool(s.Root), nodetls.Roles(string(layer)), time.Now()); err != nil {
					t.Errorf("the renewed %s certificate does not serve its layer from step-ca's root: %v", layer, err)
				}
				if afresh := !n.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(before[layer].Key.Public()); afresh != want.afresh {
					t.Errorf("the %s certificate got a new key = %v, want %v (a new key is a fresh issuance, the same one a renewal by possession)", layer, afresh, want.afresh)
				}
			}
		})
	}
}
