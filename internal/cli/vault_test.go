package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/realtest"
)

// remoteInstances are two nodes and Kibana under escert.test, which the Vault roles
// and the step-ca provisioner allow.
const remoteInstances = `instances:
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

// nodeStore is the layer's p12 of a node bundle or config directory, with the
// password its elasticsearch.keystore holds, as Elasticsearch opens it.
func nodeStore(t *testing.T, dir, layer string) realtest.Store {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := ks.Get("xpack.security." + layer + ".ssl.keystore.secure_password")
	return realtest.Store{P12Path: filepath.Join(dir, "certs", layer+".p12"), P12Password: string(pw)}
}

// transportPeer is a node's transport layer as Elasticsearch configures it: its p12 as
// keystore and truststore, client authentication, and the cluster "prod"'s trust
// restrictions.
func transportPeer(t *testing.T, dir string) realtest.JSSEConfig {
	s := nodeStore(t, dir, "transport")
	return realtest.JSSEConfig{Key: s, Trust: s, ClientAuth: true, TrustSubjectPatterns: []string{"*.node.prod"}}
}

func vaultArgs(mode string) []string {
	return []string{"--issuer", "vault", "--vault-mode", mode, "--vault-transport-mount", "pki_transport", "--vault-http-mount", "pki_http", "--vault-role", "es-node"}
}

func TestBootstrapThroughVaultPassesTheRealConsumers(t *testing.T) {
	v, env := startPKI(t)
	for _, mode := range []string{"sign", "issue"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			in := writeFile(t, dir, "instances.yml", remoteInstances)
			out := filepath.Join(dir, "out")
			r := escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod"}, vaultArgs(mode)...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "ca")); err == nil {
				t.Error("a Vault bootstrap wrote local CA files")
			}
			node := func(name string) string { return filepath.Join(out, "nodes", name) }
			addr := realtest.StartJSSEServer(t, transportPeer(t, node("node1")))
			if err := realtest.JSSEHandshake(t, transportPeer(t, node("node2")), addr, ""); err != nil {
				t.Errorf("node2 -> node1 transport mutual TLS: %v", err)
			}
			https := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: nodeStore(t, node("node1"), "http")})
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
	in := writeFile(t, dir, "instances.yml", remoteInstances)
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
	if r.code != ExitRefused || !strings.Contains(r.stderr, "allowed_domains") {
		t.Errorf("refused name: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a refused bootstrap left files behind")
	}

	v.Seal(t)
	r = escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "sealed"), "-q"}, vaultArgs("sign")...)...)
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "sealed") {
		t.Errorf("sealed Vault: exit %d, stderr %q", r.code, r.stderr)
	}
	v.Stop()
	r = escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "stopped"), "-q"}, vaultArgs("sign")...)...)
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "cannot connect to Vault") {
		t.Errorf("stopped Vault: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, d := range []string{"sealed", "stopped"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("%s: files were written", d)
		}
	}
}

func TestVaultNodePolicyWorksWithEveryLogin(t *testing.T) {
	v := realtest.StartVault(t)
	admin := map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}
	r := escert(t, admin, "vault", "setup", "--domain", "escert.test", "--policy", "escert-node", "--max-ttl", "9000h")
	if r.code != ExitOK || !strings.Contains(r.stdout, `path "pki_es_http/sign/es-node"`) {
		t.Fatalf("setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	roleID, secretID := v.EnableAppRole(t, "escert-node", "escert-node")
	secretFile := writeFile(t, dir, "secret-id", secretID+"\n")
	wrongSecret := writeFile(t, dir, "wrong-secret-id", "00000000-0000-0000-0000-000000000000\n")
	tokenFile := writeFile(t, dir, "token", v.CreateToken(t, "1h", "escert-node")+"\n")
	sink := v.StartAgent(t, roleID, secretID)
	addr := map[string]string{"VAULT_ADDR": v.Addr}
	in := writeFile(t, dir, "instances.yml", remoteInstances)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"token in the environment", map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.CreateToken(t, "1h", "escert-node")}, nil, ExitOK, ""},
		{"token file", addr, []string{"--vault-token-file", tokenFile}, ExitOK, ""},
		{"AppRole", addr, []string{"--vault-approle-role-id", roleID, "--vault-approle-secret-id-file", secretFile}, ExitOK, ""},
		{"Vault Agent sink", addr, []string{"--vault-agent-sink", sink}, ExitOK, ""},
		{"AppRole with a wrong secret_id", addr, []string{"--vault-approle-role-id", roleID, "--vault-approle-secret-id-file", wrongSecret}, ExitCredentials, "AppRole"},
		{"no credentials", addr, nil, ExitCredentials, "VAULT_TOKEN"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "out", strconv.Itoa(i))
			args := append([]string{"bootstrap", "--instances", in, "--out", out, "-q", "--issuer", "vault",
				"--vault-transport-mount", "pki_es_transport", "--vault-http-mount", "pki_es_http", "--vault-role", "es-node"}, c.args...)
			r := escert(t, c.env, args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, want %d with %q: %s", r.code, c.code, c.want, r.stderr)
			}
			assertDocumented(t, args, r.code)
			for _, secret := range []string{secretID, v.Token} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Error("a secret reached the output")
				}
			}
			if _, err := os.Stat(out); (err == nil) != (c.code == ExitOK) {
				t.Errorf("output directory exists: %v, want only on success", err == nil)
			}
		})
	}
}

func TestVaultStoppedMidBootstrapWritesNothing(t *testing.T) {
	v, env := startPKI(t)
	dir := t.TempDir()
	var instances strings.Builder
	instances.WriteString("instances:\n")
	for i := range 100 {
		fmt.Fprintf(&instances, "  - name: node%03d\n    dns: [node%03d.escert.test]\n", i, i)
	}
	in := writeFile(t, dir, "instances.yml", instances.String())
	done := make(chan result)
	go func() {
		done <- escert(t, env, append([]string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-q"}, vaultArgs("sign")...)...)
	}()
	// Stop Vault once it has issued the first certificates: the rest of the run meets
	// a dead server.
	client := v.Client(t)
	for {
		list, err := client.Logical().List("pki_transport/certs")
		if err == nil && list != nil {
			if keys, _ := list.Data["keys"].([]any); len(keys) >= 2 {
				break
			}
		}
		select {
		case r := <-done:
			t.Fatalf("the bootstrap ended before Vault could be stopped: exit %d", r.code)
		case <-time.After(10 * time.Millisecond):
		}
	}
	v.Stop()
	r := <-done
	if r.code != ExitUnavailable || !strings.Contains(r.stderr, "cannot connect to Vault") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("exit %d, want %d and one line naming the cause: %q", r.code, ExitUnavailable, r.stderr)
	}
	if got := listTree(t, dir); !slices.Equal(got, []string{"instances.yml"}) {
		t.Errorf("a failed bootstrap left files behind: %v", got)
	}
}
