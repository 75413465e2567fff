package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// Every test here talks to a real Vault dev server (realtest.StartVault): nothing is
// faked. Tests that only read from the PKI share one server; those that seal or stop
// it start their own.

const (
	domain  = "escert.test"
	cluster = "escert-test"
)

// The PKI the tests share: the transport layer has its own root CA in one mount; the
// HTTP layer is an intermediate CA in another, under a root in a third, so the HTTP
// chain has an intermediate in it.
var (
	transportRole = Role{Mount: "pki_transport", Name: "es-transport"}
	httpRole      = Role{Mount: "pki_http", Name: "es-http"}
)

// roleParams is a role that allows what escert's certificates carry: names under
// escert.test, localhost, IP SANs, otherName node names, both usages, ECDSA keys, and
// ten-year lifetimes. The CN is an instance name, not a host name, so cn_validations
// is off.
func roleParams(overrides map[string]any) map[string]any {
	p := map[string]any{
		"allowed_domains":    domain,
		"allow_subdomains":   true,
		"allow_localhost":    true,
		"allow_ip_sans":      true,
		"allowed_other_sans": otherSANPrefix + "*",
		"server_flag":        true,
		"client_flag":        true,
		"key_type":           "ec",
		"key_bits":           256,
		"cn_validations":     "disabled",
		"max_ttl":            "87600h",
	}
	for k, v := range overrides {
		p[k] = v
	}
	return p
}

func setupPKI(t testing.TB) *realtest.Vault {
	t.Helper()
	v := realtest.StartVault(t)
	v.EnablePKI(t, transportRole.Mount, domain)
	v.EnablePKI(t, "pki_root", domain)
	v.EnableIntermediatePKI(t, httpRole.Mount, "pki_root", domain)
	v.CreateRole(t, transportRole.Mount, transportRole.Name, roleParams(nil))
	v.CreateRole(t, httpRole.Mount, httpRole.Name, roleParams(nil))
	return v
}

func config(v *realtest.Vault, mode string) Config {
	return Config{
		Addr:   v.Addr,
		Auth:   Auth{Token: v.Token},
		Layers: map[spec.Layer]Role{spec.Transport: transportRole, spec.HTTP: httpRole},
		Mode:   mode,
		Policy: fips.Policy{},
	}
}

func newIssuer(t *testing.T, cfg Config) *Issuer {
	t.Helper()
	iss, _, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss
}

// nodeCerts are the certificates escert issues for an Elasticsearch node and for a
// Kibana with a client certificate, built by the spec package as the CLI does.
func nodeCerts(t *testing.T, name string) []spec.Certificate {
	t.Helper()
	opts := spec.Options{ClusterName: cluster, TrustRestrictions: true, Localhost: true, Days: 825}
	var out []spec.Certificate
	for _, inst := range []spec.Instance{
		{Name: name, Filename: name, Type: spec.Elasticsearch, DNS: []string{name + "." + domain}, IPs: []net.IP{net.ParseIP("10.0.0.7")}},
		{Name: "kibana", Filename: "kibana", Type: spec.Kibana, DNS: []string{"kibana." + domain}, ClientAuth: true},
	} {
		certs, err := spec.Certificates(inst, opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, certs...)
	}
	return out
}

// verifyIssued checks a chain the way its peers will: it verifies against the layer's
// trust for each usage the spec has, carries every SAN asked for, lasts as long as
// asked, belongs to key, and completes a real TLS handshake.
func verifyIssued(t *testing.T, iss *Issuer, c spec.Certificate, key crypto.Signer, chain []*x509.Certificate) {
	t.Helper()
	leaf := chain[0]
	trust := iss.Trust(c.Layer)
	if len(trust) == 0 {
		t.Fatalf("%s: no trust for the %s layer", c.Base, c.Layer)
	}
	if !chain[len(chain)-1].Equal(trust[len(trust)-1]) {
		t.Errorf("%s: chain ends with %q, want the layer's CA %q", c.Base, chain[len(chain)-1].Subject.CommonName, trust[len(trust)-1].Subject.CommonName)
	}
	roots := x509.NewCertPool()
	roots.AddCert(trust[len(trust)-1])
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	var usages []x509.ExtKeyUsage
	if c.ServerAuth {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if c.ClientAuth {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	for _, u := range usages {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Errorf("%s: verify for usage %v: %v", c.Base, u, err)
		}
	}
	for _, dns := range c.DNSNames {
		if !slices.Contains(leaf.DNSNames, dns) {
			t.Errorf("%s: DNS SAN %q missing from %v", c.Base, dns, leaf.DNSNames)
		}
	}
	for _, ip := range c.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			t.Errorf("%s: IP SAN %s missing from %v", c.Base, ip, leaf.IPAddresses)
		}
	}
	others, err := ca.OtherNames(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(others, c.OtherNames) && !(len(others) == 0 && len(c.OtherNames) == 0) {
		t.Errorf("%s: otherNames %q, want %q", c.Base, others, c.OtherNames)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < time.Duration(c.Days)*24*time.Hour {
		t.Errorf("%s: lifetime %v, want %d days", c.Base, got, c.Days)
	}
	if leaf.Subject.CommonName != c.Subject.CommonName {
		t.Errorf("%s: CN %q, want %q", c.Base, leaf.Subject.CommonName, c.Subject.CommonName)
	}
	if err := ca.KeyMatches(leaf, key); err != nil {
		t.Errorf("%s: %v", c.Base, err)
	}
	if c.ServerAuth {
		handshake(t, c, key, chain, trust)
	}
}

// handshake runs Go's TLS between a server presenting chain and a client trusting the
// layer's root; the client presents the same certificate when the spec also has
// clientAuth (as transport certificates serve both ends).
func handshake(t *testing.T, c spec.Certificate, key crypto.Signer, chain, trust []*x509.Certificate) {
	t.Helper()
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, cc := range chain {
		cert.Certificate = append(cert.Certificate, cc.Raw)
	}
	pool := x509.NewCertPool()
	pool.AddCert(trust[len(trust)-1])
	serverCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if len(c.DNSNames) > 0 {
		clientCfg.ServerName = c.DNSNames[0]
	} else {
		clientCfg.ServerName = c.IPs[0].String()
	}
	if c.ClientAuth {
		serverCfg.ClientAuth, serverCfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
		clientCfg.Certificates = []tls.Certificate{cert}
	}
	// Loopback TCP rather than net.Pipe: TLS 1.3 writes in both directions at once
	// (tickets, close_notify), which an unbuffered pipe turns into a 5 s stall.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer conn.Close()
		if err := conn.(*tls.Conn).Handshake(); err != nil {
			errc <- err
			return
		}
		_, err = conn.Write([]byte("ok"))
		errc <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
	var got []byte
	if err == nil {
		// In TLS 1.3 a rejected client certificate shows as an alert on the first read.
		got, err = io.ReadAll(conn)
		conn.Close()
	}
	if serr := <-errc; err != nil || serr != nil || string(got) != "ok" {
		t.Errorf("%s: TLS handshake: client: %v, server: %v", c.Base, err, serr)
	}
}

// TestIssue issues every certificate of a node and a Kibana in both modes, through
// issuer.Obtain as bundles do, with the HTTP chain passing through an intermediate.
func TestIssue(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	for _, mode := range []string{ModeSign, ModeIssue} {
		t.Run(mode, func(t *testing.T) {
			iss := newIssuer(t, config(v, mode))
			if got := len(iss.Trust(spec.HTTP)); got != 2 {
				t.Errorf("HTTP trust has %d certificates, want the intermediate and its root", got)
			}
			if got := len(iss.Trust(spec.Transport)); got != 1 {
				t.Errorf("transport trust has %d certificates, want the root", got)
			}
			for _, c := range nodeCerts(t, "node-1") {
				key, chain, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
				if err != nil {
					t.Fatalf("%s %s: %v", c.Instance, c.Base, err)
				}
				verifyIssued(t, iss, c, key, chain)
			}
		})
	}
}

// TestIssueKeys checks that the key escert asks for is the key it gets, in both
// modes, and that a role making another key is refused by name.
func TestIssueKeys(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	v.CreateRole(t, transportRole.Mount, "es-rsa", roleParams(map[string]any{"key_type": "rsa", "key_bits": 2048}))
	v.CreateRole(t, transportRole.Mount, "es-any", roleParams(map[string]any{"key_type": "any", "key_bits": 0}))
	c := nodeCerts(t, "node-2")[0]
	cases := []struct {
		name, mode, role string
		key              fips.KeySpec
		wantErr          string
	}{
		{"sign P-384", ModeSign, "es-any", fips.KeySpec{Type: fips.ECDSA, Curve: "P-384"}, ""},
		{"sign RSA-2048", ModeSign, "es-rsa", fips.KeySpec{Type: fips.RSA, Bits: 2048}, ""},
		{"issue RSA-2048", ModeIssue, "es-rsa", fips.KeySpec{Type: fips.RSA, Bits: 2048}, ""},
		{"sign P-256 on an RSA role", ModeSign, "es-rsa", fips.DefaultKey, "key_type"},
		{"issue P-256 from an RSA role", ModeIssue, "es-rsa", fips.DefaultKey, "key_type=ec key_bits=256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(v, tc.mode)
			cfg.Layers = map[spec.Layer]Role{spec.Transport: {Mount: transportRole.Mount, Name: tc.role}}
			cfg.Key = tc.key
			iss := newIssuer(t, cfg)
			key, chain, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, tc.key)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrRoleRefused) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrRoleRefused naming %s", err, tc.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := fips.SpecOf(key.Public())
			if got != tc.key {
				t.Errorf("key %v, want %v", got, tc.key)
			}
			verifyIssued(t, iss, c, key, chain)
		})
	}
}

// TestAuth logs in every way escert supports, each with a token that may do no more
// than sign with the two roles (least privilege), and issues with it.
func TestAuth(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	v.WritePolicy(t, "escert-sign", fmt.Sprintf(`
path "%s/sign/%s" { capabilities = ["update"] }
path "%s/sign/%s" { capabilities = ["update"] }
`, transportRole.Mount, transportRole.Name, httpRole.Mount, httpRole.Name))
	roleID, secretID := v.EnableAppRole(t, "escert", "escert-sign")
	dir := t.TempDir()
	writeSecret := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	limited := v.CreateToken(t, "1h", "escert-sign")
	cases := []struct {
		name string
		auth Auth
	}{
		{"token", Auth{Token: limited}},
		{"token file", Auth{TokenFile: writeSecret("token", limited)}},
		{"agent sink", Auth{AgentSinkFile: writeSecret("sink", limited)}},
		{"approle", Auth{AppRoleID: roleID, AppRoleSecretIDFile: writeSecret("secret-id", secretID)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(v, ModeSign)
			cfg.Auth = tc.auth
			iss := newIssuer(t, cfg)
			c := nodeCerts(t, "node-3")[0]
			key, chain, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
			if err != nil {
				t.Fatal(err)
			}
			verifyIssued(t, iss, c, key, chain)
		})
	}

	t.Run("refused", func(t *testing.T) {
		for name, auth := range map[string]Auth{
			"wrong token":     {Token: "hvs.not-a-token"},
			"wrong secret ID": {AppRoleID: roleID, AppRoleSecretIDFile: writeSecret("wrong-secret-id", "00000000-0000-0000-0000-000000000000")},
			"empty file":      {TokenFile: writeSecret("empty", "")},
			"wrapped sink":    {AgentSinkFile: writeSecret("wrapped", `{"token":"x"}`)},
		} {
			cfg := config(v, ModeSign)
			cfg.Auth = auth
			_, _, err := New(context.Background(), cfg)
			if !errors.Is(err, ErrLogin) {
				t.Errorf("%s: err = %v, want ErrLogin", name, err)
			}
			t.Logf("%s: %v", name, err)
			if err != nil && (strings.Contains(err.Error(), secretID) || strings.Contains(err.Error(), "not-a-token")) {
				t.Errorf("%s: the error shows the secret: %v", name, err)
			}
		}
	})

	t.Run("renewal", func(t *testing.T) {
		// A renewable token that has used two thirds of its TTL is renewed before the
		// next request. The clock is moved instead of waiting.
		v.WritePolicy(t, "escert-renew", `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
`)
		token := v.CreateToken(t, "1h", "escert-sign", "escert-renew")
		var offset atomic.Int64
		cfg := config(v, ModeSign)
		cfg.Auth = Auth{Token: token}
		cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		iss := newIssuer(t, cfg)
		if !iss.token.known || iss.token.ttl <= 0 || !iss.token.renewable {
			t.Fatalf("token state after login: known=%v ttl=%v renewable=%v", iss.token.known, iss.token.ttl, iss.token.renewable)
		}
		before := iss.token.expires
		offset.Store(int64(50 * time.Minute))
		if _, _, err := issuer.Obtain(context.Background(), iss, nodeCerts(t, "node-4")[0], rand.Reader, fips.Policy{}, fips.DefaultKey); err != nil {
			t.Fatal(err)
		}
		if !iss.token.expires.After(before.Add(40 * time.Minute)) {
			t.Errorf("token not renewed: expires %v, was %v", iss.token.expires, before)
		}
		info, err := v.Client(t).Auth().Token().Lookup(token)
		if err != nil {
			t.Fatal(err)
		}
		if info.Data["last_renewal_time"] == nil {
			t.Errorf("Vault has no renewal of the token: %v", info.Data["last_renewal_time"])
		}
	})
}

// TestRefusals: what a role does not allow comes back as ErrRoleRefused (or, for
// Vault's silent cuts, as an error from the answer check) naming the setting to change.
func TestRefusals(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	roles := map[string]map[string]any{
		"other-domain": {"allowed_domains": "other.test"},
		"no-client":    {"client_flag": false},
		"no-server":    {"server_flag": false},
		"no-other":     {"allowed_other_sans": ""},
		"no-ip":        {"allow_ip_sans": false},
		"no-localhost": {"allow_localhost": false},
		"short":        {"max_ttl": "720h"},
		"cn-checked":   {"cn_validations": "hostname"},
	}
	for name, params := range roles {
		v.CreateRole(t, transportRole.Mount, name, roleParams(params))
		v.CreateRole(t, httpRole.Mount, name, roleParams(params))
	}
	certs := nodeCerts(t, "node-5")
	transport, httpCert := certs[0], certs[1]
	cases := []struct {
		role  string
		cert  spec.Certificate
		modes []string
		want  []string
	}{
		{"other-domain", httpCert, []string{ModeSign, ModeIssue}, []string{"node-5.escert.test", "allowed_domains"}},
		{"no-client", transport, []string{ModeSign, ModeIssue}, []string{"client_flag=true", `"no-client"`, transportRole.Mount}},
		{"no-server", httpCert, []string{ModeSign}, []string{"server_flag=true"}},
		{"no-other", transport, []string{ModeSign, ModeIssue}, []string{"allowed_other_sans"}},
		{"no-ip", transport, []string{ModeSign, ModeIssue}, []string{"allow_ip_sans=true"}},
		{"no-localhost", httpCert, []string{ModeSign, ModeIssue}, []string{"allow_localhost=true"}},
		{"short", transport, []string{ModeSign, ModeIssue}, []string{"max_ttl", "825 days"}},
		{"cn-checked", transport, []string{ModeSign}, []string{"cn_validations=disabled"}},
	}
	for _, tc := range cases {
		for _, mode := range tc.modes {
			t.Run(tc.role+"/"+mode, func(t *testing.T) {
				cfg := config(v, mode)
				mount := transportRole.Mount
				if tc.cert.Layer == spec.HTTP {
					mount = httpRole.Mount
				}
				cfg.Layers = map[spec.Layer]Role{tc.cert.Layer: {Mount: mount, Name: tc.role}}
				iss := newIssuer(t, cfg)
				_, _, err := issuer.Obtain(context.Background(), iss, tc.cert, rand.Reader, fips.Policy{}, fips.DefaultKey)
				if !errors.Is(err, ErrRoleRefused) {
					t.Fatalf("err = %v, want ErrRoleRefused", err)
				}
				t.Log(err)
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not name %q: %v", w, err)
					}
				}
			})
		}
	}

	t.Run("unknown role", func(t *testing.T) {
		cfg := config(v, ModeSign)
		cfg.Layers = map[spec.Layer]Role{spec.Transport: {Mount: transportRole.Mount, Name: "missing"}}
		iss := newIssuer(t, cfg)
		_, _, err := issuer.Obtain(context.Background(), iss, transport, rand.Reader, fips.Policy{}, fips.DefaultKey)
		if !errors.Is(err, ErrRoleRefused) || !strings.Contains(err.Error(), "create the role") {
			t.Fatalf("err = %v, want ErrRoleRefused saying to create the role", err)
		}
	})

	t.Run("no such mount", func(t *testing.T) {
		cfg := config(v, ModeSign)
		cfg.Layers = map[spec.Layer]Role{spec.Transport: {Mount: "pki_nowhere", Name: "x"}}
		_, _, err := New(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "pki_nowhere") {
			t.Fatalf("err = %v, want an error naming the mount", err)
		}
	})
}

// TestPermissionDenied: a token whose policy lacks the sign path gets
// ErrPermissionDenied with the policy to grant.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	v.WritePolicy(t, "http-only", fmt.Sprintf(`path "%s/sign/%s" { capabilities = ["update"] }`, httpRole.Mount, httpRole.Name))
	cfg := config(v, ModeSign)
	cfg.Auth = Auth{Token: v.CreateToken(t, "1h", "http-only")}
	iss := newIssuer(t, cfg)
	certs := nodeCerts(t, "node-6")
	if _, _, err := issuer.Obtain(context.Background(), iss, certs[1], rand.Reader, fips.Policy{}, fips.DefaultKey); err != nil {
		t.Fatalf("HTTP certificate, which the policy allows: %v", err)
	}
	_, _, err := issuer.Obtain(context.Background(), iss, certs[0], rand.Reader, fips.Policy{}, fips.DefaultKey)
	if !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("err = %v, want ErrPermissionDenied", err)
	}
	t.Log(err)
	want := fmt.Sprintf(`path "%s/sign/%s" { capabilities = ["update"] }`, transportRole.Mount, transportRole.Name)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not give the policy %s: %v", want, err)
	}
}

// TestSealed: a sealed Vault is ErrSealed at once, in one attempt, both when New logs
// in and when a certificate is asked for.
func TestSealed(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	iss := newIssuer(t, config(v, ModeSign))
	v.Seal(t)
	var attempts atomic.Int32
	iss.observe = func(request, int, outcome) { attempts.Add(1) }
	_, _, err := issuer.Obtain(context.Background(), iss, nodeCerts(t, "node-7")[0], rand.Reader, fips.Policy{}, fips.DefaultKey)
	if !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), v.Addr) || !strings.Contains(err.Error(), "unseal") {
		t.Fatalf("err = %v, want ErrSealed naming %s and saying to unseal", err, v.Addr)
	}
	t.Log(err)
	if n := attempts.Load(); n != 1 {
		t.Errorf("a sealed Vault must not be retried: %d attempts, want 1", n)
	}
	if _, _, err := New(context.Background(), config(v, ModeSign)); !errors.Is(err, ErrSealed) {
		t.Errorf("New on a sealed Vault: err = %v, want ErrSealed", err)
	}
}

// TestStopped: a Vault that went away mid-run is ErrUnreachable after the configured
// number of retries.
func TestStopped(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	cfg := config(v, ModeSign)
	cfg.MaxRetries = 2
	iss := newIssuer(t, cfg)
	v.Stop()
	var attempts atomic.Int32
	iss.observe = func(request, int, outcome) { attempts.Add(1) }
	_, _, err := issuer.Obtain(context.Background(), iss, nodeCerts(t, "node-8")[0], rand.Reader, fips.Policy{}, fips.DefaultKey)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), v.Addr) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("err = %v, want ErrUnreachable naming %s after 3 attempts", err, v.Addr)
	}
	t.Log(err)
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 3 (one and MaxRetries retries)", n)
	}
	if _, _, err := New(context.Background(), cfg); !errors.Is(err, ErrUnreachable) {
		t.Errorf("New: err = %v, want ErrUnreachable", err)
	}
}

// TestConcurrent issues 20 certificates at once through a limit of 4 requests in
// flight, as bundles do for a cluster.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	v := setupPKI(t)
	for _, mode := range []string{ModeSign, ModeIssue} {
		t.Run(mode, func(t *testing.T) {
			cfg := config(v, mode)
			cfg.Concurrency = 4
			iss := newIssuer(t, cfg)
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				serials = map[string]bool{}
				errs    []error
			)
			var specs []spec.Certificate
			for n := range 20 {
				specs = append(specs, nodeCerts(t, fmt.Sprintf("node-%02d", n))[n%2])
			}
			for _, c := range specs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, chain, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					serials[chain[0].SerialNumber.String()] = true
				}()
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d of 20 failed, first: %v", len(errs), errs[0])
			}
			if len(serials) != 20 {
				t.Errorf("%d distinct serials, want 20", len(serials))
			}
		})
	}
}

// TestTLS: Vault behind TLS needs its CA (VAULT_CACERT); without it the error is
// ErrTLS and says so.
func TestTLS(t *testing.T) {
	t.Parallel()
	v := realtest.StartVaultTLS(t)
	v.EnablePKI(t, transportRole.Mount, domain)
	v.CreateRole(t, transportRole.Mount, transportRole.Name, roleParams(nil))
	cfg := config(v, ModeSign)
	cfg.Layers = map[spec.Layer]Role{spec.Transport: transportRole}
	_, _, err := New(context.Background(), cfg)
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "VAULT_CACERT") {
		t.Fatalf("without the CA: err = %v, want ErrTLS naming VAULT_CACERT", err)
	}
	t.Log(err)
	cfg.CACert = v.CACert
	iss := newIssuer(t, cfg)
	c := nodeCerts(t, "node-9")[0]
	key, chain, err := issuer.Obtain(context.Background(), iss, c, rand.Reader, fips.Policy{}, fips.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, iss, c, key, chain)

	cfg.CACert, cfg.Insecure = "", true
	_, warnings, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("insecure: %v", err)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "--insecure") }) {
		t.Errorf("insecure: no warning in %q", warnings)
	}
}
