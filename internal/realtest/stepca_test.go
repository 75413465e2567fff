package realtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"
)

func TestNewestCachedStepCA(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ESCERT_CACHE", dir)
	write := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := write("stepca-aaaa", time.Hour)
	write("vault-v1.21.4-bbbb", 0) // another tool sharing ESCERT_CACHE
	write("stepca-cccc.tmp", 0)    // a build in progress
	if got := newestCached("escert-stepca", "stepca-"); got != want {
		t.Errorf("newestCached(stepca) = %q, want %q", got, want)
	}
}

// TestStepCA starts a default CA and checks what a client of it sees: TLS that verifies
// with RootFile alone, /health, the provisioner with its encrypted key, and that Stop
// takes the server away.
func TestStepCA(t *testing.T) {
	t.Parallel()
	s := StartStepCA(t, StepCAOptions{})
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Errorf("URL %q is not loopback", s.URL)
	}
	if s.Provisioner != "escert-test" {
		t.Errorf("Provisioner = %q, want the default escert-test", s.Provisioner)
	}
	if len(s.Fingerprint) != 64 || !s.Root.IsCA {
		t.Errorf("Fingerprint %q, root IsCA=%v", s.Fingerprint, s.Root.IsCA)
	}
	if info, err := os.Stat(s.PasswordFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("password file: %v, %v", info, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "ca.json")); err != nil {
		t.Errorf("ca.json: %v", err)
	}

	// A client that trusts only the PEM file the helper reported, as code under test
	// would be configured.
	rootPEM, err := os.ReadFile(s.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("%s holds no certificate", s.RootFile)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	var health struct{ Status string }
	getJSON(t, client, s.URL+"/health", &health)
	if health.Status != "ok" {
		t.Errorf("/health status %q, want ok", health.Status)
	}
	jwk := provisionerJWK(t, client, s)
	if jwk.Claims.AllowRenewalAfterExpiry {
		t.Error("allowRenewalAfterExpiry is on by default")
	}

	// Stop is what a test calls to take the CA away mid-run; a second call (the
	// cleanup's) must be harmless.
	s.Stop()
	s.Stop()
	if resp, err := client.Get(s.URL + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("/health still answers after Stop: %s", resp.Status)
	}
}

// TestStepCAPolicy starts a CA with a deny policy and non-default claims, and signs
// through the provisioner the way step does (a JWK token), to prove the options reach
// step-ca: an allowed name is signed under the root, a denied one refused.
func TestStepCAPolicy(t *testing.T) {
	t.Parallel()
	s := StartStepCA(t, StepCAOptions{
		Provisioner:             "policy-test",
		Password:                "correct horse battery",
		DenyDNS:                 []string{"*.denied.test"},
		MinDuration:             time.Second,
		DefaultDuration:         time.Hour,
		MaxDuration:             48 * time.Hour,
		AllowRenewalAfterExpiry: true,
	})
	if s.Provisioner != "policy-test" || s.Password != "correct horse battery" {
		t.Errorf("Provisioner %q, Password %q", s.Provisioner, s.Password)
	}
	if data, err := os.ReadFile(s.PasswordFile); err != nil || string(data) != "correct horse battery\n" {
		t.Errorf("password file %q, %v", data, err)
	}
	client := s.HTTPClient()
	jwk := provisionerJWK(t, client, s)
	c := jwk.Claims
	if c.Min != "1s" || c.Default != "1h0m0s" || c.Max != "48h0m0s" || !c.AllowRenewalAfterExpiry {
		t.Errorf("claims %+v, want 1s/1h/48h with renewal after expiry", c)
	}

	status, body := signWithJWK(t, client, s, jwk, "ok.allowed.test", "2s")
	if status != http.StatusCreated {
		t.Fatalf("sign ok.allowed.test: %d %s", status, body)
	}
	var signed struct {
		Crt string `json:"crt"`
		CA  string `json:"ca"`
	}
	if err := json.Unmarshal(body, &signed); err != nil {
		t.Fatal(err)
	}
	leaf := parsePEMCert(t, signed.Crt)
	inter := parsePEMCert(t, signed.CA)
	roots := x509.NewCertPool()
	roots.AddCert(s.Root)
	inters := x509.NewCertPool()
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "ok.allowed.test", Roots: roots, Intermediates: inters}); err != nil {
		t.Errorf("signed certificate does not verify: %v", err)
	}
	// step-ca backdates by a minute: "2s" ends two seconds from now, which the 1s
	// minimum claim allows.
	if left := time.Until(leaf.NotAfter); left > 5*time.Second {
		t.Errorf("certificate asked for 2s ends in %v", left)
	}

	// step-ca v0.30.2 answers a provisioner policy refusal with 500 and the raw policy
	// error ({"Name":...,"NameType":"dns","Reason":1}), not 403; only the refusal and
	// the name are checked here.
	status, body = signWithJWK(t, client, s, jwk, "x.denied.test", "")
	if status < 400 || !bytes.Contains(body, []byte("x.denied.test")) {
		t.Errorf("sign x.denied.test: %d %s, want a refusal naming it", status, body)
	}
	// step-ca logs a request after answering it, so the line may come a moment later.
	want := `dns name \"x.denied.test\" not allowed`
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.Output(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("step-ca did not log the policy refusal:\n%s", s.Output())
			break
		}
	}
}

// provisionerEntry is the helper's provisioner as GET /provisioners lists it.
type provisionerEntry struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Key          json.RawMessage `json:"key"`
	EncryptedKey string          `json:"encryptedKey"`
	Claims       struct {
		Min                     string `json:"minTLSCertDuration"`
		Default                 string `json:"defaultTLSCertDuration"`
		Max                     string `json:"maxTLSCertDuration"`
		AllowRenewalAfterExpiry bool   `json:"allowRenewalAfterExpiry"`
	} `json:"claims"`
}

// provisionerJWK is the CA's one provisioner, which must be a JWK one named s.Provisioner
// with an encrypted key.
func provisionerJWK(t *testing.T, client *http.Client, s *StepCA) provisionerEntry {
	t.Helper()
	var list struct {
		Provisioners []provisionerEntry `json:"provisioners"`
	}
	getJSON(t, client, s.URL+"/provisioners", &list)
	if len(list.Provisioners) != 1 {
		t.Fatalf("/provisioners lists %d provisioners, want 1", len(list.Provisioners))
	}
	p := list.Provisioners[0]
	if p.Type != "JWK" || p.Name != s.Provisioner || p.EncryptedKey == "" {
		t.Fatalf("/provisioners: type %q name %q encryptedKey %d bytes, want JWK %q with a key", p.Type, p.Name, len(p.EncryptedKey), s.Provisioner)
	}
	return p
}

// signWithJWK asks the CA for a certificate for name as `step ca certificate` does: a
// one-time token signed by the provisioner's key (decrypted with the password), and a
// CSR. notAfter is a duration such as "2s", or "" for the default. It returns the
// answer's status and body.
func signWithJWK(t *testing.T, client *http.Client, s *StepCA, p provisionerEntry, name, notAfter string) (int, []byte) {
	t.Helper()
	// The JWE's A256GCM takes a given nonce, which GODEBUG=fips140=only forbids. This
	// stands in for the step CLI, not for escert, so it lifts the enforcement for the
	// one call.
	var key *jose.JSONWebKey
	var err error
	fips140.WithoutEnforcement(func() {
		key, err = jose.ParseKey([]byte(p.EncryptedKey), jose.WithPassword([]byte(s.Password)))
	})
	if err != nil {
		t.Fatalf("decrypt the provisioner key: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Key},
		new(jose.SignerOptions).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := jose.Signed(signer).Claims(jose.Claims{
		Issuer:    p.Name,
		Subject:   name,
		Audience:  jose.Audience{s.URL + "/1.0/sign"},
		NotBefore: jose.NewNumericDate(now),
		IssuedAt:  jose.NewNumericDate(now),
		Expiry:    jose.NewNumericDate(now.Add(5 * time.Minute)),
		ID:        hex.EncodeToString(raw),
	}).Claims(map[string]any{"sans": []string{name}, "sha": s.Fingerprint}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]any{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), "ott": token}
	if notAfter != "" {
		req["notAfter"] = notAfter
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(s.URL+"/1.0/sign", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /1.0/sign: %v", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, answer
}

// getJSON decodes the 200 answer of a GET.
func getJSON(t *testing.T, client *http.Client, url string, v any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
