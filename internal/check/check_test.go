package check_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/check"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// fixedNow is when the test bundles are issued; checks run at this time unless a case
// moves the clock.
var fixedNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

const (
	cluster          = "escert-test"
	keystorePassword = "keystore password for tests"
	instances        = `
instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [192.0.2.1]
`
)

// bundles maps a variant to the nodes/node1 directory of a bundle built once for all
// tests: "p12" and "pem" as escert bootstrap writes them, "p12-password" with a
// password-protected elasticsearch.keystore.
var bundles = map[string]string{}

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "escert-check-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(root)
		for variant, opts := range map[string]bundle.Options{
			"p12":          options(bundle.P12, nil),
			"pem":          options(bundle.PEM, nil),
			"p12-password": options(bundle.P12, []byte(keystorePassword)),
			"pem-fips":     fipsOptions(),
		} {
			out := filepath.Join(root, variant)
			if err := build(out, opts); err != nil {
				fmt.Fprintf(os.Stderr, "build %s bundle: %v\n", variant, err)
				return 1
			}
			bundles[variant] = filepath.Join(out, "nodes", "node1")
		}
		return m.Run()
	}()
	os.Exit(code)
}

func options(format bundle.Format, ksPassword []byte) bundle.Options {
	return bundle.Options{
		Format: format, Key: fips.DefaultKey, Policy: fips.ForCurrent(false),
		Spec:                  spec.Options{ClusterName: cluster, TrustRestrictions: true, Localhost: true, Days: 365},
		KeystoreVersion:       eskeystore.DefaultVersion,
		KeystorePassword:      ksPassword,
		TransportVerification: "certificate",
		Rand:                  rand.Reader,
		Now:                   func() time.Time { return fixedNow },
		Version:               "test",
	}
}

// fipsOptions are those of escert bootstrap --fips --es-version 9.5.4.
func fipsOptions() bundle.Options {
	opts := options(bundle.PEM, []byte(keystorePassword))
	opts.FIPS, opts.RequiredProviders = true, []string{"BCFIPS:2*", "BCJSSE:2*"}
	return opts
}

// build bootstraps the test instance into out, as `escert bootstrap` does.
func build(out string, opts bundle.Options) error {
	inst, err := spec.ParseInstances("instances.yml", []byte(instances))
	if err != nil {
		return err
	}
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, opts.Key, cluster, 3650, false, opts.Now)
	if err != nil {
		return err
	}
	caFiles, err := cadir.Files(local.CAs, "ca/", opts.Rand, nil)
	if err != nil {
		return err
	}
	password, err := bundle.RandomPassword(opts.Rand)
	if err != nil {
		return err
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: inst, CAFiles: caFiles, BootstrapPassword: password}, opts)
	if err != nil {
		return err
	}
	_, err = (atomicfs.Writer{}).WriteTree(out, res.Files, false, opts.Now())
	return err
}

// nodeConfig makes a config directory the way an operator would from a bundle: the
// node's files copied in, and its settings block appended to the elasticsearch.yml
// Elasticsearch ships, plus extra lines.
// ipFilter is an IP filter on both layers, for cases about names on a node bound
// beyond loopback.
const ipFilter = "xpack.security.transport.filter.allow: [192.0.2.0/24]\nxpack.security.http.filter.enabled: true\nxpack.security.http.filter.allow: [192.0.2.0/24]\n"

func nodeConfig(t *testing.T, variant, extra string) string {
	t.Helper()
	src := bundles[variant]
	dir := filepath.Join(t.TempDir(), "config")
	copyTree(t, src, dir)
	shipped, err := os.ReadFile(filepath.Join("testdata", "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	block, err := os.ReadFile(filepath.Join(src, "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	yml := string(shipped) + "\n" + string(block) + extra
	if err := os.WriteFile(filepath.Join(dir, "elasticsearch.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// secureConfig is nodeConfig with audit logging on: what passes every check.
func secureConfig(t *testing.T, variant string) string {
	return nodeConfig(t, variant, "xpack.security.audit.enabled: true\n")
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// nobody is an account that owns none of the test files.
var nobody = &check.Identity{Name: "elasticsearch", UID: 4242424, GID: -1}

func defaultOptions() check.Options {
	return check.Options{WarnDays: 30, Proc: fstest.MapFS{}, Elasticsearch: nobody}
}

func run(t *testing.T, dir string, now time.Time, opts check.Options) []check.Finding {
	t.Helper()
	findings, err := check.Node(dir, nil, now, opts)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return findings
}

// ids returns the distinct "severity:id" of findings, sorted.
func ids(findings []check.Finding) []string {
	var out []string
	for _, f := range findings {
		s := string(f.Severity) + ":" + f.ID
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func dump(findings []check.Finding) string {
	var b bytes.Buffer
	check.Render(&b, "config", findings)
	return b.String()
}

func TestSecureBundleConfigIsClean(t *testing.T) {
	for _, variant := range []string{"p12", "pem"} {
		t.Run(variant, func(t *testing.T) {
			if got := run(t, secureConfig(t, variant), fixedNow, defaultOptions()); len(got) != 0 {
				t.Errorf("findings on a secure config:\n%s", dump(got))
			}
		})
	}
}

// The bundle's block alone leaves audit logging off: it needs a paid license, so
// escert does not turn it on and check only warns.
func TestBundleBlockAloneOnlyLacksAuditLogging(t *testing.T) {
	for _, variant := range []string{"p12", "pem"} {
		t.Run(variant, func(t *testing.T) {
			got := run(t, nodeConfig(t, variant, ""), fixedNow, defaultOptions())
			if want := []string{"warning:audit-disabled"}; !slices.Equal(ids(got), want) {
				t.Errorf("got %v, want %v:\n%s", ids(got), want, dump(got))
			}
		})
	}
}

// edit helpers

func replaceInYml(old, new string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, "elasticsearch.yml")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("elasticsearch.yml has no %q", old)
		}
		if err := os.WriteFile(p, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func appendToYml(text string) func(*testing.T, string) {
	return replaceInYml("xpack.security.audit.enabled: true\n", "xpack.security.audit.enabled: true\n"+text)
}

func writeFile(name string, data []byte, mode fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// serverJar puts the server jar of an archive install of version beside the config
// directory (<config>/../lib), where install and check find the node's version.
func serverJar(version string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		lib := filepath.Join(filepath.Dir(dir), "lib")
		if err := os.MkdirAll(lib, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lib, "elasticsearch-"+version+".jar"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(from, to string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(to, data, 0o600)(t, dir)
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func chmod(name string, mode fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func openKeystore(t *testing.T, dir string) *eskeystore.Keystore {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// editKeystore changes the node's (password-less) elasticsearch.keystore.
func editKeystore(edit func(*eskeystore.Keystore) error) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		ks := openKeystore(t, dir)
		if err := edit(ks); err != nil {
			t.Fatal(err)
		}
		data, err := ks.Encode(nil, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		writeFile("elasticsearch.keystore", data, 0o600)(t, dir)
	}
}

// rewriteP12 re-encodes a layer's PKCS#12 file with its password, keeping the key
// entry, the trusted entries, or both.
func rewriteP12(layer string, keepKey, keepTrusted bool) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		pw, _ := openKeystore(t, dir).Get(esconfig.SSLPrefix(layer) + "keystore.secure_password")
		name := "certs/" + layer + ".p12"
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		contents, err := p12.Decode(data, string(pw))
		if err != nil {
			t.Fatal(err)
		}
		var key *p12.KeyEntry
		var trusted []p12.TrustedCert
		if keepKey {
			key = &contents.Keys[0]
		}
		if keepTrusted {
			trusted = contents.Trusted
		}
		out, err := p12.Encode(rand.Reader, string(pw), key, trusted)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(name, out, 0o600)(t, dir)
	}
}

// reissue replaces a PEM layer's certificate with one from the same CA, for the same
// key and names, that allows only the TLS roles given: what a hand-made certificate,
// or one from a badly configured issuer, looks like.
func reissue(layer string, serverAuth, clientAuth bool) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		caDir := filepath.Join(filepath.Dir(filepath.Dir(bundles["pem"])), "ca")
		keyPEM, err := os.ReadFile(filepath.Join(caDir, layer+"-ca.key"))
		if err != nil {
			t.Fatal(err)
		}
		caKey, err := ca.ParseKeyPEM(keyPEM, nil)
		if err != nil {
			t.Fatal(err)
		}
		authority := &ca.Authority{Cert: readCerts(t, filepath.Join(caDir, layer+"-ca.crt"))[0], Key: caKey}
		old := readCerts(t, filepath.Join(dir, "certs", layer+".crt"))[0]
		c, err := spec.FromCertificate(old, spec.Layer(layer))
		if err != nil {
			t.Fatal(err)
		}
		c.ServerAuth, c.ClientAuth = serverAuth, clientAuth
		leaf, err := authority.Sign(rand.Reader, fips.ForCurrent(false), c.Leaf(fixedNow), old.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		writeFile("certs/"+layer+".crt", ca.EncodeCertificates(leaf, authority.Cert), 0o644)(t, dir)
	}
}

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// encryptKey encrypts a PEM key file with passphrase.
func encryptKey(name, passphrase string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		key, err := ca.ParseKeyPEM(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ca.MarshalKeyPEM(rand.Reader, key, []byte(passphrase))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(name, out, 0o600)(t, dir)
	}
}

func setSecret(name, value string) func(*testing.T, string) {
	return editKeystore(func(ks *eskeystore.Keystore) error { return ks.Set(name, []byte(value)) })
}

// all runs edits in order.
func all(edits ...func(*testing.T, string)) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		for _, e := range edits {
			e(t, dir)
		}
	}
}

// procTree is a fake /proc: pid → command line (NUL-separated) and real/effective uid.
func procTree(procs map[int][2]string) fstest.MapFS {
	fsys := fstest.MapFS{"self/status": {Data: []byte("Uid:\t1000\t1000\t1000\t1000\n")}}
	for pid, p := range procs {
		fsys[fmt.Sprintf("%d/cmdline", pid)] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(p[0], " ", "\x00") + "\x00")}
		fsys[fmt.Sprintf("%d/status", pid)] = &fstest.MapFile{Data: []byte("Name:\tjava\nUmask:\t0022\nUid:\t" + p[1] + "\nGid:\t0\t0\t0\t0\n")}
	}
	return fsys
}

const (
	es8Cmdline = "/usr/share/elasticsearch/jdk/bin/java -Xms1g -Des.path.home=/usr/share/elasticsearch --module-path /usr/share/elasticsearch/lib -m org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch"
	es7Cmdline = "/usr/share/elasticsearch/jdk/bin/java -Xms1g -cp /usr/share/elasticsearch/lib/* org.elasticsearch.bootstrap.Elasticsearch -p /var/run/elasticsearch/elasticsearch.pid"
)

func TestEachFindingOnAConfigBrokenOneWay(t *testing.T) {
	const httpPass = "xpack.security.http.ssl.keystore.secure_password"
	keyPEM, err := ca.MarshalKeyPEM(rand.Reader, mustKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		variant string // "p12" (default) or "pem"
		edit    func(*testing.T, string)
		opts    func(*check.Options)
		now     time.Time
		want    []string
	}{
		{name: "security off", edit: replaceInYml("xpack.security.enabled: true", "xpack.security.enabled: false"),
			want: []string{"problem:security-disabled"}},
		{name: "security unset with TLS configured", edit: replaceInYml("xpack.security.enabled: true\n", ""),
			want: []string{"warning:security-implicit"}},
		{name: "transport TLS off", edit: replaceInYml("xpack.security.transport.ssl.enabled: true", "xpack.security.transport.ssl.enabled: false"),
			want: []string{"problem:transport-tls-disabled"}},
		{name: "HTTP TLS off", edit: replaceInYml("xpack.security.http.ssl.enabled: true", "xpack.security.http.ssl.enabled: false"),
			want: []string{"problem:http-tls-disabled"}},
		{name: "HTTP TLS enabled unset beside other HTTP TLS settings", edit: replaceInYml("xpack.security.http.ssl.enabled: true\n", ""),
			want: []string{"problem:http-tls-disabled"}},
		{name: "transport verification none", edit: replaceInYml("verification_mode: certificate", "verification_mode: none"),
			want: []string{"problem:verification-none"}},
		{name: "realm verification none", edit: appendToYml("xpack.security.authc.realms.ldap.ldap1.ssl.verification_mode: none\n"),
			want: []string{"problem:verification-none"}},
		{name: "transport client authentication none", edit: replaceInYml("client_authentication: required", "client_authentication: none"),
			want: []string{"problem:transport-client-auth-none"}},
		{name: "transport client authentication optional", edit: replaceInYml("client_authentication: required", "client_authentication: optional"),
			want: []string{"warning:transport-client-auth-optional"}},
		{name: "keystore file missing", edit: remove("certs/http.p12"),
			want: []string{"problem:file-missing"}},
		{name: "trust restrictions file missing", edit: remove("certs/transport-trust.yml"),
			want: []string{"problem:file-missing"}},
		{name: "PEM certificate missing", variant: "pem", edit: remove("certs/http.crt"),
			want: []string{"problem:file-missing"}},
		{name: "keystore file garbage", edit: writeFile("certs/http.p12", []byte("not a PKCS#12 file"), 0o600),
			want: []string{"problem:file-unparsable"}},
		{name: "CA file garbage", variant: "pem", edit: writeFile("certs/http-ca.crt", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644),
			want: []string{"problem:file-unparsable"}},
		{name: "trust restrictions without patterns", edit: writeFile("certs/transport-trust.yml", []byte("trust.subject_name: []\n"), 0o644),
			want: []string{"problem:file-unparsable"}},
		{name: "keystore holds a wrong p12 password", edit: setSecret(httpPass, "not-the-password"),
			want: []string{"problem:p12-password"}},
		{name: "keystore lacks the p12 password", edit: editKeystore(func(ks *eskeystore.Keystore) error { ks.Remove(httpPass); return nil }),
			want: []string{"problem:p12-password"}},
		{name: "elasticsearch.keystore missing", edit: remove("elasticsearch.keystore"),
			want: []string{"problem:keystore-missing"}},
		{name: "truststore without trusted entries", edit: rewriteP12("transport", true, false),
			want: []string{"problem:truststore-no-trusted"}},
		{name: "keystore without a key", edit: rewriteP12("http", false, true),
			want: []string{"problem:keystore-no-key"}},
		{name: "PEM key of another certificate", variant: "pem", edit: copyFile("certs/transport.key", "certs/http.key"),
			want: []string{"problem:key-mismatch"}},
		{name: "encrypted PEM key without passphrase", variant: "pem", edit: encryptKey("certs/http.key", "a passphrase"),
			want: []string{"problem:key-passphrase"}},
		{name: "encrypted PEM key with a wrong passphrase", variant: "pem",
			edit: all(encryptKey("certs/http.key", "a passphrase"), setSecret("xpack.security.http.ssl.secure_key_passphrase", "another one")),
			want: []string{"problem:key-passphrase"}},
		{name: "encrypted PEM key with its passphrase", variant: "pem",
			edit: all(encryptKey("certs/http.key", "a passphrase"), setSecret("xpack.security.http.ssl.secure_key_passphrase", "a passphrase"))},
		{name: "chain from another CA", variant: "pem", edit: copyFile("certs/transport-ca.crt", "certs/http-ca.crt"),
			want: []string{"problem:chain-untrusted"}},
		{name: "transport trusts no CA", variant: "pem", edit: replaceInYml(`xpack.security.transport.ssl.certificate_authorities: [ "certs/transport-ca.crt" ]`+"\n", ""),
			want: []string{"problem:trust-missing"}},
		{name: "keystore's trusted entries serve as truststore", edit: replaceInYml("xpack.security.transport.ssl.truststore.path: certs/transport.p12\n", "")},
		{name: "truststore and certificate_authorities", edit: appendToYml("xpack.security.transport.ssl.certificate_authorities: [certs/transport-ca.crt]\n"),
			want: []string{"problem:tls-conflict"}},
		{name: "HTTP TLS on without a key", edit: replaceInYml("xpack.security.http.ssl.keystore.path: certs/http.p12\n", ""),
			want: []string{"problem:tls-no-key"}},
		{name: "node's certificate fails its trust restrictions", edit: writeFile("certs/transport-trust.yml", []byte(`trust.subject_name: ["*.node.other-cluster"]`+"\n"), 0o644),
			want: []string{"problem:trust-restrictions-mismatch"}},
		{name: "network.host not in the HTTP certificate", edit: appendToYml("network.host: 192.0.2.99\n" + ipFilter),
			want: []string{"warning:http-name-missing"}},
		{name: "http.publish_host not in the HTTP certificate", edit: appendToYml("http.publish_host: es.escert.test\n"),
			want: []string{"warning:http-name-missing"}},
		{name: "hosts the HTTP certificate names", edit: appendToYml("network.host: [node1.escert.test, 192.0.2.1]\nhttp.publish_host: localhost\n" + ipFilter)},
		{name: "special and wildcard hosts are skipped", edit: appendToYml("network.host: [_site_, _eth0:ipv4_, 0.0.0.0, \"[::]\"]\n" + ipFilter)},
		{name: "transport host not in the certificate with full verification",
			edit: all(replaceInYml("verification_mode: certificate", "verification_mode: full"), appendToYml("transport.host: 192.0.2.99\n"+ipFilter)),
			want: []string{"warning:transport-name-missing"}},
		{name: "network.host beyond loopback without an IP filter", edit: appendToYml("network.host: _site_\n"),
			want: []string{"warning:ip-filter-missing"}},
		{name: "loopback hosts need no IP filter", edit: appendToYml("network.host: [_local_, 127.0.0.1, \"::1\"]\nhttp.bind_host: localhost\n")},
		{name: "an IP filter turned off does not count", edit: appendToYml("http.host: 0.0.0.0\nxpack.security.http.filter.allow: 10.0.0.0/8\n" + "xpack.security.http.filter.enabled: false\n"),
			want: []string{"warning:ip-filter-missing"}},
		{name: "a transport profile's IP filter counts", edit: appendToYml("transport.host: _site_\ntransport.profiles.client.xpack.security.filter.deny: _all\n")},
		{name: "CORS open to every origin", edit: appendToYml("http.cors.enabled: true\nhttp.cors.allow-origin: \"*\"\n"),
			want: []string{"problem:cors-any-origin"}},
		{name: "every origin while CORS is off", edit: appendToYml("http.cors.allow-origin: /.*/\n"),
			want: []string{"warning:cors-any-origin"}},
		{name: "CORS for one origin", edit: appendToYml("http.cors.enabled: true\nhttp.cors.allow-origin: https://app.escert.test\n")},
		{name: "anonymous realm roles", edit: appendToYml("xpack.security.authc.anonymous.roles: [monitoring_user]\n"),
			want: []string{"problem:anonymous-access"}},
		{name: "HTTP allows TLSv1.1", edit: appendToYml("xpack.security.http.ssl.supported_protocols: [TLSv1.3, TLSv1.2, TLSv1.1]\n"),
			want: []string{"problem:tls-old-protocol"}},
		{name: "a realm allows TLSv1 as a comma-separated scalar", edit: appendToYml("xpack.security.authc.realms.ldap.ldap1.ssl.supported_protocols: TLSv1.2,TLSv1\n"),
			want: []string{"problem:tls-old-protocol"}},
		{name: "TLS 1.3 and 1.2 only", edit: appendToYml("xpack.security.transport.ssl.supported_protocols: [TLSv1.3, TLSv1.2]\n")},
		{name: "transport allows a 3DES suite", edit: appendToYml("xpack.security.transport.ssl.cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_3DES_EDE_CBC_SHA]\n"),
			want: []string{"problem:tls-weak-cipher"}},
		{name: "strong suites only", edit: appendToYml("xpack.security.http.ssl.cipher_suites: [TLS_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n")},
		{name: "plaintext bootstrap password", edit: appendToYml("bootstrap.password: changeme-in-the-yml\n"),
			want: []string{"problem:plaintext-secret"}},
		{name: "plaintext p12 password beside the secure one", edit: appendToYml("xpack.security.http.ssl.keystore.password: changeme\n"),
			want: []string{"problem:plaintext-secret", "problem:tls-conflict"}},
		{name: "world-readable p12", edit: chmod("certs/http.p12", 0o644),
			want: []string{"problem:secret-world-readable"}},
		{name: "world-readable PEM key", variant: "pem", edit: chmod("certs/http.key", 0o644),
			want: []string{"problem:secret-world-readable"}},
		{name: "world-readable key no setting names", edit: writeFile("certs/old-node.key", keyPEM, 0o644),
			want: []string{"problem:secret-world-readable"}},
		{name: "world-readable elasticsearch.keystore", edit: chmod("elasticsearch.keystore", 0o644),
			want: []string{"problem:secret-world-readable"}},
		{name: "group-writable p12", edit: chmod("certs/http.p12", 0o620),
			opts: func(o *check.Options) { o.Elasticsearch = &check.Identity{UID: nobody.UID, GID: -1} },
			want: []string{"warning:secret-group-writable"}},
		{name: "group-writable elasticsearch.keystore, as the packages make it", edit: chmod("elasticsearch.keystore", 0o660)},
		{name: "group-writable empty users file, as the packages ship it", edit: all(writeFile("users", nil, 0o600), chmod("users", 0o660)),
			opts: func(o *check.Options) { o.Elasticsearch = &check.Identity{UID: nobody.UID, GID: -1} }},
		{name: "group-writable users file holding a hash", edit: all(writeFile("users", []byte("admin:$2a$10$abcdefghijklmnopqrstuuvwxyz0123456789ABCDEFGHIJKLMNO\n"), 0o600), chmod("users", 0o660)),
			opts: func(o *check.Options) { o.Elasticsearch = &check.Identity{UID: nobody.UID, GID: -1} },
			want: []string{"warning:secret-group-writable"}},
		{name: "world-writable elasticsearch.yml", edit: chmod("elasticsearch.yml", 0o666),
			want: []string{"problem:world-writable"}},
		{name: "config owned and writable by Elasticsearch's user",
			opts: func(o *check.Options) {
				o.Elasticsearch = &check.Identity{Name: "elasticsearch", UID: os.Getuid(), GID: -1}
			},
			want: []string{"warning:writable-by-elasticsearch"}},
		{name: "format-6 keystore in a directory a 9.5 node cannot write", edit: serverJar("9.5.4"),
			opts: func(o *check.Options) { o.Elasticsearch = &check.Identity{UID: nobody.UID, GID: -1} },
			want: []string{"problem:keystore-format-old"}},
		{name: "format-6 keystore an 8.17 node reads as it is", edit: serverJar("8.17.4"),
			opts: func(o *check.Options) { o.Elasticsearch = &check.Identity{UID: nobody.UID, GID: -1} }},
		{name: "format-6 keystore a 9.5 node owning its config upgrades itself", edit: serverJar("9.5.4"),
			opts: func(o *check.Options) {
				o.Elasticsearch = &check.Identity{Name: "elasticsearch", UID: os.Getuid(), GID: -1}
			},
			want: []string{"warning:writable-by-elasticsearch"}},
		{name: "audit logging off", edit: replaceInYml("xpack.security.audit.enabled: true\n", ""),
			want: []string{"warning:audit-disabled"}},
		{name: "Elasticsearch 8 running as root",
			opts: func(o *check.Options) {
				o.Proc = procTree(map[int][2]string{
					1:    {"/sbin/init", "0\t0\t0\t0"},
					812:  {es8Cmdline, "0\t0\t0\t0"},
					990:  {es8Cmdline, "998\t998\t998\t998"},
					1201: {"/usr/bin/vim org.elasticsearch.bootstrap.Elasticsearch.java", "0\t0\t0\t0"},
				})
			},
			want: []string{"problem:runs-as-root"}},
		{name: "Elasticsearch 7 running as root",
			opts: func(o *check.Options) { o.Proc = procTree(map[int][2]string{77: {es7Cmdline, "1000\t0\t0\t0"}}) },
			want: []string{"problem:runs-as-root"}},
		{name: "Elasticsearch as its own user", opts: func(o *check.Options) {
			o.Proc = procTree(map[int][2]string{990: {es8Cmdline, "998\t998\t998\t998"}})
		}},
		{name: "JKS keystore", edit: writeFile("certs/http.p12", append([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, make([]byte, 64)...), 0o600),
			want: []string{"warning:store-not-checked"}},
		{name: "node certificates expired", now: fixedNow.AddDate(0, 0, 400),
			want: []string{"problem:cert-expired"}},
		{name: "node certificates expire within --warn-days", now: fixedNow.AddDate(0, 0, 350),
			want: []string{"warning:cert-expiring"}},
		{name: "node certificates expire after --warn-days", now: fixedNow.AddDate(0, 0, 300),
			opts: func(o *check.Options) { o.WarnDays = 60 }},
		{name: "transport certificate for TLS servers only", variant: "pem", edit: reissue("transport", true, false),
			want: []string{"problem:transport-usage-missing"}},
		{name: "transport certificate for TLS clients only", variant: "pem", edit: reissue("transport", false, true),
			want: []string{"problem:transport-usage-missing"}},
		{name: "transport certificate for TLS servers and clients", variant: "pem", edit: reissue("transport", true, true)},
		{name: "HTTP certificate for TLS clients only", variant: "pem", edit: reissue("http", false, true),
			want: []string{"problem:http-usage-missing"}},
		{name: "HTTP certificate for TLS servers only", variant: "pem", edit: reissue("http", true, false)},
		{name: "certificates not yet valid", now: fixedNow.AddDate(0, 0, -2),
			want: []string{"problem:cert-not-yet-valid"}},
		{name: "CAs expiring, leaves expired", now: fixedNow.AddDate(0, 0, 3640),
			want: []string{"problem:cert-expired", "warning:cert-expiring"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			variant := tc.variant
			if variant == "" {
				variant = "p12"
			}
			dir := secureConfig(t, variant)
			if tc.edit != nil {
				tc.edit(t, dir)
			}
			opts := defaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			now := tc.now
			if now.IsZero() {
				now = fixedNow
			}
			got := run(t, dir, now, opts)
			if os.Getenv("CHECK_DUMP") != "" {
				t.Log("\n" + dump(got))
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %v, want %v:\n%s", ids(got), tc.want, dump(got))
			}
			for _, f := range got {
				if f.Message == "" || f.Fix == "" {
					t.Errorf("%s: empty message or fix", f.ID)
				}
			}
		})
	}
}

func mustKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ca.GenerateKey(rand.Reader, fips.ForCurrent(false), fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestNoTLSAtAllMakesUnsetSecurityAProblem(t *testing.T) {
	dir := t.TempDir()
	shipped, err := os.ReadFile(filepath.Join("testdata", "elasticsearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile("elasticsearch.yml", shipped, 0o644)(t, dir)
	got := run(t, dir, fixedNow, defaultOptions())
	want := []string{"problem:http-tls-disabled", "problem:security-implicit", "problem:transport-tls-disabled", "warning:audit-disabled"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("got %v, want %v:\n%s", ids(got), want, dump(got))
	}
	if got[0].Severity != check.Problem || got[len(got)-1].Severity != check.Warning {
		t.Errorf("problems are not listed first:\n%s", dump(got))
	}
}

func TestFindingsPointAtTheSettingAndItsLine(t *testing.T) {
	dir := secureConfig(t, "p12")
	replaceInYml("xpack.security.enabled: true", "xpack.security.enabled: false")(t, dir)
	got := run(t, dir, fixedNow, defaultOptions())
	if len(got) != 1 {
		t.Fatalf("got %d findings:\n%s", len(got), dump(got))
	}
	data, _ := os.ReadFile(filepath.Join(dir, "elasticsearch.yml"))
	lines := strings.Split(string(data), "\n")
	f := got[0]
	if f.File != "elasticsearch.yml" || f.Setting != "xpack.security.enabled" || f.Line < 1 || lines[f.Line-1] != "xpack.security.enabled: false" {
		t.Errorf("finding points at %s:%d [%s]", f.File, f.Line, f.Setting)
	}

	dir = secureConfig(t, "p12")
	setSecret("xpack.security.http.ssl.keystore.secure_password", "wrong")(t, dir)
	got = run(t, dir, fixedNow, defaultOptions())
	if len(got) != 1 || got[0].File != "certs/http.p12" || got[0].Setting != "xpack.security.http.ssl.keystore.path" {
		t.Errorf("p12 password finding: %+v", got)
	}
}

func TestExpiryShowsTheDates(t *testing.T) {
	dir := secureConfig(t, "p12")
	got := run(t, dir, fixedNow.AddDate(0, 0, 400), defaultOptions())
	if len(got) != 2 {
		t.Fatalf("want one finding per expired leaf (transport and HTTP), got:\n%s", dump(got))
	}
	for _, f := range got {
		if !strings.Contains(f.Message, "expired on 2027-11-27") || !strings.Contains(f.Message, "valid 2026-11-27 to 2027-11-27") {
			t.Errorf("message lacks the dates: %s", f.Message)
		}
	}
	got = run(t, dir, fixedNow.AddDate(0, 0, 350), defaultOptions())
	for _, f := range got {
		if !strings.Contains(f.Message, "expires on 2027-11-27, in 15 days") {
			t.Errorf("message lacks the date and days left: %s", f.Message)
		}
	}
}

func TestPasswordProtectedKeystore(t *testing.T) {
	dir := secureConfig(t, "p12-password")
	var asked []byte
	password := func(pw string) check.PasswordFunc {
		return func(keystore []byte) ([]byte, error) {
			asked = keystore
			return []byte(pw), nil
		}
	}
	got, err := check.Node(dir, password(keystorePassword), fixedNow, defaultOptions())
	if err != nil || len(got) != 0 {
		t.Fatalf("right password: err %v, findings:\n%s", err, dump(got))
	}
	if has, _ := eskeystore.HasPassword(asked); !has {
		t.Error("the password function did not get the keystore's bytes")
	}
	_, err = check.Node(dir, password("wrong password, long enough"), fixedNow, defaultOptions())
	if !errors.Is(err, eskeystore.ErrWrongPassword) {
		t.Errorf("wrong password: err = %v, want ErrWrongPassword", err)
	}
	refused := errors.New("no password given")
	_, err = check.Node(dir, func([]byte) ([]byte, error) { return nil, refused }, fixedNow, defaultOptions())
	if !errors.Is(err, refused) {
		t.Errorf("password source error: err = %v", err)
	}
}

func TestUnusableInput(t *testing.T) {
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		want string
	}{
		{"no config directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, "no such file or directory"},
		{"no elasticsearch.yml", func(t *testing.T) string { return t.TempDir() }, "elasticsearch.yml: no such file or directory"},
		{"elasticsearch.yml not YAML", func(t *testing.T) string {
			dir := t.TempDir()
			writeFile("elasticsearch.yml", []byte("xpack.security.enabled: [true\n"), 0o644)(t, dir)
			return dir
		}, "not valid YAML"},
		{"setting set twice", func(t *testing.T) string {
			dir := secureConfig(t, "p12")
			appendToYml("xpack.security.enabled: false\n")(t, dir)
			return dir
		}, "xpack.security.enabled is already set"},
		{"corrupt keystore", func(t *testing.T) string {
			dir := secureConfig(t, "p12")
			writeFile("elasticsearch.keystore", []byte("not a keystore"), 0o600)(t, dir)
			return dir
		}, "keystore is corrupted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check.Node(tc.dir(t), nil, fixedNow, defaultOptions())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Findings name secrets' settings, never their values.
func TestFindingsNeverCarrySecrets(t *testing.T) {
	dir := secureConfig(t, "p12")
	appendToYml("bootstrap.password: plaintext-bootstrap-secret\nxpack.security.transport.ssl.truststore.password: plaintext-truststore-secret\n")(t, dir)
	setSecret("xpack.security.http.ssl.keystore.secure_password", "wrong-p12-secret")(t, dir)
	ks := openKeystore(t, dir)
	got := run(t, dir, fixedNow, defaultOptions())
	if len(got) < 3 {
		t.Fatalf("expected findings:\n%s", dump(got))
	}
	out, err := json.Marshal(check.NewReport(got))
	if err != nil {
		t.Fatal(err)
	}
	text := dump(got)
	secrets := []string{"plaintext-bootstrap-secret", "plaintext-truststore-secret"}
	for _, name := range ks.Names() {
		v, _ := ks.Get(name)
		secrets = append(secrets, string(v))
	}
	for _, s := range secrets {
		if strings.Contains(string(out), s) || strings.Contains(text, s) {
			t.Errorf("a secret value appears in the output: %q", s)
		}
	}
}

func TestReportJSON(t *testing.T) {
	out, err := json.Marshal(check.NewReport(nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"findings":[],"summary":{"problems":0,"warnings":0}}` {
		t.Errorf("clean report = %s", out)
	}
	dir := nodeConfig(t, "p12", "bootstrap.password: x\n")
	var r struct {
		Findings []map[string]any `json:"findings"`
		Summary  check.Summary    `json:"summary"`
	}
	out, _ = json.Marshal(check.NewReport(run(t, dir, fixedNow, defaultOptions())))
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary != (check.Summary{Problems: 1, Warnings: 1}) || len(r.Findings) != 2 {
		t.Fatalf("report: %s", out)
	}
	f := r.Findings[0]
	if f["severity"] != "problem" || f["id"] != "plaintext-secret" || f["file"] != "elasticsearch.yml" || f["setting"] != "bootstrap.password" || f["line"] == nil || f["fix"] == "" {
		t.Errorf("finding: %v", f)
	}
}

func TestRender(t *testing.T) {
	var b bytes.Buffer
	check.Render(&b, "/etc/elasticsearch", nil)
	if b.String() != "clean: /etc/elasticsearch passes every check\n" {
		t.Errorf("clean: %q", b.String())
	}
	b.Reset()
	check.Render(&b, "/etc/elasticsearch", []check.Finding{
		{Severity: check.Problem, ID: "security-disabled", File: "elasticsearch.yml", Line: 7, Setting: "xpack.security.enabled", Message: "security is off", Fix: "turn it on"},
		{Severity: check.Warning, ID: "audit-disabled", File: "elasticsearch.yml", Setting: "xpack.security.audit.enabled", Message: "audit is off", Fix: "turn it on"},
	})
	want := "problem security-disabled elasticsearch.yml:7 [xpack.security.enabled]: security is off. Fix: turn it on\n" +
		"warning audit-disabled elasticsearch.yml [xpack.security.audit.enabled]: audit is off. Fix: turn it on\n" +
		"1 problem, 1 warning in /etc/elasticsearch\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// escert's lock and temporary files are not Elasticsearch's configuration; its
// backups are looked at when they can be listed, since an old key there is exposed
// like any other. (That a check run as the elasticsearch user does not need to list
// them is TestCheckAsElasticsearchUserNeedsNoAccessToEscertsBackups in internal/cli.)
func TestEscertsOwnFiles(t *testing.T) {
	backup := "escert-backups/20261127T090000Z/certs/http.p12"
	cases := []struct {
		name string
		edit func(*testing.T, string)
		opts check.Options
		want func(t *testing.T, findings []check.Finding)
	}{
		{"the lock and a write's temporary file are not configuration",
			all(writeFile(atomicfs.LockFile, nil, 0o600), writeFile(".elasticsearch.yml.escert-1234", []byte("x"), 0o600)),
			// Elasticsearch's user owns every test file: each is writable by it.
			check.Options{WarnDays: 30, Proc: fstest.MapFS{}, Elasticsearch: &check.Identity{Name: "elasticsearch", UID: os.Getuid(), GID: -1}},
			func(t *testing.T, findings []check.Finding) {
				if !slices.Contains(ids(findings), "warning:writable-by-elasticsearch") {
					t.Fatalf("want the config files Elasticsearch could rewrite:\n%s", dump(findings))
				}
				if text := dump(findings); strings.Contains(text, ".escert") {
					t.Errorf("escert's lock or temporary file is reported:\n%s", text)
				}
			}},
		{"a world-readable key among the backups is still exposed",
			func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(backup)), 0o750); err != nil {
					t.Fatal(err)
				}
				writeFile(backup, []byte("old key"), 0o644)(t, dir)
			},
			defaultOptions(),
			func(t *testing.T, findings []check.Finding) {
				if len(findings) != 1 || findings[0].ID != "secret-world-readable" || findings[0].File != backup {
					t.Errorf("want the world-readable backup alone:\n%s", dump(findings))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := secureConfig(t, "p12")
			tc.edit(t, dir)
			tc.want(t, run(t, dir, fixedNow, tc.opts))
		})
	}
}

// Node-to-node TLS uses the transport certificate as server and as client: one
// allowing serverAuth alone passes a chain check, yet peers reject it when the node
// connects. The finding says which role is missing and what breaks.
func TestTransportCertificateMustServeAsClientToo(t *testing.T) {
	dir := secureConfig(t, "pem")
	reissue("transport", true, false)(t, dir)
	got := run(t, dir, fixedNow, defaultOptions())
	if len(got) != 1 {
		t.Fatalf("want one finding:\n%s", dump(got))
	}
	f := got[0]
	for _, want := range []string{"may not act as TLS client", "extended key usages: serverAuth", "uses it as TLS server and client", "node-to-node TLS fails"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message lacks %q: %s", want, f.Message)
		}
	}
	if f.Severity != check.Problem || f.File != "certs/transport.crt" || f.Setting != "xpack.security.transport.ssl.certificate" {
		t.Errorf("finding: %+v", f)
	}
}

// TestFIPSNodeFindings: a FIPS bundle installed as escert does checks clean; each way a
// FIPS-mode node would read keys outside the FIPS module, or not start on a FIPS JVM,
// is its own finding.
func TestFIPSNodeFindings(t *testing.T) {
	withPassword := func(pw string) check.PasswordFunc {
		return func(data []byte) ([]byte, error) {
			if has, _ := eskeystore.HasPassword(data); !has {
				return nil, nil
			}
			return []byte(pw), nil
		}
	}
	const fipsOn = "xpack.security.fips_mode.enabled: true\n"
	cases := []struct {
		name, variant string
		edit          func(*testing.T, string)
		want          []string
	}{
		{"escert's FIPS bundle", "pem-fips", nil, nil},
		{"PKCS#12 stores in FIPS mode", "p12-password", appendToYml(fipsOn + "xpack.security.fips_mode.required_providers: [BCFIPS]\n"),
			[]string{"problem:fips-store-outside-module"}},
		{"keystore without a password", "pem", appendToYml(fipsOn + "xpack.security.fips_mode.required_providers: [BCFIPS]\n"),
			[]string{"problem:fips-keystore-password"}},
		{"no required providers", "pem-fips", replaceInYml("xpack.security.fips_mode.required_providers: [ \"BCFIPS:2*\", \"BCJSSE:2*\" ]\n", ""),
			[]string{"warning:fips-providers-unchecked"}},
		{"bcrypt hashes", "pem-fips", replaceInYml("algorithm: pbkdf2_stretch", "algorithm: bcrypt"),
			[]string{"problem:fips-password-hashing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := secureConfig(t, tc.variant)
			if tc.edit != nil {
				tc.edit(t, dir)
			}
			got, err := check.Node(dir, withPassword(keystorePassword), fixedNow, defaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %v, want %v:\n%s", ids(got), tc.want, dump(got))
			}
		})
	}
	// A password under 14 bytes: the same keystore re-sealed with one.
	dir := secureConfig(t, "pem-fips")
	path := filepath.Join(dir, "elasticsearch.keystore")
	data, _ := os.ReadFile(path)
	ks, err := eskeystore.Decode(data, []byte(keystorePassword))
	if err != nil {
		t.Fatal(err)
	}
	short, err := ks.Encode([]byte("short-pw"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, short, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := check.Node(dir, withPassword("short-pw"), fixedNow, defaultOptions())
	if err != nil || !slices.Equal(ids(got), []string{"problem:fips-keystore-password"}) || !strings.Contains(got[0].Message, "has 8 bytes") {
		t.Errorf("an 8-byte keystore password in FIPS mode: err %v, findings:\n%s", err, dump(got))
	}
}
