package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/realtest"
)

// pemFiles are the files the PEM layout's settings name, which the nodes watch.
var pemFiles = []string{"transport.crt", "transport.key", "http.crt", "http.key"}

// TestPEMLayoutClusterGoesGreenAndRenewsInPlace: a cluster on --format pem (the
// layout FIPS nodes need) forms with security on, checks clean, and reloads a
// renewal of one node's PEM files without a failed request.
func TestPEMLayoutClusterGoesGreenAndRenewsInPlace(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	out := bootstrap(t, clusterName, 3, "--format", "pem", "--es-version", dist.Version)
	c := realtest.NewCluster(t, dist, clusterName, 3)
	installAndStart(t, c, out)
	for _, n := range c.Nodes {
		checkClean(t, n)
	}
	n1 := c.Nodes[0]
	before := fileHashes(t, n1, pemFiles)
	stop := watchHealth(t, c, out)
	defer stop()
	mark := n1.LogLines()
	escert(t, "renew", "--force", "--es-config", n1.Config, "--ca-dir", filepath.Join(out, "ca"))
	waitReloaded(t, n1, mark, changedFiles(t, n1, before)...)
	afterStep(t, c, out, "renew of node1's PEM files")
}

// TestClustersIssuedByVaultAndStepCAGoGreen: two-node clusters whose certificates
// come from a real Vault (set up by escert vault setup) and from a real step-ca
// (with escert's template) form with security on.
func TestClustersIssuedByVaultAndStepCAGoGreen(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	t.Run("vault", func(t *testing.T) {
		v := realtest.StartVault(t)
		env := []string{"VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=" + v.Token}
		if r := run(t, "", env, "vault", "setup", "--domain", "escert.test", "--policy", "escert-node"); r.code != 0 {
			t.Fatalf("vault setup: %s", r)
		}
		remoteCluster(t, dist, env, "--issuer", "vault", "--vault-transport-mount", "pki_es_transport", "--vault-http-mount", "pki_es_http", "--vault-role", "es-node")
	})
	t.Run("step-ca", func(t *testing.T) {
		template := escert(t, "step", "template").stdout
		s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: template})
		remoteCluster(t, dist, nil, "--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile)
	})
}

// TestOpenSearchBundlesThroughVaultAndStepCAAreRefusedAsTheyCutTheSubject: a real
// Vault's sign endpoint and a real step-ca keep only the CN of the subject asked for,
// so the admin certificate (CN=admin,OU=escert-admin,O=<cluster>) would not be the
// admin_dn OpenSearch matches: bootstrap --target opensearch through them refuses
// with exit 6, naming both subjects, and writes nothing.
func TestOpenSearchBundlesThroughVaultAndStepCAAreRefusedAsTheyCutTheSubject(t *testing.T) {
	refused := func(t *testing.T, env []string, issuerArgs ...string) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		r := run(t, "", env, append([]string{"bootstrap", "--target", "opensearch", "--instances", instances(t, dir, 2), "--out", out, "--cluster-name", clusterName, "--quiet"}, issuerArgs...)...)
		want := `came back with the subject "CN=admin", not the "CN=admin,OU=escert-admin,O=` + clusterName + `" asked for`
		if r.code != 6 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("bootstrap --target opensearch %s: %s; want exit 6 and one line with %q", issuerArgs[1], r, want)
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the refused bootstrap left %s behind (%v)", out, err)
		}
	}
	t.Run("vault", func(t *testing.T) {
		v := realtest.StartVault(t)
		env := []string{"VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=" + v.Token}
		if r := run(t, "", env, "vault", "setup", "--domain", "escert.test", "--policy", "escert-node"); r.code != 0 {
			t.Fatalf("vault setup: %s", r)
		}
		refused(t, env, "--issuer", "vault", "--vault-transport-mount", "pki_es_transport", "--vault-http-mount", "pki_es_http", "--vault-role", "es-node")
	})
	t.Run("step-ca", func(t *testing.T) {
		s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: escert(t, "step", "template").stdout})
		refused(t, nil, "--issuer", "step", "--ca-url", s.URL, "--root", s.RootFile, "--provisioner", s.Provisioner, "--provisioner-password-file", s.PasswordFile)
	})
}

// remoteCluster bootstraps two nodes through an issuer, installs them and waits for
// green; then the published client CA file (the issuer's chain) logs in.
func remoteCluster(t *testing.T, dist *realtest.Distribution, env []string, issuerArgs ...string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := append([]string{"bootstrap", "--instances", instances(t, dir, 2), "--out", out, "--cluster-name", clusterName, "--es-version", dist.Version, "--quiet"}, issuerArgs...)
	if r := run(t, "", env, args...); r.code != 0 {
		t.Fatalf("bootstrap %s: %s", strings.Join(issuerArgs[:2], " "), r)
	}
	c := realtest.NewCluster(t, dist, clusterName, 2)
	installAndStart(t, c, out)
	afterStep(t, c, out, "the first start")
}

// installAndStart installs every node's bundle and starts the cluster, which must go
// green with security and TLS on both layers.
func installAndStart(t *testing.T, c *realtest.Cluster, out string) {
	t.Helper()
	for _, n := range c.Nodes {
		install(t, c, out, n)
	}
	cl := elasticClient(t, out)
	c.Start(cl)
	securityIsOn(t, c, cl)
}
