package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/issuer/issuertest"
	"github.com/escert/escert/internal/spec"
)

// These tests need no Vault: they cover what New refuses before it connects, and the
// pieces of error handling that a real server cannot be made to produce on demand.

func TestNewRefuses(t *testing.T) {
	roles := map[spec.Layer]Role{spec.Transport: {Mount: "pki_t", Name: "t"}, spec.HTTP: {Mount: "pki_h", Name: "h"}}
	cases := []struct {
		name  string
		cfg   Config
		want  string
		class error
		kind  fault.Kind
	}{
		{"no address", Config{Auth: Auth{Token: "x"}, Layers: roles}, "--vault-addr or VAULT_ADDR", nil, fault.Input},
		{"not a URL", Config{Addr: "vault:8200", Auth: Auth{Token: "x"}, Layers: roles}, "http:// or https://", nil, fault.Input},
		{"wrong scheme", Config{Addr: "ftp://vault.example:8200", Auth: Auth{Token: "x"}, Layers: roles}, "--vault-addr", nil, fault.Input},
		{"unparsable", Config{Addr: "http://vault example:8200", Auth: Auth{Token: "x"}, Layers: roles}, "--vault-addr", nil, fault.Input},
		{"bad mode", Config{Addr: "http://127.0.0.1:1", Mode: "fetch", Auth: Auth{Token: "x"}, Layers: roles}, `"sign"`, nil, fault.Failed},
		{"no roles", Config{Addr: "http://127.0.0.1:1", Auth: Auth{Token: "x"}}, "no Vault PKI role", nil, fault.Failed},
		{"empty role", Config{Addr: "http://127.0.0.1:1", Auth: Auth{Token: "x"}, Layers: map[spec.Layer]Role{spec.HTTP: {Mount: "pki"}}}, "role name", nil, fault.Failed},
		{"no credentials", Config{Addr: "http://127.0.0.1:1", Layers: roles}, "no Vault credentials", ErrLogin, fault.Credentials},
		{"two credentials", Config{Addr: "http://127.0.0.1:1", Auth: Auth{Token: "x", TokenFile: "/f"}, Layers: roles}, "not several", nil, fault.Failed},
		{"AppRole without secret ID", Config{Addr: "http://127.0.0.1:1", Auth: Auth{AppRoleID: "r"}, Layers: roles}, "secret ID", nil, fault.Failed},
		{"token with a newline", Config{Addr: "http://127.0.0.1:1", Auth: Auth{Token: "a\nb"}, Layers: roles}, "unprintable", ErrLogin, fault.Credentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if tc.class != nil && !errors.Is(err, tc.class) {
				t.Errorf("err = %v, want %v", err, tc.class)
			}
			if got := fault.KindOf(err); got != tc.kind {
				t.Errorf("fault kind %v, want %v", got, tc.kind)
			}
			if strings.Contains(err.Error(), "a\nb") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestSentinelsCarryTheirFaultKind: every class of Vault failure gives the CLI its
// exit code through fault.KindOf, and errors.Is still tells the classes apart.
func TestSentinelsCarryTheirFaultKind(t *testing.T) {
	issuertest.CheckClasses(t, []issuertest.Class{
		{Sentinel: ErrRoleRefused, Kind: fault.Refused},
		{Sentinel: ErrPermissionDenied, Kind: fault.Credentials},
		{Sentinel: ErrLogin, Kind: fault.Credentials},
		{Sentinel: ErrSealed, Kind: fault.Unavailable},
		{Sentinel: ErrUnreachable, Kind: fault.Unavailable},
		{Sentinel: ErrTLS, Kind: fault.Input},
	})
}

// TestCancelDuringBackoffStopsAtOnce: a context cancelled while a request waits to
// retry ends the request in that wait, with no further attempt, as an interruption.
// Vault is a closed port: a refused connection is a transient failure.
func TestCancelDuringBackoffStopsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	client, err := newClient(addr, Config{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	i := &Issuer{client: client, addr: addr, timeout: DefaultTimeout, retries: 1000,
		// The first failure is transient, so a backoff follows: cancel as it begins.
		observe: func(_ request, _ int, o outcome) {
			attempts++
			if !o.transient {
				t.Errorf("attempt %d: %v is not transient, so no backoff follows", attempts, o.err)
			}
			cancel()
		}}
	r := request{method: http.MethodGet, path: "pki/cert/ca_chain", mount: "pki", what: "read the CA chain of mount pki"}
	_, err = i.call(ctx, client, r, nil)
	if attempts != 1 {
		t.Errorf("%d attempts, want 1: the cancel must end the backoff, not the next attempt", attempts)
	}
	if !errors.Is(err, context.Canceled) || fault.KindOf(err) != fault.Interrupted {
		t.Errorf("err = %v (kind %v), want one wrapping context.Canceled of kind interrupted", err, fault.KindOf(err))
	}
}

func TestLayerWarnings(t *testing.T) {
	a, b := Role{Mount: "pki", Name: "a"}, Role{Mount: "pki", Name: "b"}
	cases := []struct {
		name   string
		layers map[spec.Layer]Role
		want   string
	}{
		{"separate mounts", map[spec.Layer]Role{spec.Transport: a, spec.HTTP: {Mount: "pki2", Name: "a"}}, ""},
		{"same role", map[spec.Layer]Role{spec.Transport: a, spec.HTTP: a}, "same Vault role pki/roles/a"},
		{"same mount", map[spec.Layer]Role{spec.Transport: a, spec.HTTP: b}, "share the Vault mount pki"},
		{"slashes do not hide it", map[spec.Layer]Role{spec.Transport: a, spec.HTTP: {Mount: "/pki/", Name: "a"}}, "same Vault role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, warnings, err := checkLayers(tc.layers)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(warnings) > 0 {
					t.Errorf("warnings %q, want none", warnings)
				}
				return
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tc.want) {
				t.Errorf("warnings %q, want one containing %q", warnings, tc.want)
			}
		})
	}
}

func TestConnectionWarnings(t *testing.T) {
	cases := []struct {
		addr     string
		insecure bool
		mode     string
		want     []string
	}{
		{"https://vault.example:8200", false, ModeSign, nil},
		{"http://127.0.0.1:8200", false, ModeIssue, nil},
		{"http://localhost:8200", false, ModeIssue, nil},
		{"http://[::1]:8200", false, ModeIssue, nil},
		{"http://vault.example:8200", false, ModeSign, []string{"plain HTTP: the Vault token crosses"}},
		{"http://vault.example:8200", false, ModeIssue, []string{"every private key"}},
		{"https://vault.example:8200", true, ModeSign, []string{"--insecure"}},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		got := connectionWarnings(u, tc.insecure, tc.mode)
		if len(got) != len(tc.want) {
			t.Errorf("%s insecure=%v %s: warnings %q, want %d", tc.addr, tc.insecure, tc.mode, got, len(tc.want))
			continue
		}
		for n, w := range tc.want {
			if !strings.Contains(got[n], w) {
				t.Errorf("%s: warning %q, want %q", tc.addr, got[n], w)
			}
		}
	}
}

// TestRoleHints maps Vault 1.21's refusal messages (from builtin/logical/pki) to the
// role setting the operator has to change.
func TestRoleHints(t *testing.T) {
	role := Role{Mount: "pki_t", Name: "es"}
	cases := map[string]string{
		"unknown role: es": "vault write pki_t/roles/es",
		"common name node-1 not allowed by this role":                                              "cn_validations=disabled",
		"subject alternate name node-1.other.test not allowed by this role":                        "allowed_domains",
		"subject alternate name localhost not allowed by this role":                                "allow_localhost=true",
		"other SAN OID 2.5.4.3 not allowed by this role":                                           "allowed_other_sans",
		"other SAN x not allowed for OID 2.5.4.3 by this role":                                     "allowed_other_sans",
		"IP Subject Alternative Names are not allowed in this role, but was provided some via CSR": "allow_ip_sans=true",
		"role requires keys of type rsa":                                                           "key_type",
		"role requires a minimum of a 384-bit key, but CSR's key is 256 bits":                      "key_bits",
		`role key type "any" not allowed for issuing certificates, only signing`:                   "key_type",
		"cannot satisfy request, as TTL would result in notAfter of 2040-01-01T00:00:00Z that is beyond the expiration of the CA certificate at 2030-01-01T00:00:00Z": "leaf_not_after_behavior",
	}
	for msg, want := range cases {
		if got := roleHint(role, msg); !strings.Contains(got, want) {
			t.Errorf("%q: hint %q, want it to name %q", msg, got, want)
		}
	}
	if got := roleHint(role, "something new"); got != "" {
		t.Errorf("unknown message: hint %q, want none", got)
	}
}

func TestVaultMessage(t *testing.T) {
	re := &api.ResponseError{StatusCode: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}}
	if got := vaultMessage(re); got != "permission denied" {
		t.Errorf("got %q", got)
	}
	re = &api.ResponseError{StatusCode: 403, Errors: []string{"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"}}
	if got := vaultMessage(re); got != "permission denied; invalid token" {
		t.Errorf("got %q", got)
	}
	if got := vaultMessage(&api.ResponseError{StatusCode: 502}); got != "Bad Gateway" {
		t.Errorf("got %q", got)
	}
}

func TestRetryAfter(t *testing.T) {
	resp := func(v string) *api.Response {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		return &api.Response{Response: &http.Response{Header: h}}
	}
	if got := retryAfter(resp("3")); got != 3*time.Second {
		t.Errorf("seconds: %v", got)
	}
	if got := retryAfter(resp(time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat))); got < 8*time.Second || got > 10*time.Second {
		t.Errorf("date: %v", got)
	}
	for _, v := range []string{"", "soon", "-1"} {
		if got := retryAfter(resp(v)); got != 0 {
			t.Errorf("%q: %v", v, got)
		}
	}
	if retryAfter(nil) != 0 {
		t.Error("nil response")
	}
}

func TestBackoff(t *testing.T) {
	for n := range 20 {
		d := backoff(n)
		want := min(retryBase<<min(n, 10), retryCap)
		if d < want/2 || d >= want {
			t.Errorf("backoff(%d) = %v, want in [%v, %v)", n, d, want/2, want)
		}
	}
}

func TestCompleteChain(t *testing.T) {
	root := testCert(t, "root", true)
	inter := testCert(t, "intermediate", true)
	leaf := testCert(t, "leaf", false)
	names := func(chain []*x509.Certificate) string {
		var s []string
		for _, c := range chain {
			s = append(s, c.Subject.CommonName)
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		chain, trust []*x509.Certificate
		want         string
	}{
		{[]*x509.Certificate{leaf, inter, root}, []*x509.Certificate{inter, root}, "leaf,intermediate,root"},
		{[]*x509.Certificate{leaf, inter}, []*x509.Certificate{inter, root}, "leaf,intermediate,root"},
		{[]*x509.Certificate{leaf}, []*x509.Certificate{inter, root}, "leaf,intermediate,root"},
		{[]*x509.Certificate{leaf, inter, root}, []*x509.Certificate{inter}, "leaf,intermediate"},
		{[]*x509.Certificate{leaf, root}, []*x509.Certificate{root}, "leaf,root"},
	}
	for _, tc := range cases {
		if got := names(completeChain(tc.chain, tc.trust)); got != tc.want {
			t.Errorf("completeChain(%s, %s) = %s, want %s", names(tc.chain), names(tc.trust), got, tc.want)
		}
	}
}

// testCert is a throwaway self-signed certificate; only its identity matters here.
func testCert(t *testing.T, cn string, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestDroppedConnectionsAreTransientAndUnreachable: errors of a connection that Vault
// closed or reset mid-request (a Vault stopping) are retried, and end as "Vault
// unreachable", never as an unclassified failure. net/http's "server closed idle
// connection" is what a PUT meets when Vault closes a kept-alive connection.
func TestDroppedConnectionsAreTransientAndUnreachable(t *testing.T) {
	i := &Issuer{addr: "http://127.0.0.1:8200"}
	r := request{method: http.MethodPut, what: "sign the certificate of node1"}
	for _, err := range []error{
		&url.Error{Op: "Put", URL: "http://127.0.0.1:8200/v1/pki/sign/es-node", Err: errors.New("http: server closed idle connection")},
		&url.Error{Op: "Put", URL: "http://127.0.0.1:8200/v1/pki/sign/es-node", Err: syscall.ECONNRESET},
	} {
		o := i.classifyTransport(r, err)
		if !o.transient || !errors.Is(o.err, ErrUnreachable) || !strings.Contains(o.err.Error(), "dropped the connection") {
			t.Errorf("%v: transient %v, err %v; want a transient ErrUnreachable", err, o.transient, o.err)
		}
	}
}
