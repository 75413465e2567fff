package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/realtest"
)

// vaultInstances are two nodes and Kibana under escert.test, which the roles allow.
const vaultInstances = `instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [127.0.0.1]
  - name: node2
    dns: [node2.escert.test]
  - name: kibana
    type: kibana
    dns: [kibana.escert.test]
`

// startPKI starts a real Vault dev server with one PKI mount per layer (the HTTP one
// an intermediate under a root, as companies run it) and roles escert's
// certificates fit.
func startPKI(t *testing.T) (*realtest.Vault, map[string]string) {
	t.Helper()
	v := realtest.StartVault(t)
	v.EnablePKI(t, "pki_transport", "escert.test")
	v.EnablePKI(t, "pki_root", "escert.test")
	v.EnableIntermediatePKI(t, "pki_http", "pki_root", "escert.test")
	role := map[string]any{
		"allowed_domains": "escert.test", "allow_subdomains": true, "allow_localhost": true, "allow_ip_sans": true,
		"allowed_other_sans": "2.5.4.3;UTF8:*", "server_flag": true, "client_flag": true,
		"key_type": "ec", "key_bits": 256, "cn_validations": "disabled", "max_ttl": "87600h",
	}
	v.CreateRole(t, "pki_transport", "es-node", role)
	v.CreateRole(t, "pki_http", "es-node", role)
	return v, map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}
}

func vaultArgs(mode string) []string {
	return []string{"--issuer", "vault", "--vault-mode", mode, "--vault-transport-mount", "pki_transport", "--vault-http-mount", "pki_http", "--vault-role", "es-node"}
}

func TestBootstrapThroughVaultPassesTheRealConsumers(t *testing.T) {
	v, env := startPKI(t)
	for _, mode := range []string{"sign", "issue"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			in := writeFile(t, dir, "instances.yml", vaultInstances)
			out := filepath.Join(dir, "out")
			r := escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod"}, vaultArgs(mode)...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "ca")); err == nil {
				t.Error("a Vault bootstrap wrote local CA files")
			}
			store := func(node, layer string) realtest.Store {
				data, _ := os.ReadFile(filepath.Join(out, "nodes", node, "elasticsearch.keystore"))
				ks, err := eskeystore.Decode(data, nil)
				if err != nil {
					t.Fatal(err)
				}
				pw, _ := ks.Get("xpack.security." + layer + ".ssl.keystore.secure_password")
				return realtest.Store{P12Path: filepath.Join(out, "nodes", node, "certs", layer+".p12"), P12Password: string(pw)}
			}
			peer := func(node string) realtest.JSSEConfig {
				s := store(node, "transport")
				return realtest.JSSEConfig{Key: s, Trust: s, ClientAuth: true, TrustSubjectPatterns: []string{"*.node.prod"}}
			}
			addr := realtest.StartJSSEServer(t, peer("node1"))
			if err := realtest.JSSEHandshake(t, peer("node2"), addr, ""); err != nil {
				t.Errorf("node2 -> node1 transport mutual TLS: %v", err)
			}
			https := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: store("node1", "http")})
			caFile := filepath.Join(out, "clients", "http-ca.crt")
			if err := realtest.NodeTLSConnect(t, https, caFile, "node1.escert.test"); err != nil {
				t.Errorf("Node client: %v", err)
			}
			if err := realtest.PythonStrictConnect(t, https, caFile, "127.0.0.1"); err != nil {
				t.Errorf("Python strict client: %v", err)
			}
			// openssl verifies Kibana's server certificate (PEM) against Vault's chain.
			if err := realtest.OpenSSLVerify(t, caFile, filepath.Join(out, "clients", "kibana", "server.crt"), "sslserver"); err != nil {
				t.Errorf("openssl verify against the Vault root: %v", err)
			}
		})
	}
	_ = v
}

func TestVaultRenewAndFailures(t *testing.T) {
	v, env := startPKI(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", vaultInstances)
	out := filepath.Join(dir, "out")
	if r := escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", out, "-q"}, vaultArgs("sign")...)...); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config := filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "cluster.name: prod\n")
	if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	r := escert(t, env, append([]string{"renew", "--es-config", config, "--force"}, vaultArgs("sign")...)...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "renewed transport") {
		t.Fatalf("renew through Vault: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A role that refuses a name: one line naming the role setting, nothing written.
	bad := writeFile(t, dir, "bad.yml", "instances:\n  - name: node9\n    dns: [node9.example.org]\n")
	r = escert(t, env, append([]string{"bootstrap", "--instances", bad, "--out", filepath.Join(dir, "bad"), "-q"}, vaultArgs("sign")...)...)
	if r.code != ExitInput || !strings.Contains(r.stderr, "allowed_domains") {
		t.Errorf("refused name: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a refused bootstrap left files behind")
	}

	v.Seal(t)
	r = escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "sealed"), "-q"}, vaultArgs("sign")...)...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "sealed") {
		t.Errorf("sealed Vault: exit %d, stderr %q", r.code, r.stderr)
	}
	v.Stop()
	r = escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "stopped"), "-q"}, vaultArgs("sign")...)...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "cannot connect to Vault") {
		t.Errorf("stopped Vault: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, d := range []string{"sealed", "stopped"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("%s: files were written", d)
		}
	}
}

func TestVaultSetupThenBootstrapWithTheNodePolicy(t *testing.T) {
	v := realtest.StartVault(t)
	admin := map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}
	r := escert(t, admin, "vault", "setup", "--domain", "escert.test", "--policy", "escert-node", "--max-ttl", "9000h")
	if r.code != ExitOK || !strings.Contains(r.stdout, `path "pki_es_http/sign/es-node"`) {
		t.Fatalf("setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	node := map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.CreateToken(t, "1h", "escert-node")}
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", vaultInstances)
	r = escert(t, node, "bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-q", "--issuer", "vault",
		"--vault-transport-mount", "pki_es_transport", "--vault-http-mount", "pki_es_http", "--vault-role", "es-node")
	if r.code != ExitOK {
		t.Fatalf("bootstrap with the node policy: exit %d: %s", r.code, r.stderr)
	}
}
