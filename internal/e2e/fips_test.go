package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/treestate"
)

// The FIPS generations escert is tested against, each on the version it is for: 9.4+
// runs BouncyCastle FIPS 2.x (FIPS 140-3); 8.x runs 1.x (FIPS 140-2).
var fipsTargets = []struct {
	version, generation string
	flavour             fipsFlavour // the FIPS escert build that bootstraps it
	bcfipsMajor         string      // the major version BCFIPS and BCJSSE report
}{
	{es9, "140-3", goFIPS, "2"},
	{es8, "140-2", boringCrypto, "1"},
}

// Secrets of the FIPS tests: FIPS mode derives no key from fewer than 14 bytes.
const (
	fipsCAPassword       = "escert e2e FIPS CA passphrase"
	fipsKeystorePassword = "escert e2e FIPS keystore"
)

// TestFIPSClustersRunOnFIPSBundles: for each FIPS generation, a FIPS build of escert
// bootstraps (--fips) and installs (--fips) three nodes of the version that runs it,
// on a JVM whose only approved providers are BouncyCastle FIPS in approved-only mode
// (scripts/prepare-fips-elasticsearch). The cluster goes green with TLS on both
// layers; it offers nothing but TLS 1.2/1.3 with AES-GCM; the trust restrictions
// refuse a certificate from its own transport CA that names no node; elastic logs in;
// check is clean; and a renewal is hot-reloaded with no failed request.
func TestFIPSClustersRunOnFIPSBundles(t *testing.T) {
	for _, target := range fipsTargets {
		t.Run(fmt.Sprintf("%s FIPS %s from %s", target.version, target.generation, target.flavour), func(t *testing.T) {
			dist := realtest.RequireFIPSElasticsearch(t, target.version, target.generation)
			bin := fipsBinary(t, target.flavour)
			fipsLifecycle(t, dist, bin, target.bcfipsMajor)
		})
	}
}

func fipsLifecycle(t *testing.T, dist *realtest.Distribution, bin, bcfipsMajor string) {
	dir := t.TempDir()
	pass := secretFile(t, dir, "keystore-password", fipsKeystorePassword)
	env := []string{"ESCERT_CA_PASSWORD=" + fipsCAPassword}
	out := filepath.Join(dir, "out")
	mustRun(t, bin, env, "bootstrap", "--fips", "--instances", instances(t, dir, 3), "--out", out, "--cluster-name", clusterName,
		"--es-version", dist.Version, "--keystore-pass-file", pass, "--quiet")

	c := realtest.NewCluster(t, dist, clusterName, 3)
	c.KeystorePassword = fipsKeystorePassword
	for _, n := range c.Nodes {
		mustRun(t, bin, nil, "install", "--fips", "--bundle", filepath.Join(out, "nodes", n.Name), "--es-config", n.Config,
			"--owner", ownerFlag(), "--keystore-pass-file", pass, "--es-version", dist.Version)
	}
	cl := elasticClient(t, out)
	start := time.Now()
	c.Start(cl)
	t.Logf("%d FIPS nodes of %s green in %v", len(c.Nodes), dist.Version, time.Since(start).Round(time.Second))

	t.Run("FIPS mode on, with the required providers loaded", func(t *testing.T) { fipsModeIsOn(t, c, cl, bcfipsMajor) })
	t.Run("only TLS 1.2 and 1.3 with AES-GCM on both layers", func(t *testing.T) { fipsProtocols(t, c, out) })
	t.Run("elastic logs in from curl.sh, Go, Node and Python", func(t *testing.T) { logins(t, c, out) })
	t.Run("trust restrictions refuse a certificate naming no node", func(t *testing.T) { fipsTrustRestrictions(t, c, out) })
	t.Run("check is clean", func(t *testing.T) {
		for _, n := range c.Nodes {
			checkCleanBy(t, bin, n, "--keystore-pass-file", pass)
		}
	})
	t.Run("the live check runs from the FIPS binary", func(t *testing.T) { fipsLiveCheck(t, c, bin, out) })
	if t.Failed() {
		return
	}
	t.Run("renew is hot-reloaded without a failed request", func(t *testing.T) {
		n1 := c.Nodes[0]
		before, hashes := servedCertificates(t, cl, n1), fileHashes(t, n1, pemFiles)
		stop := watchHealth(t, c, out)
		defer stop()
		mark := n1.LogLines()
		mustRun(t, bin, env, "renew", "--force", "--es-config", n1.Config, "--ca-dir", filepath.Join(out, "ca"), "--keystore-pass-file", pass)
		waitReloaded(t, n1, mark, changedFiles(t, n1, hashes)...)
		now := servedCertificates(t, cl, n1)
		for _, layer := range []string{"http", "transport"} {
			if now[layer] == before[layer] {
				t.Errorf("_ssl/certificates still lists the old %s serial %s", layer, before[layer])
			}
		}
		afterStep(t, c, out, "renew of node1 on FIPS")
		checkCleanBy(t, bin, n1, "--keystore-pass-file", pass)
	})
}

// fipsLiveCheck: check --url from a FIPS binary finds the bootstrap password, and, since
// its TLS offers nothing below 1.2, says it could not test TLS 1.0 and 1.1 on each port
// of each node rather than calling them refused.
func fipsLiveCheck(t *testing.T, c *realtest.Cluster, bin, out string) {
	r := runBin(t, bin, nil, "", nil, "check", "--url", fmt.Sprintf("https://localhost:%d", c.Nodes[0].HTTPPort), "--bundle", out, "-o", "json")
	var report struct {
		Findings []struct{ Severity, ID string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("%s check --url: %v: %s", filepath.Base(bin), err, r)
	}
	counts := map[string]int{}
	for _, f := range report.Findings {
		counts[f.Severity+":"+f.ID]++
	}
	want := map[string]int{"problem:bootstrap-password-in-use": 1, "warning:tls-old-protocol-not-tested": 2 * len(c.Nodes)}
	if r.code != 2 || !maps.Equal(counts, want) {
		t.Errorf("%s check --url: exit %d, findings %v; want 2 and %v", filepath.Base(bin), r.code, counts, want)
	}
}

// fipsModeIsOn: every node runs with fips_mode and its block's required_providers,
// and has loaded BCFIPS and BCJSSE of the generation (it logs them at start).
func fipsModeIsOn(t *testing.T, c *realtest.Cluster, cl *realtest.Client, bcfipsMajor string) {
	securityIsOn(t, c, cl)
	var nodes struct {
		Nodes map[string]struct {
			Name     string         `json:"name"`
			Settings map[string]any `json:"settings"`
		} `json:"nodes"`
	}
	if err := cl.Get(c.Nodes[0], "_nodes/settings?flat_settings=true", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Nodes {
		if v := fmt.Sprint(n.Settings["xpack.security.fips_mode.enabled"]); v != "true" {
			t.Errorf("%s: xpack.security.fips_mode.enabled = %s", n.Name, v)
		}
	}
	for _, n := range c.Nodes {
		for _, provider := range []string{"bcfips", "bcjsse"} {
			if n.WaitLog(0, "JVM Security Providers", "name="+provider+", version="+bcfipsMajor+".") == "" {
				t.Errorf("%s did not load %s %s.x", n.Name, provider, bcfipsMajor)
			}
		}
	}
}

// fipsProtocols: each node's HTTP and transport ports refuse TLS 1.1 and a TLS 1.2
// client that offers only ChaCha20 (which Elasticsearch's defaults name), and accept
// TLS 1.2 with AES-GCM and TLS 1.3 from a client trusting the layer's CA.
func fipsProtocols(t *testing.T, c *realtest.Cluster, out string) {
	roots := map[string]*x509.CertPool{
		"http":      certPool(t, filepath.Join(out, "clients", "http-ca.crt")),
		"transport": certPool(t, transportCAs(t, out)),
	}
	n := c.Nodes[0]
	// The transport port requires a client certificate: node1's own.
	nodeCert, err := tls.LoadX509KeyPair(filepath.Join(n.Config, "certs", "transport.crt"), filepath.Join(n.Config, "certs", "transport.key"))
	if err != nil {
		t.Fatal(err)
	}
	for layer, addr := range map[string]string{"http": n.HTTPAddr(), "transport": n.TransportAddr()} {
		for _, tc := range []struct {
			name         string
			min, max     uint16
			suite        uint16 // TLS 1.2's only suite; 0 for Go's defaults
			wantAccepted bool
		}{
			{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, 0, true},
			{"TLS 1.2 AES-GCM", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
			{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, 0, false},
			{"TLS 1.2 ChaCha20 only", tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false},
		} {
			cfg := &tls.Config{MinVersion: tc.min, MaxVersion: tc.max, RootCAs: roots[layer], ServerName: "127.0.0.1"}
			if tc.suite != 0 {
				cfg.CipherSuites = []uint16{tc.suite}
			}
			if layer == "transport" {
				cfg.Certificates = []tls.Certificate{nodeCert}
			}
			state, err := handshake(addr, cfg)
			switch {
			case tc.wantAccepted && err != nil:
				t.Errorf("%s %s: refused: %v", layer, tc.name, err)
			case !tc.wantAccepted && err == nil:
				t.Errorf("%s %s: accepted (%s, %s)", layer, tc.name, tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
			case !tc.wantAccepted:
				t.Logf("%s %s: refused: %v", layer, tc.name, err)
			}
		}
	}
}

// handshake completes a TLS handshake with addr and returns what was agreed.
func handshake(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

func certPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}

// fipsTrustRestrictions: a PEM certificate from the cluster's own transport CA that
// carries no node name is refused by a node's transport port (BCJSSE with
// Elasticsearch's restricted trust manager), which says why; the nodes' own
// certificates are accepted (afterStep probes each pair).
func fipsTrustRestrictions(t *testing.T, c *realtest.Cluster, out string) {
	local, err := issuer.LoadLocal(filepath.Join(out, "ca"), []byte(fipsCAPassword), fips.Policy{FIPS: true}, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	key, chain := rogueCert(t, local, spec.Transport, "rogue", nil)
	keyPEM, err := ca.MarshalKeyPEM(rand.Reader, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile, certFile := secretFile(t, dir, "rogue.key", string(keyPEM)), secretFile(t, dir, "rogue.crt", string(ca.EncodeCertificates(chain...)))
	n := c.Nodes[0]
	mark := n.LogLines()
	r := run(t, "", nil, "probe", n.TransportAddr(), "--ca", transportCAs(t, out), "--cert", certFile, "--key", keyFile, "--warn-days", "0", "-o", "json")
	if r.code != 2 {
		t.Errorf("%s's transport port accepted a certificate naming no node:\n%s", n.Name, r)
	}
	if line := n.WaitLogAfter(mark, refusalWait, "Rejecting certificate [CN=rogue]", "subjectAltName.otherName.commonName"); line == "" {
		t.Errorf("%s did not log rejecting the rogue certificate", n.Name)
	}
	afterStep(t, c, out, "the rogue handshake")
}

// TestInstallFIPSRefusesWhatAFIPSJVMWouldReadOutsideItsModule: install --fips refuses
// a PKCS#12 bundle and a keystore password under 14 bytes, in one line each, the config
// directory untouched. Both refusals stand on what the real FIPS JVM does with such
// files: it reads PKCS#12 only through the JDK's own SUN provider (BCFIPS has no
// PKCS#12 keystore in approved-only mode), outside the validated module, though the
// node starts, and it decrypts an encrypted PKCS#8 key through SunJCE; and a node
// whose launcher opens the keystore in the FIPS JVM refuses a password under 112 bits
// and does not start.
func TestInstallFIPSRefusesWhatAFIPSJVMWouldReadOutsideItsModule(t *testing.T) {
	target := fipsTargets[0]
	dist := realtest.RequireFIPSElasticsearch(t, target.version, target.generation)
	bin := fipsBinary(t, target.flavour)
	dir := t.TempDir()
	long := secretFile(t, dir, "long", fipsKeystorePassword)
	short := secretFile(t, dir, "short", "short-pw")

	// PBEWithHmacSHA256AndAES_256 is what Elasticsearch's PEM reader asks for to
	// decrypt an encrypted PKCS#8 key: a reason --fips writes node keys unencrypted.
	wants := map[string]string{
		"KeyStore.PKCS12": "SUN", "SecretKeyFactory.PBEWithHmacSHA256AndAES_256": "SunJCE",
		"KeyStore.BCFKS": "BCFIPS", "SecretKeyFactory.PBKDF2WithHmacSHA512": "BCFIPS", "Cipher.AES": "BCFIPS", "KeyFactory.EC": "BCFIPS",
	}
	providers := dist.Providers(t, slices.Collect(maps.Keys(wants))...)
	for service, want := range wants {
		if providers[service] != want {
			t.Errorf("the FIPS JVM serves %s from %s, want %s", service, providers[service], want)
		}
	}

	c := realtest.NewCluster(t, dist, clusterName, 1)
	n := c.Nodes[0]
	p12Out := bootstrap(t, clusterName, 1, "--es-version", dist.Version, "--keystore-pass-file", long)
	pemOut := filepath.Join(dir, "pem")
	mustRun(t, bin, []string{"ESCERT_CA_PASSWORD=" + fipsCAPassword}, "bootstrap", "--fips", "--instances", instances(t, dir, 1), "--out", pemOut,
		"--cluster-name", clusterName, "--es-version", dist.Version, "--keystore-pass-file", long, "--quiet")
	for _, tc := range []struct {
		name, bundle, passFile, names string
	}{
		{"PKCS#12 bundle", filepath.Join(p12Out, "nodes", "node1"), long, "http.p12"},
		{"keystore password under 14 bytes", filepath.Join(pemOut, "nodes", "node1"), short, "14"},
	} {
		before := treestate.Of(t, n.Config, atomicfs.LockFile)
		r := runBin(t, bin, nil, "", nil, "install", "--fips", "--bundle", tc.bundle, "--es-config", n.Config, "--owner", ownerFlag(), "--keystore-pass-file", tc.passFile, "--es-version", dist.Version)
		if r.code != 3 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.names) {
			t.Errorf("install --fips of a %s: want exit 3 and one line naming %s, got %s", tc.name, tc.names, r)
		}
		if after := treestate.Of(t, n.Config, atomicfs.LockFile); !maps.Equal(before, after) {
			t.Errorf("the refused install (%s) changed the config directory: %v", tc.name, treestate.Changes(before, after))
		}
	}

	// Past escert: the FIPS bundle installed by a standard build with the short
	// password. The node's launcher, in the FIPS JVM, cannot open the keystore.
	mustRun(t, escertBin, nil, "install", "--bundle", filepath.Join(pemOut, "nodes", "node1"), "--es-config", n.Config, "--owner", ownerFlag(), "--keystore-pass-file", long, "--es-version", dist.Version)
	mustRun(t, escertBin, nil, "keystore", "passwd", "--path", filepath.Join(n.Config, "elasticsearch.keystore"), "--keystore-pass-file", long, "--new-pass-file", short)
	n.SetLayout(realtest.PackageLayout)
	c.KeystorePassword = "short-pw"
	n.Start()
	if code := n.WaitExit(3 * time.Minute); code <= 0 {
		t.Fatalf("a FIPS node with an 8-byte keystore password: exit code %d, want a refusal to start", code)
	}
	line := n.WaitLog(0, "password must be at least 112 bits")
	if line == "" {
		t.Fatalf("the FIPS node did not say why it refused the keystore:\n%s", n.Log())
	}
	t.Logf("Elasticsearch: %s", line)
}

// mustRun runs an escert binary with extra environment and fails the test unless it
// exits 0.
func mustRun(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	r := runBin(t, bin, nil, "", env, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: %s", filepath.Base(bin), strings.Join(args, " "), r)
	}
	return r
}

// secretFile writes content to dir/name, mode 0600, and returns its path.
func secretFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fipsFlavour is a FIPS build of escert, as make fips and make fips-boring build it.
type fipsFlavour string

const (
	goFIPS       fipsFlavour = "go-fips140"
	boringCrypto fipsFlavour = "boringcrypto"
)

var fipsBuilds = map[fipsFlavour]*struct {
	once sync.Once
	path string
	err  error
}{goFIPS: {}, boringCrypto: {}}

// fipsBinary builds a FIPS flavour of the binary once per test run, with the
// Makefile's settings, and checks it reports the mode it was built for.
func fipsBinary(t *testing.T, flavour fipsFlavour) string {
	t.Helper()
	b := fipsBuilds[flavour]
	b.once.Do(func() {
		path := filepath.Join(binDir, "escert-"+string(flavour))
		switch flavour {
		case goFIPS:
			b.err = buildEscert(path, "GOFIPS140=v1.0.0 CGO_ENABLED=0", "-tags", "escertfips")
		case boringCrypto:
			b.err = buildEscert(path, "GOEXPERIMENT=boringcrypto CGO_ENABLED=1")
		}
		b.path = path
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	r := mustRun(t, b.path, nil, "version", "-o", "json")
	var v struct {
		Crypto fips.Mode `json:"crypto"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Crypto.Name != string(flavour) {
		t.Fatalf("%s reports crypto %+v (%v), want %s", b.path, v.Crypto, err, flavour)
	}
	return b.path
}

// TestFIPSBuildsRefuseTheOpenSearchTarget: the security plugin's internal users need
// bcrypt hashes, which FIPS 140 does not approve, so both FIPS builds refuse
// --target opensearch in one line (exit 2) and write nothing.
func TestFIPSBuildsRefuseTheOpenSearchTarget(t *testing.T) {
	for _, flavour := range []fipsFlavour{goFIPS, boringCrypto} {
		bin := fipsBinary(t, flavour)
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		r := runBin(t, bin, nil, "", nil, "bootstrap", "--target", "opensearch", "--instances", instances(t, dir, 1), "--out", out)
		if r.code != 2 || !strings.Contains(r.stderr, "FIPS") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: bootstrap --target opensearch: %s; want exit 2 and one line naming FIPS", bin, r)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: the refused bootstrap wrote %s", bin, out)
		}
	}
}
