package bundle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/golden"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

const cluster = "escert-test"

// testInstances mirrors testdata/instances.yml at the repository root: three nodes,
// Kibana with a client certificate, and Beats.
const testInstances = `
instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [127.0.0.1]
  - name: node2
    dns: [node2.escert.test]
    ip: [127.0.0.2]
  - name: "CN=node3,OU=search,O=Example"
    dns: node3.escert.test
  - name: kibana
    type: kibana
    dns: [kibana.escert.test]
    client_auth: true
  - name: beats
    type: beats
`

type testBundle struct {
	dir        string
	res        *bundle.Result
	issuer     *issuer.Local
	password   string // bootstrap password
	format     bundle.Format
	ksPassword []byte
}

// fipsMode is true when the tests run under GODEBUG=fips140=only or a BoringCrypto
// build: the bundle is then what `escert bootstrap --fips` writes.
var fipsMode = fips.Current().Name != "off"

// fipsKeystorePassword meets Elasticsearch's 14-byte FIPS rule.
var fipsKeystorePassword = []byte("fips keystore password")

// options are a bootstrap's defaults for format. Under FIPS they become --fips's:
// PEM whatever the format asked, a keystore password and the fips_mode settings.
func options(format bundle.Format) bundle.Options {
	opts := bundle.Options{
		Format: format, Key: fips.DefaultKey, Policy: fips.ForCurrent(false),
		Spec:                  spec.Options{ClusterName: cluster, TrustRestrictions: true, Localhost: true, Days: 365},
		KeystoreVersion:       eskeystore.DefaultVersion,
		TransportVerification: "certificate",
		Rand:                  rand.Reader,
		// Certificates must be valid now for the real consumers, which use the wall clock.
		Now:     time.Now,
		Version: "test",
	}
	if fipsMode {
		opts.Format, opts.FIPS, opts.KeystorePassword = bundle.PEM, true, fipsKeystorePassword
	}
	return opts
}

// skipP12UnderFIPS skips a test about PKCS#12 files, which FIPS mode does not write.
func skipP12UnderFIPS(t *testing.T) {
	if fipsMode {
		t.Skip("FIPS mode writes PEM only: a FIPS JVM reads PKCS#12 only outside its FIPS module")
	}
}

// build bootstraps testInstances into a temporary directory, as `escert bootstrap` does.
func build(t testing.TB, opts bundle.Options, single bool) testBundle {
	t.Helper()
	instances, err := spec.ParseInstances("instances.yml", []byte(testInstances))
	if err != nil {
		t.Fatal(err)
	}
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, single, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	caFiles, err := cadir.Files(local.CAs, "ca/", opts.Rand, nil)
	if err != nil {
		t.Fatal(err)
	}
	password, err := bundle.RandomPassword(opts.Rand)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, CAFiles: caFiles, BootstrapPassword: password}, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := (atomicfs.Writer{}).WriteTree(dir, res.Files, false, opts.Now()); err != nil {
		t.Fatal(err)
	}
	return testBundle{dir: dir, res: res, issuer: local, password: password, format: opts.Format, ksPassword: opts.KeystorePassword}
}

func (b testBundle) path(parts ...string) string {
	return filepath.Join(append([]string{b.dir}, parts...)...)
}

// keystore opens a node's elasticsearch.keystore.
func (b testBundle) keystore(t testing.TB, node string) *eskeystore.Keystore {
	t.Helper()
	data, err := os.ReadFile(b.path("nodes", node, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, b.ksPassword)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// secret returns one secure setting of a node's keystore.
func (b testBundle) secret(t testing.TB, node, setting string) string {
	t.Helper()
	v, ok := b.keystore(t, node).Get(setting)
	if !ok {
		t.Fatalf("node %s keystore lacks %s", node, setting)
	}
	return string(v)
}

func TestNodeKeystoreHoldsThePasswordsThatOpenItsP12Files(t *testing.T) {
	skipP12UnderFIPS(t)
	b := build(t, options(bundle.P12), false)
	ks := b.keystore(t, "node1")
	want := []string{
		"bootstrap.password", "keystore.seed",
		"xpack.security.http.ssl.keystore.secure_password",
		"xpack.security.transport.ssl.keystore.secure_password",
		"xpack.security.transport.ssl.truststore.secure_password",
	}
	if got := ks.Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("settings = %v, want %v", got, want)
	}
	if got, _ := ks.Get("bootstrap.password"); string(got) != b.password {
		t.Error("bootstrap.password differs from the password handed to the operator")
	}
	for _, layer := range []string{"transport", "http"} {
		data, err := os.ReadFile(b.path("nodes", "node1", "certs", layer+".p12"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := p12.Decode(data, b.secret(t, "node1", "xpack.security."+layer+".ssl.keystore.secure_password"))
		if err != nil {
			t.Fatalf("%s.p12: %v", layer, err)
		}
		if len(c.Keys) != 1 || c.Keys[0].Alias != layer || len(c.Keys[0].Chain) != 2 {
			t.Errorf("%s.p12 key entries = %+v, want one %q entry with leaf+CA", layer, c.Keys, layer)
		}
		if len(c.Trusted) != 1 || c.Trusted[0].Alias != layer+"_ca" || !c.Trusted[0].Cert.Equal(b.issuer.CAs[spec.Layer(layer)].Cert) {
			t.Errorf("%s.p12 trusted entries = %+v, want the %s CA as %s_ca", layer, c.Trusted, layer, layer)
		}
	}
}

func TestEveryNodeHasTheSameBootstrapPasswordAndItsOwnSeed(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	seeds := map[string]bool{}
	for _, node := range []string{"node1", "node2", "node3"} {
		if got := b.secret(t, node, "bootstrap.password"); got != b.password {
			t.Errorf("%s: bootstrap.password differs", node)
		}
		seeds[b.secret(t, node, "keystore.seed")] = true
	}
	if len(seeds) != 3 {
		t.Error("keystore.seed is shared between nodes; each keystore needs its own")
	}
	data, err := os.ReadFile(b.path(bundle.BootstrapPasswordFile))
	if err != nil || strings.TrimSpace(string(data)) != b.password {
		t.Fatalf("bootstrap password file: %q, %v", data, err)
	}
}

func TestOutputModesProtectEverySecret(t *testing.T) {
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		b := build(t, options(format), false)
		err := filepath.Walk(b.dir, func(path string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(b.dir, path)
			secret := strings.HasSuffix(path, ".key") || strings.HasSuffix(path, ".p12") ||
				strings.HasSuffix(path, ".keystore") || rel == bundle.BootstrapPasswordFile ||
				rel == filepath.Join("clients", "kibana.yml") // holds Kibana's encryption keys
			switch mode := info.Mode().Perm(); {
			case info.IsDir() && mode != 0o700:
				t.Errorf("%s: directory mode %o, want 0700", rel, mode)
			case !info.IsDir() && secret && mode != 0o600:
				t.Errorf("%s: secret with mode %o, want 0600", rel, mode)
			case !info.IsDir() && !secret && mode != 0o644:
				t.Errorf("%s: mode %o, want 0644", rel, mode)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestManifestAndPublicFilesHoldNoSecret(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	secrets := []string{b.password}
	for _, node := range []string{"node1", "node2", "node3"} {
		ks := b.keystore(t, node)
		for _, name := range ks.Names() {
			v, _ := ks.Get(name)
			secrets = append(secrets, string(v))
		}
	}
	for _, f := range b.res.Files {
		if f.Mode == atomicfs.SecretMode {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(f.Data, []byte(s)) {
				t.Errorf("%s (mode %o) contains a secret", f.Path, f.Mode)
			}
		}
		if bytes.Contains(f.Data, []byte("PRIVATE KEY")) {
			t.Errorf("%s (mode %o) contains a private key", f.Path, f.Mode)
		}
	}
	data, err := os.ReadFile(b.path(manifest.File))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Instances) != 5 || len(m.CAs) != 2 || m.BootstrapPasswordFile != bundle.BootstrapPasswordFile {
		t.Errorf("manifest: %d instances, %d CAs, password file %q", len(m.Instances), len(m.CAs), m.BootstrapPasswordFile)
	}
	for _, f := range m.Files {
		if _, err := os.Stat(b.path(f)); err != nil {
			t.Errorf("manifest lists %s: %v", f, err)
		}
	}
}

func TestClientFilesCarryTheHTTPCAAndItsFingerprint(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	httpCA := b.issuer.CAs[spec.HTTP].Cert
	data, err := os.ReadFile(b.path("clients", "http-ca.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if fp := strings.TrimSpace(string(data)); len(fp) != 64 || fp != ca.Fingerprint(httpCA) {
		t.Errorf("http-ca.sha256 = %q, want the 64-hex SHA-256 of the HTTP CA", fp)
	}
	for _, f := range []string{"clients/http-ca.crt", "clients/kibana/http-ca.crt", "nodes/node1/certs/http-ca.crt"} {
		data, err := os.ReadFile(b.path(f))
		if err != nil {
			t.Fatal(err)
		}
		certs, err := ca.ParseCertificates(data)
		if err != nil || len(certs) != 1 || !certs[0].Equal(httpCA) {
			t.Errorf("%s is not the HTTP CA", f)
		}
	}
	// Beats without client_auth gets the CA only; Kibana asked for a client certificate.
	for f, want := range map[string]bool{"clients/beats/http-ca.crt": true, "clients/beats/client.crt": false, "clients/kibana/client.crt": true, "clients/kibana/server.key": true} {
		if _, err := os.Stat(b.path(f)); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", f, err == nil, want)
		}
	}
}

func TestSettingsBlockMatchesGolden(t *testing.T) {
	cases := []struct {
		name   string
		golden string
		change func(*bundle.Options)
	}{
		{"p12 with trust restrictions", "settings-p12.golden", func(*bundle.Options) {}},
		{"pem", "settings-pem.golden", func(o *bundle.Options) { o.Format = bundle.PEM }},
		{"full verification without trust restrictions", "settings-full.golden", func(o *bundle.Options) {
			o.TransportVerification = "full"
			o.Spec.TrustRestrictions = false
		}},
		{"fips", "settings-fips.golden", func(o *bundle.Options) {
			o.Format, o.FIPS = bundle.PEM, true
			o.RequiredProviders = []string{"BCFIPS:2*", "BCJSSE:2*"}
		}},
		{"trust restrictions on DNS names", "settings-pem-dns-trust.golden", func(o *bundle.Options) {
			o.Format = bundle.PEM
			o.Restriction = &dnsRestriction
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := options(bundle.P12)
			opts.Format, opts.FIPS = bundle.P12, false // the same goldens in every crypto mode
			tc.change(&opts)
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(bundle.SettingsBlock(opts)))
		})
	}
	golden.Check(t, filepath.Join("testdata", "transport-trust.golden"), bundle.TrustRestrictions(cluster, spec.NodeNameRestriction(cluster)))
	golden.Check(t, filepath.Join("testdata", "transport-trust-dns.golden"), bundle.TrustRestrictions(cluster, dnsRestriction))
}

// dnsRestriction is what a bundle from a company CA that dropped the node otherName
// restricts the transport layer to.
var dnsRestriction = spec.Restriction{Field: spec.DNSNameField, Names: []string{"node1.example.com", "node2.example.com"}}

// TestFIPSBlockFollowsElasticsearchFIPSRules checks the --fips block against what a
// FIPS 140 mode Elasticsearch demands (its FIPS docs): fips_mode on, no PKCS#12 or JKS
// stores, PBKDF2 password hashing, TLS 1.2/1.3 with AES-GCM suites only, no
// auto-configuration, and the providers it was given to require.
func TestFIPSBlockFollowsElasticsearchFIPSRules(t *testing.T) {
	opts := options(bundle.PEM)
	opts.Format, opts.FIPS = bundle.PEM, true
	opts.RequiredProviders = []string{"BCFIPS", "BCJSSE"}
	s, err := esconfig.Parse([]byte(bundle.SettingsBlock(opts)))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.List("xpack.security.fips_mode.required_providers"); strings.Join(p, ",") != "BCFIPS,BCJSSE" {
		t.Errorf("required_providers = %v, want the given BCFIPS, BCJSSE", p)
	}
	for key, want := range map[string]string{
		"xpack.security.fips_mode.enabled":                "true",
		"xpack.security.autoconfiguration.enabled":        "false",
		"xpack.security.authc.password_hashing.algorithm": "pbkdf2_stretch",
	} {
		if got, _ := s.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	for _, layer := range []string{"transport", "http"} {
		prefix := "xpack.security." + layer + ".ssl."
		if p := s.List(prefix + "supported_protocols"); strings.Join(p, ",") != "TLSv1.3,TLSv1.2" {
			t.Errorf("%s supported_protocols = %v", layer, p)
		}
		suites := s.List(prefix + "cipher_suites")
		for _, suite := range suites {
			if !strings.Contains(suite, "_AES_") || !strings.HasSuffix(suite, "GCM_SHA256") && !strings.HasSuffix(suite, "GCM_SHA384") {
				t.Errorf("%s cipher suite %s is not AES-GCM", layer, suite)
			}
		}
		if len(suites) == 0 {
			t.Errorf("%s names no cipher_suites: the defaults include ChaCha20, which a FIPS JVM lacks", layer)
		}
		for _, key := range []string{"keystore.path", "truststore.path"} {
			if v, ok := s.Get(prefix + key); ok {
				t.Errorf("%s%s = %q: a FIPS JVM reads PKCS#12 and JKS only outside its FIPS module", prefix, key, v)
			}
		}
		if _, ok := s.Get(prefix + "key"); !ok {
			t.Errorf("%s has no PEM key", layer)
		}
	}
}

func TestBuildFailsWholeWhenOneInstanceCannotBeIssued(t *testing.T) {
	opts := options(bundle.P12)
	opts.Spec.Days = 4000 // beyond the CA's 3650 days
	instances, _ := spec.ParseInstances("i.yml", []byte(testInstances))
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, false, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances}, opts)
	if err == nil || !strings.Contains(err.Error(), "after its CA") {
		t.Fatalf("err = %v, want a refusal naming the CA's expiry", err)
	}
}

// BenchmarkBootstrap100Nodes bootstraps 100 nodes in memory and writes them to disk.
// The variants are baselines in the same run: keystore-v5 isolates the cost of the
// 210,000 PBKDF2 iterations of format 6, rsa-2048 the cost of RSA key generation.
func BenchmarkBootstrap100Nodes(b *testing.B) {
	var yml strings.Builder
	yml.WriteString("instances:\n")
	for i := range 100 {
		yml.WriteString("  - name: node" + strconv.Itoa(i) + "\n    dns: [node" + strconv.Itoa(i) + ".example.com]\n")
	}
	instances, err := spec.ParseInstances("bench.yml", []byte(yml.String()))
	if err != nil {
		b.Fatal(err)
	}
	variants := []struct {
		name   string
		change func(*bundle.Options)
	}{
		{"default", func(*bundle.Options) {}},
		{"keystore-v5", func(o *bundle.Options) { o.KeystoreVersion = 5 }},
		{"rsa-2048", func(o *bundle.Options) { o.Key = fips.KeySpec{Type: fips.RSA, Bits: 2048} }},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			opts := options(bundle.P12)
			v.change(&opts)
			for b.Loop() {
				local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, false, opts.Now)
				if err != nil {
					b.Fatal(err)
				}
				res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "x"}, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := (atomicfs.Writer{}).WriteTree(filepath.Join(b.TempDir(), "out"), res.Files, false, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// panickingReader stands for any bug that panics inside an instance's worker.
type panickingReader struct{}

func (panickingReader) Read([]byte) (int, error) { panic("test panic in a worker") }

func TestWorkerPanicBecomesOneInstancesErrorNotACrash(t *testing.T) {
	opts := options(bundle.P12)
	instances, _ := spec.ParseInstances("i.yml", []byte(testInstances))
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, false, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	opts.Rand = panickingReader{}
	_, err = bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, BootstrapPassword: "x"}, opts)
	var pe *bundle.PanicError
	if !errors.As(err, &pe) || pe.Value != "test panic in a worker" || len(pe.Stack) == 0 {
		t.Fatalf("err = %v, want a PanicError carrying the panic and its stack", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "a bug in escert") {
		t.Errorf("message %q is not one line saying it is a bug", msg)
	}
}
