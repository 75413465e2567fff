package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/treestate"
)

// TestCompanyCACluster runs real clusters on certificates a company PKI signed
// (`openssl ca`, root -> issuing intermediate) from escert csr's requests, under the
// two profiles a PKI team picks. Keeping every SAN, the node-name otherName carries
// the transport trust restrictions: the cluster forms, a certificate from the same
// intermediate for another name is refused, check and probe are clean, and node2
// renews through the PKI (requests, then the signed answer) without downtime.
// Dropping otherNames, escert restricts on the nodes' DNS names: the cluster forms
// and a certificate from the same intermediate for another DNS name is refused.
// Each profile's cluster is stopped when its subtest ends, before the next starts.
func TestCompanyCACluster(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	t.Run("profile keeping every SAN", func(t *testing.T) { companyCAKeepingSANs(t, dist, corp) })
	t.Run("profile dropping otherNames", func(t *testing.T) { companyCADroppingOtherNames(t, dist, corp) })
}

func companyCAKeepingSANs(t *testing.T, dist *realtest.Distribution, corp *realtest.CorporateCA) {
	start := time.Now()
	defer func() { t.Logf("cluster phase (keep profile) took %v", time.Since(start).Round(time.Second)) }()
	c := realtest.NewCluster(t, dist, clusterName, 3)
	out := filepath.Join(t.TempDir(), "out") // outlives the steps
	if !t.Run("bootstrap from the PKI's answer forms a green cluster", func(t *testing.T) {
		companyBootstrap(t, dist, corp, realtest.Profile{}, "", out)
		trust := readFile(t, filepath.Join(out, "nodes", "node1", "certs", "transport-trust.yml"))
		if want := fmt.Sprintf("trust.subject_name: [%q]", spec.TrustPattern(clusterName)); !strings.Contains(trust, want) {
			t.Errorf("transport-trust.yml does not hold %s:\n%s", want, trust)
		}
		companyClusterStarts(t, c, out, corp)
	}) {
		return
	}
	t.Run("a certificate from the same intermediate naming no node is refused", func(t *testing.T) {
		line := companyRogueRefused(t, c.Nodes[0], corp, realtest.Profile{}, "for fields [[subjectAltName.otherName.commonName]] with values [[]]")
		t.Logf("Elasticsearch: %s", line)
		afterStep(t, c, out, "the rogue handshake")
	})
	t.Run("check is clean and the HTTP chain reaches the root", func(t *testing.T) {
		for _, n := range c.Nodes {
			checkClean(t, n)
		}
		r := run(t, "", nil, "probe", c.Nodes[0].HTTPAddr(), "--ca", corp.RootFile, "-o", "json")
		var reports []struct {
			Findings      []struct{ ID string } `json:"findings"`
			ChainComplete *bool                 `json:"chain_complete"`
			Intermediates []struct {
				Subject string `json:"subject"`
			} `json:"intermediates"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 {
			t.Fatalf("probe -o json: %v\n%s", err, r)
		}
		p := reports[0]
		if r.code != 0 || len(p.Findings) != 0 || p.ChainComplete == nil || !*p.ChainComplete {
			t.Errorf("probe of node1's HTTP port with the root as CA: want exit 0, no finding, a complete chain:\n%s", r)
		}
		if len(p.Intermediates) != 1 || !strings.Contains(p.Intermediates[0].Subject, "Example Corp Issuing CA 1") {
			t.Errorf("probe reports intermediates %+v, want the issuing CA", p.Intermediates)
		}
	})
	if t.Failed() {
		return
	}
	t.Run("renew through the PKI swaps node2's certificates without a failed request", func(t *testing.T) {
		companyRenew(t, c, out, corp)
	})
}

func companyCADroppingOtherNames(t *testing.T, dist *realtest.Distribution, corp *realtest.CorporateCA) {
	start := time.Now()
	defer func() { t.Logf("cluster phase (drop profile) took %v", time.Since(start).Round(time.Second)) }()
	c := realtest.NewCluster(t, dist, clusterName, 3)
	if !t.Run("bootstrap restricts on DNS names and forms a green cluster", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		companyBootstrap(t, dist, corp, realtest.Profile{DropOtherNames: true}, "admit the nodes' DNS names instead", out)
		trust := readFile(t, filepath.Join(out, "nodes", "node1", "certs", "transport-trust.yml"))
		if want := `trust.subject_name: ["node1.escert.test", "node2.escert.test", "node3.escert.test"]`; !strings.Contains(trust, want) {
			t.Errorf("transport-trust.yml does not hold %s:\n%s", want, trust)
		}
		if block := readFile(t, filepath.Join(out, "nodes", "node1", "elasticsearch.yml")); !strings.Contains(block, "subjectAltName.dnsName") {
			t.Errorf("the elasticsearch.yml block does not restrict on DNS names:\n%s", block)
		}
		companyClusterStarts(t, c, out, corp)
	}) {
		return
	}
	t.Run("a certificate from the same intermediate for another DNS name is refused", func(t *testing.T) {
		line := companyRogueRefused(t, c.Nodes[0], corp, realtest.Profile{DropOtherNames: true}, "for fields [[subjectAltName.dnsName]] with values [[rogue.escert.test]]")
		t.Logf("Elasticsearch: %s", line)
	})
}

// companyBootstrap has escert csr write requests for 3 nodes, the company CA sign each
// under profile, and escert bootstrap --issuer pki build the bundle from the answer
// in out. bootstrap warns (on stderr) exactly when warning is given.
func companyBootstrap(t *testing.T, dist *realtest.Distribution, corp *realtest.CorporateCA, profile realtest.Profile, warning, out string) {
	t.Helper()
	dir := t.TempDir()
	csrs := filepath.Join(dir, "csr")
	escert(t, "csr", "--instances", instances(t, dir, 3), "--out", csrs, "--cluster-name", clusterName, "--quiet")
	requests, err := filepath.Glob(filepath.Join(csrs, "*", "*.csr"))
	if err != nil || len(requests) != 6 {
		t.Fatalf("escert csr wrote %d requests (%v), want 6", len(requests), err)
	}
	signed := signRequests(t, corp, csrs, requests, profile)
	r := escert(t, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile, "--out", out, "--es-version", dist.Version)
	if got := strings.Contains(r.stderr, "warning:"); got != (warning != "") || !strings.Contains(r.stderr, warning) {
		t.Errorf("bootstrap --issuer pki: stderr %q, want a warning only if %q", r.stderr, warning)
	}
	if warning != "" {
		t.Logf("bootstrap: %s", strings.TrimSpace(r.stderr))
	}
}

// signRequests has corp sign each request under profile and returns the PKI team's
// answer: a directory of the leaves, under names of their own, and the intermediate.
func signRequests(t *testing.T, corp *realtest.CorporateCA, root string, requests []string, profile realtest.Profile) string {
	t.Helper()
	signed := t.TempDir()
	for _, f := range requests {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(strings.TrimSuffix(rel, ".csr"), string(filepath.Separator), "_") + ".cer"
		copyTo(t, corp.Sign(t, f, profile), filepath.Join(signed, name))
	}
	copyTo(t, corp.IntermediateFile, filepath.Join(signed, "issuing-ca.pem"))
	return signed
}

// companyClusterStarts installs the bundle on every node and starts the cluster, which
// the bundle's elastic client, trusting only clients/http-ca.crt (the company root),
// sees green with all nodes.
func companyClusterStarts(t *testing.T, c *realtest.Cluster, out string, corp *realtest.CorporateCA) {
	t.Helper()
	published, err := ca.ParseCertificates([]byte(readFile(t, filepath.Join(out, "clients", "http-ca.crt"))))
	if err != nil || len(published) != 1 || !published[0].Equal(corp.Root) {
		t.Fatalf("clients/http-ca.crt is not the company root alone (%d certificates, %v)", len(published), err)
	}
	for _, n := range c.Nodes {
		install(t, c, out, n)
	}
	cl := elasticClient(t, out)
	start := time.Now()
	c.Start(cl)
	t.Logf("%d nodes of %s on the company CA green in %v", len(c.Nodes), c.Dist.Version, time.Since(start).Round(time.Second))
	var who struct {
		Username string `json:"username"`
	}
	if err := cl.Get(c.Nodes[0], "_security/_authenticate", &who); err != nil || who.Username != "elastic" {
		t.Errorf("elastic through clients/http-ca.crt: %v (user %q)", err, who.Username)
	}
}

// companyRogueRefused presents, on node n's transport port, a certificate that corp's
// intermediate signed under profile for CN=rogue, DNS rogue.escert.test (with
// clientAuth), its chain up to the intermediate, and returns the line in which n logs
// rejecting it: RestrictedTrustManager's "Rejecting certificate [CN=rogue] [<serial>]
// for fields [[<field>]] with values [[<values>]]", whose tail is want.
func companyRogueRefused(t *testing.T, n *realtest.Node, corp *realtest.CorporateCA, profile realtest.Profile, want string) string {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "rogue"}, DNSNames: []string{"rogue.escert.test"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csrFile := secretFile(t, dir, "rogue.csr", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := secretFile(t, dir, "rogue.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	leaf := readFile(t, corp.Sign(t, csrFile, profile))
	certFile := secretFile(t, dir, "rogue.crt", leaf+readFile(t, corp.IntermediateFile))

	mark := n.LogLines()
	r := run(t, "", nil, "probe", n.TransportAddr(), "--ca", corp.RootFile, "--cert", certFile, "--key", keyFile, "--warn-days", "0", "-o", "json")
	if r.code != 2 {
		t.Errorf("%s's transport port accepted a certificate from the company CA naming no node:\n%s", n.Name, r)
	}
	line := n.WaitLogAfter(mark, refusalWait, "RestrictedTrustManager", "Rejecting certificate [CN=rogue]", want)
	if line == "" {
		t.Errorf("%s did not log rejecting CN=rogue %s; its log after the probe:\n%s", n.Name, want, logAfter(n, mark))
	}
	return line
}

// companyRenew renews node2 through the PKI: renew --issuer pki --force writes new
// requests and leaves the node as it was; the company CA signs them; renew --signed
// checks the answer and swaps it in. The node reloads both certificates and serves
// the signed ones while a client polls the cluster, and every node still accepts
// every other.
func companyRenew(t *testing.T, c *realtest.Cluster, out string, corp *realtest.CorporateCA) {
	n2 := c.Nodes[1]
	cl := elasticClient(t, out)
	before := servedCertificates(t, cl, n2)
	stop := watchHealth(t, c, out)
	defer stop()
	start := time.Now()

	reqs := filepath.Join(t.TempDir(), "renewal")
	node := treestate.Of(t, n2.Config, atomicfs.LockFile)
	r := escert(t, "renew", "--es-config", n2.Config, "--issuer", "pki", "--csr-dir", reqs, "--force")
	requests := map[string]string{}
	for _, layer := range []string{"transport", "http"} {
		requests[layer] = filepath.Join(reqs, layer, "node2.csr")
		if _, err := os.Stat(requests[layer]); err != nil {
			t.Fatalf("renew --issuer pki --force wrote no %s request: %v\n%s", layer, err, r)
		}
		if !strings.Contains(r.stdout, filepath.Join(layer, "node2.csr")) {
			t.Errorf("renew --issuer pki --force does not name the %s request on stdout:\n%s", layer, r)
		}
	}
	if after := treestate.Of(t, n2.Config, atomicfs.LockFile); !maps.Equal(node, after) {
		t.Fatalf("writing renewal requests changed node2's config directory: %v", treestate.Changes(node, after))
	}

	signed := signRequests(t, corp, reqs, []string{requests["transport"], requests["http"]}, realtest.Profile{})
	leaves := map[string]string{}
	for _, layer := range []string{"transport", "http"} {
		certs, err := ca.ParseCertificates([]byte(readFile(t, filepath.Join(signed, layer+"_node2.cer"))))
		if err != nil || len(certs) != 1 {
			t.Fatalf("the signed %s leaf: %v", layer, err)
		}
		leaves[layer] = certs[0].SerialNumber.Text(16)
	}
	mark := n2.LogLines()
	r = escert(t, "renew", "--es-config", n2.Config, "--issuer", "pki", "--csr-dir", reqs, "--signed", signed)
	for _, layer := range []string{"transport", "http"} {
		if !strings.Contains(r.stdout, "renewed "+layer+": ") {
			t.Errorf("renew --signed does not report renewing %s:\n%s", layer, r)
		}
	}
	waitReloaded(t, n2, mark, p12Files...)
	t.Logf("node2 reloaded both certificates %v after the renewal requests", time.Since(start).Round(100*time.Millisecond))

	now := servedCertificates(t, cl, n2)
	for _, layer := range []string{"http", "transport"} {
		if now[layer] == before[layer] || now[layer] != leaves[layer] {
			t.Errorf("_ssl/certificates lists %s serial %s (before the renewal %s), want the signed leaf's %s", layer, now[layer], before[layer], leaves[layer])
		}
	}
	if probed := probeSerial(t, run(t, "", nil, "probe", n2.HTTPAddr(), "--ca", corp.RootFile, "-o", "json")); probed != now["http"] {
		t.Errorf("node2's HTTP port serves serial %s, _ssl/certificates lists %s", probed, now["http"])
	}
	stop()
	afterStep(t, c, out, "the renewal of node2 through the PKI")
}

// readFile is a file's content; it fails the test when the file cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// copyTo copies file from to to, mode 0600.
func copyTo(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, []byte(readFile(t, from)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// logAfter is what node n logged after its first mark lines, for a failure message.
func logAfter(n *realtest.Node, mark int) string {
	lines := strings.Split(n.Log(), "\n")
	return strings.Join(lines[min(mark, len(lines)):], "\n")
}

// TestFIPSBuildsBuildBundlesFromACompanyCA runs both FIPS binaries through the company
// CA's whole path: escert csr, the PKI signs, bootstrap --issuer pki, and renewal
// requests from the installed node. Keys, requests and the checks of the answer must
// all stay inside the validated module (a BoringCrypto binary once panicked on every
// bootstrap while the tests under the experiment passed).
func TestFIPSBuildsBuildBundlesFromACompanyCA(t *testing.T) {
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	for _, flavour := range []fipsFlavour{goFIPS, boringCrypto} {
		t.Run(string(flavour), func(t *testing.T) {
			bin := fipsBinary(t, flavour)
			dir := t.TempDir()
			csrs := filepath.Join(dir, "csr")
			mustRun(t, bin, nil, "csr", "--instances", instances(t, dir, 2), "--out", csrs, "--cluster-name", clusterName, "--quiet")
			requests, err := filepath.Glob(filepath.Join(csrs, "*", "*.csr"))
			if err != nil || len(requests) != 4 {
				t.Fatalf("%s csr wrote %d requests (%v), want 4", bin, len(requests), err)
			}
			signed := signRequests(t, corp, csrs, requests, realtest.Profile{})
			pass := secretFile(t, dir, "keystore-password", fipsKeystorePassword)
			out := filepath.Join(dir, "out")
			mustRun(t, bin, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile,
				"--out", out, "--keystore-pass-file", pass, "--quiet")
			block := readFile(t, filepath.Join(out, "nodes", "node1", "elasticsearch.yml"))
			if !strings.Contains(block, "xpack.security.fips_mode.enabled: true") || !strings.Contains(block, "certs/transport.key") {
				t.Errorf("%s: the node1 block is not a FIPS PEM block:\n%s", bin, block)
			}
			config := filepath.Join(dir, "config")
			if err := os.Mkdir(config, 0o750); err != nil {
				t.Fatal(err)
			}
			secretFile(t, config, "elasticsearch.yml", "path.data: /var/lib/elasticsearch\n")
			mustRun(t, bin, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-", "--keystore-pass-file", pass)
			reqs := filepath.Join(dir, "renewal")
			r := runBin(t, bin, nil, "", []string{"ESCERT_KEYSTORE_PASSWORD=" + fipsKeystorePassword}, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", reqs, "--force")
			if r.code != 0 || !strings.Contains(r.stdout, "requested transport") {
				t.Errorf("%s: renewal requests: %s", bin, r)
			}
		})
	}
}
