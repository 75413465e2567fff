package realtest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewestVault(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ESCERT_CACHE", dir)
	if got := newestVault(); got != "" {
		t.Fatalf("empty cache: %q", got)
	}
	write := func(name string, mode os.FileMode, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("vault-v1.20.0-aaaa", 0o755, 2*time.Hour)
	want := write("vault-v1.21.4-bbbb", 0o755, time.Hour)
	write("vault-v1.21.4-cccc.tmp", 0o755, 0) // a build in progress
	write("vault-v1.21.4-dddd", 0o644, 0)     // not executable
	if got := newestVault(); got != want {
		t.Errorf("newestVault() = %q, want %q", got, want)
	}
}

// TestVault exercises every helper against a real dev server.
func TestVault(t *testing.T) {
	t.Parallel()
	v := StartVault(t)
	if !strings.HasPrefix(v.Addr, "http://127.0.0.1:") {
		t.Errorf("Addr %q is not loopback", v.Addr)
	}
	if strings.Contains(v.Output(), v.Token) {
		t.Error("Output shows the root token")
	}

	rootPEM := v.EnablePKI(t, "pki_root", "escert.test")
	root := parsePEMCert(t, rootPEM)
	if !root.IsCA || !strings.Contains(root.Subject.CommonName, "escert.test") {
		t.Errorf("root CA: IsCA=%v CN=%q", root.IsCA, root.Subject.CommonName)
	}
	inter := parsePEMCert(t, v.EnableIntermediatePKI(t, "pki_int", "pki_root", "escert.test"))
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by the root: %v", err)
	}
	chain, err := v.Client(t).Logical().Read("pki_int/cert/ca_chain")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(chain.Data["certificate"].(string), "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("pki_int's ca_chain has %d certificates, want intermediate and root", n)
	}

	v.CreateRole(t, "pki_int", "web", map[string]any{"allowed_domains": "escert.test", "allow_subdomains": true, "key_type": "ec", "key_bits": 256})
	v.WritePolicy(t, "issue-web", `path "pki_int/issue/web" { capabilities = ["update"] }`)
	token := v.CreateToken(t, "10m", "issue-web")
	c := v.Client(t)
	c.SetToken(token)
	issued, err := c.Logical().Write("pki_int/issue/web", map[string]any{"common_name": "a.escert.test"})
	if err != nil {
		t.Fatalf("issue with the limited token: %v", err)
	}
	leaf := parsePEMCert(t, issued.Data["certificate"].(string))
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "a.escert.test"}); err != nil {
		t.Errorf("issued certificate: %v", err)
	}
	if _, err := c.Logical().Write("pki_root/root/generate/internal", map[string]any{"common_name": "x"}); err == nil {
		t.Error("the limited token could write outside its policy")
	}

	roleID, secretID := v.EnableAppRole(t, "escert", "issue-web")
	login, err := v.Client(t).Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	if err != nil || login.Auth == nil || !slices.Contains(login.Auth.Policies, "issue-web") {
		t.Fatalf("AppRole login: %v %+v", err, login)
	}
	// A second role reuses the enabled auth method.
	v.EnableAppRole(t, "escert2", "issue-web")

	v.Seal(t)
	if code := healthCode(t, v); code != http.StatusServiceUnavailable {
		t.Errorf("sealed: health %d, want 503", code)
	}
	v.Stop()
	v.Stop() // idempotent, as t.Cleanup calls it again
	if _, err := http.Get(v.Addr + "/v1/sys/health"); err == nil {
		t.Error("stopped Vault still answers")
	}
}

func TestVaultTLS(t *testing.T) {
	t.Parallel()
	v := StartVaultTLS(t)
	if !strings.HasPrefix(v.Addr, "https://127.0.0.1:") || v.CACert == "" {
		t.Fatalf("Addr %q CACert %q", v.Addr, v.CACert)
	}
	health, err := v.Client(t).Sys().HealthWithContext(context.Background())
	if err != nil || !health.Initialized || health.Sealed {
		t.Fatalf("health over TLS: %v %+v", err, health)
	}
}

func healthCode(t *testing.T, v *Vault) int {
	t.Helper()
	resp, err := http.Get(v.Addr + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("no PEM in %q", s)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
