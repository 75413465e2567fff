package realtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// vaultStartTimeout bounds the wait for a dev server's health endpoint. A dev server is
// ready in one to two seconds; the margin covers a loaded CI machine.
const vaultStartTimeout = 60 * time.Second

// RequireVault returns the path of a Vault server binary: ESCERT_VAULT_BIN, or else the
// newest executable vault-* that scripts/build-vault left in its cache
// ($ESCERT_CACHE, else os.UserCacheDir()/escert-vault). Without one it skips the test
// with a message naming scripts/build-vault, or fails it when ESCERT_REQUIRE_TOOLS=1.
func RequireVault(t testing.TB) string {
	t.Helper()
	return requireServer(t, "Vault server binary", "ESCERT_VAULT_BIN", "escert-vault", "vault-", "scripts/build-vault")
}

// requireServer finds a server binary a build script made: $envVar, else the newest
// prefix* in the script's cache (newestCached). Without one it skips the test naming
// the script, or fails it when ESCERT_REQUIRE_TOOLS=1.
func requireServer(t testing.TB, what, envVar, cacheDir, prefix, script string) string {
	t.Helper()
	if bin := os.Getenv(envVar); bin != "" {
		if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			t.Fatalf("realtest: %s=%s is not an executable file", envVar, bin)
		}
		return bin
	}
	if bin := newestCached(cacheDir, prefix); bin != "" {
		return bin
	}
	Missing(t, fmt.Sprintf("realtest: no %s (build one with %s, or set %s)", what, script, envVar))
	return ""
}

// newestVault is the most recently built binary in scripts/build-vault's cache, or "".
func newestVault() string { return newestCached("escert-vault", "vault-") }

// newestCached is the most recently built executable prefix* in a build script's cache,
// or "": $ESCERT_CACHE if set (the scripts then build there directly, so several
// tools can share it), else os.UserCacheDir()/dirName, which is where the scripts'
// ${XDG_CACHE_HOME:-$HOME/.cache}/dirName lands too. Names ending in .tmp (builds in
// progress) and files that are not executable are left out.
func newestCached(dirName, prefix string) string {
	dir := os.Getenv("ESCERT_CACHE")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(cache, dirName)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	var best string
	var bestTime time.Time
	for _, m := range matches {
		if strings.HasSuffix(m, ".tmp") { // a build in progress
			continue
		}
		info, err := os.Stat(m)
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		if best == "" || info.ModTime().After(bestTime) {
			best, bestTime = m, info.ModTime()
		}
	}
	return best
}

// Vault is a running Vault dev server: in-memory storage, unsealed, listening on
// loopback only, with a random root token.
type Vault struct {
	// Addr is the server's URL, http://127.0.0.1:<port>.
	Addr string
	// Token is the root token. Tests pass it to code under test; nothing here logs it.
	Token string
	// CACert is the PEM file of the CA behind the server's TLS certificate
	// (StartVaultTLS only; what VAULT_CACERT would name).
	CACert string

	cmd      *exec.Cmd
	output   *lockedBuffer
	exited   chan struct{}
	stopOnce sync.Once
}

// StartVault starts `vault server -dev` on a free loopback port and waits until it
// answers /v1/sys/health. The server is killed by t.Cleanup (its data lives in memory
// only). The root token reaches the server through the environment, not the command
// line, and the server's output, which prints the token, is shown only on a failed
// start, with the token redacted.
func StartVault(t testing.TB) *Vault {
	t.Helper()
	return startVaultT(t, false)
}

// StartVaultTLS is StartVault with TLS (vault server -dev -dev-tls): Addr is
// https://127.0.0.1:<port>, and CACert names the CA the server generated, whose
// certificate covers 127.0.0.1 and localhost.
func StartVaultTLS(t testing.TB) *Vault {
	t.Helper()
	return startVaultT(t, true)
}

func startVaultT(t testing.TB, withTLS bool) *Vault {
	t.Helper()
	bin := RequireVault(t)
	var lastErr error
	// The free port is found by binding and closing it; another process may take it in
	// between, so a server that dies at start is given two more tries.
	for range 3 {
		v, err := startVault(bin, withTLS, t.TempDir())
		if err == nil {
			t.Cleanup(v.Stop)
			return v
		}
		lastErr = err
	}
	t.Fatalf("realtest: start Vault: %v", lastErr)
	return nil
}

func startVault(bin string, withTLS bool, dir string) (*Vault, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	v := &Vault{
		Addr:   "http://127.0.0.1:" + port,
		Token:  "escert-test-" + hex.EncodeToString(raw),
		output: &lockedBuffer{},
		exited: make(chan struct{}),
	}
	args := []string{"server", "-dev", "-dev-no-store-token"}
	if withTLS {
		v.Addr = "https://127.0.0.1:" + port
		v.CACert = filepath.Join(dir, "vault-ca.pem")
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+dir)
	}
	v.cmd = exec.Command(bin, args...)
	v.cmd.Env = append(withoutVaultEnv(os.Environ()),
		"VAULT_DEV_ROOT_TOKEN_ID="+v.Token,
		"VAULT_DEV_LISTEN_ADDRESS=127.0.0.1:"+port,
	)
	v.cmd.Stdout = v.output
	v.cmd.Stderr = v.output
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() {
		_ = v.cmd.Wait()
		close(v.exited)
	}()
	if err := v.waitHealthy(); err != nil {
		v.Stop()
		return nil, fmt.Errorf("%w; server output:\n%s", err, v.Output())
	}
	return v, nil
}

// waitHealthy polls the health endpoint until it answers 200 (initialized, unsealed,
// active), the process exits or vaultStartTimeout passes.
func (v *Vault) waitHealthy() error {
	deadline := time.Now().Add(vaultStartTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if client := v.healthClient(); client != nil {
			resp, err := client.Get(v.Addr + "/v1/sys/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Vault at %s not healthy after %v", v.Addr, vaultStartTimeout)
		}
		select {
		case <-v.exited:
			return fmt.Errorf("Vault exited at start (%v)", v.cmd.ProcessState)
		case <-tick.C:
		}
	}
}

// healthClient is an HTTP client that trusts the server's CA, or nil while a TLS
// server has not written its CA yet.
func (v *Vault) healthClient() *http.Client {
	if v.CACert == "" {
		return &http.Client{Timeout: 2 * time.Second}
	}
	data, err := os.ReadFile(v.CACert)
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil // written only in part
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Stop kills the server and waits for it to exit. It is safe to call more than once;
// t.Cleanup calls it too.
func (v *Vault) Stop() {
	v.stopOnce.Do(func() {
		if v.cmd.Process != nil {
			_ = v.cmd.Process.Kill()
		}
		select {
		case <-v.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// Output is what the server printed so far, with the root token redacted.
func (v *Vault) Output() string {
	return strings.ReplaceAll(v.output.String(), v.Token, "<root token>")
}

// Client returns an API client for the server with the root token. It ignores VAULT_*
// variables of the environment except those the api package always reads.
func (v *Vault) Client(t testing.TB) *api.Client {
	t.Helper()
	cfg := &api.Config{Address: v.Addr, Timeout: 30 * time.Second}
	if v.CACert != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: v.CACert}); err != nil {
			t.Fatalf("realtest: Vault client: %v", err)
		}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("realtest: Vault client: %v", err)
	}
	c.SetToken(v.Token)
	c.ClearNamespace()
	return c
}

// Seal seals the server (sys/seal): every request after it answers 503 "Vault is sealed".
func (v *Vault) Seal(t testing.TB) {
	t.Helper()
	if err := v.Client(t).Sys().SealWithContext(context.Background()); err != nil {
		t.Fatalf("realtest: seal Vault: %v", err)
	}
}

// write writes data to path as root, failing the test on an error.
func (v *Vault) write(t testing.TB, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := v.Client(t).Logical().WriteWithContext(context.Background(), path, data)
	if err != nil {
		t.Fatalf("realtest: Vault write %s: %v", path, err)
	}
	return s
}

// read reads path as root, failing the test on an error or an empty answer.
func (v *Vault) read(t testing.TB, path string) *api.Secret {
	t.Helper()
	s, err := v.Client(t).Logical().ReadWithContext(context.Background(), path)
	if err != nil {
		t.Fatalf("realtest: Vault read %s: %v", path, err)
	}
	if s == nil {
		t.Fatalf("realtest: Vault read %s: nothing there", path)
	}
	return s
}

// pkiMaxTTL is the longest lifetime the test PKI mounts allow: ten years, so that a
// certificate escert asks for (years, not Vault's 32-day default) is not cut short.
const pkiMaxTTL = "87600h"

// mountPKI enables the PKI engine at mount with a ten-year max_lease_ttl.
func (v *Vault) mountPKI(t testing.TB, mount string) {
	t.Helper()
	err := v.Client(t).Sys().MountWithContext(context.Background(), mount, &api.MountInput{
		Type:   "pki",
		Config: api.MountConfigInput{MaxLeaseTTL: pkiMaxTTL},
	})
	if err != nil {
		t.Fatalf("realtest: enable PKI at %s: %v", mount, err)
	}
}

// EnablePKI enables the PKI engine at mount and generates a root CA in it (ECDSA
// P-256, ten years, common name "<domain> <mount> root CA"). It returns the root's PEM.
func (v *Vault) EnablePKI(t testing.TB, mount, domain string) (rootPEM string) {
	t.Helper()
	v.mountPKI(t, mount)
	s := v.write(t, mount+"/root/generate/internal", map[string]any{
		"common_name": fmt.Sprintf("%s %s root CA", domain, mount),
		"key_type":    "ec",
		"key_bits":    256,
		"ttl":         pkiMaxTTL,
	})
	return stringField(t, s, "certificate")
}

// EnableIntermediatePKI enables the PKI engine at mount with an intermediate CA
// (ECDSA P-256, five years) signed by the root of parentMount, imported together with
// that root so that the mount's ca_chain holds both. It returns the intermediate's PEM.
func (v *Vault) EnableIntermediatePKI(t testing.TB, mount, parentMount, domain string) (intermediatePEM string) {
	t.Helper()
	v.mountPKI(t, mount)
	csr := stringField(t, v.write(t, mount+"/intermediate/generate/internal", map[string]any{
		"common_name": fmt.Sprintf("%s %s intermediate CA", domain, mount),
		"key_type":    "ec",
		"key_bits":    256,
	}), "csr")
	signed := v.write(t, parentMount+"/root/sign-intermediate", map[string]any{
		"csr":    csr,
		"format": "pem_bundle",
		"ttl":    "43800h",
	})
	intermediatePEM = stringField(t, signed, "certificate")
	root := stringField(t, signed, "issuing_ca")
	v.write(t, mount+"/intermediate/set-signed", map[string]any{
		"certificate": strings.TrimSpace(intermediatePEM) + "\n" + strings.TrimSpace(root) + "\n",
	})
	return intermediatePEM
}

// CreateRole writes a PKI role (mount/roles/role) with params as given.
func (v *Vault) CreateRole(t testing.TB, mount, role string, params map[string]any) {
	t.Helper()
	v.write(t, mount+"/roles/"+role, params)
}

// WritePolicy writes an ACL policy.
func (v *Vault) WritePolicy(t testing.TB, name, hcl string) {
	t.Helper()
	if err := v.Client(t).Sys().PutPolicyWithContext(context.Background(), name, hcl); err != nil {
		t.Fatalf("realtest: write Vault policy %s: %v", name, err)
	}
}

// CreateToken creates a token with exactly the given policies (no default policy),
// valid for ttl (a Vault duration, "" for the server default), renewable.
func (v *Vault) CreateToken(t testing.TB, ttl string, policies ...string) string {
	t.Helper()
	s, err := v.Client(t).Auth().Token().CreateWithContext(context.Background(), &api.TokenCreateRequest{
		Policies:        policies,
		NoDefaultPolicy: true,
		TTL:             ttl,
	})
	if err != nil {
		t.Fatalf("realtest: create Vault token: %v", err)
	}
	return s.Auth.ClientToken
}

// EnableAppRole enables the AppRole auth method (at auth/approle, once per server),
// creates role with the given token policies and returns its role ID and a fresh
// secret ID.
func (v *Vault) EnableAppRole(t testing.TB, role string, policies ...string) (roleID, secretID string) {
	t.Helper()
	c := v.Client(t)
	auths, err := c.Sys().ListAuthWithContext(context.Background())
	if err != nil {
		t.Fatalf("realtest: list Vault auth methods: %v", err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := c.Sys().EnableAuthWithOptionsWithContext(context.Background(), "approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("realtest: enable AppRole: %v", err)
		}
	}
	v.write(t, "auth/approle/role/"+role, map[string]any{
		"token_policies": policies,
		"token_ttl":      "1h",
		"token_max_ttl":  "4h",
	})
	roleID = stringField(t, v.read(t, "auth/approle/role/"+role+"/role-id"), "role_id")
	secretID = stringField(t, v.write(t, "auth/approle/role/"+role+"/secret-id", nil), "secret_id")
	return roleID, secretID
}

// stringField is a string in the data of a Vault answer, or a test failure.
func stringField(t testing.TB, s *api.Secret, name string) string {
	t.Helper()
	if s == nil {
		t.Fatalf("realtest: Vault answer without data (wanted %s)", name)
	}
	value, ok := s.Data[name].(string)
	if !ok || value == "" {
		t.Fatalf("realtest: Vault answer without %s", name)
	}
	return value
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// withoutVaultEnv drops VAULT_* variables, so a developer's own Vault settings
// (VAULT_ADDR, VAULT_TOKEN, ...) cannot change the test server.
func withoutVaultEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "VAULT_") {
			out = append(out, kv)
		}
	}
	return out
}

// lockedBuffer collects a subprocess's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
