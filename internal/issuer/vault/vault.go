// Package vault issues escert's certificates from HashiCorp Vault's PKI secrets engine:
// one PKI role per Elasticsearch layer (transport and HTTP, ideally in separate mounts
// so that the layers have separate CAs).
//
// Two modes. In sign mode (the default) the key is made in this process and Vault signs
// a CSR at <mount>/sign/<role>, so the private key never leaves the machine. In issue
// mode Vault makes the key at <mount>/issue/<role> and returns it.
//
// The Issuer checks every answer: the extended key usages the layer needs, every SAN
// that was asked for (Vault silently drops some, depending on the role), the lifetime
// (Vault silently caps it at the role's max_ttl) and the chain up to the CA that Trust
// returns. A shortfall is an error that names the role setting to change.
//
// Failures are classified for the CLI with errors.Is: ErrSealed, ErrPermissionDenied,
// ErrLogin, ErrRoleRefused, ErrUnreachable and ErrTLS. Transient failures (5xx other
// than 501, 429, dropped connections) are retried with exponential backoff and
// jitter, honouring Retry-After. Tokens, secret IDs and private keys never appear in
// errors.
package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// The modes: where the private key is made.
const (
	// ModeSign makes the key locally and has Vault sign a CSR (<mount>/sign/<role>).
	ModeSign = "sign"
	// ModeIssue has Vault make the key and return it (<mount>/issue/<role>).
	ModeIssue = "issue"
)

// Defaults for the zero values of Config.
const (
	// DefaultTimeout bounds one request to Vault. Signing takes milliseconds; an RSA
	// key made by Vault in issue mode can take a few seconds.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries is the number of retries of a transient failure, so a request
	// is tried four times over about two seconds of backoff.
	DefaultMaxRetries = 3
	// DefaultConcurrency bounds the requests in flight: bundles issue nodes in
	// parallel, and a large cluster should not hit Vault with hundreds at once.
	DefaultConcurrency = 8
)

// Backoff between retries: exponential from retryBase, capped at retryCap, with
// jitter; a server's Retry-After is honoured up to maxRetryAfter.
const (
	retryBase     = 250 * time.Millisecond
	retryCap      = 8 * time.Second
	maxRetryAfter = time.Minute
)

// Config configures an Issuer. Secrets come from files or the environment, never from
// flags: Auth holds a token the CLI read from VAULT_TOKEN, or paths of files.
type Config struct {
	// Addr is Vault's URL (VAULT_ADDR), e.g. https://vault.example.com:8200.
	Addr string
	// Namespace is the Vault Enterprise namespace (VAULT_NAMESPACE), "" for none.
	Namespace string
	// CACert is a PEM file with the CA that signed Vault's TLS certificate (VAULT_CACERT).
	CACert string
	// Insecure turns off verification of Vault's TLS certificate. The CLI sets it only
	// when VAULT_SKIP_VERIFY is set and --insecure is given.
	Insecure bool
	// Auth says how to log in.
	Auth Auth
	// Layers maps each layer to the PKI role that issues its certificates. Separate
	// mounts give the layers separate CAs; sharing one draws a warning from New.
	Layers map[spec.Layer]Role
	// Mode is ModeSign (the default) or ModeIssue.
	Mode string
	// Policy is the crypto policy every key passes.
	Policy fips.Policy
	// Key is the key to make (sign mode) or to expect from Vault (issue mode, where it
	// is also sent as key_type/key_bits); the zero value is fips.DefaultKey.
	Key fips.KeySpec
	// Rand is the randomness for keys and CSR signatures; nil is crypto/rand.
	Rand io.Reader
	// Timeout bounds each request; 0 is DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is the number of retries of a transient failure; 0 is
	// DefaultMaxRetries, a negative value turns retries off.
	MaxRetries int
	// Concurrency bounds the certificate requests in flight; 0 is DefaultConcurrency.
	Concurrency int
	// Now is the clock for lifetimes that end at a fixed time and for token renewal;
	// nil is time.Now.
	Now func() time.Time
}

// Role is a PKI role: the secrets engine's mount path and the role's name.
type Role struct {
	Mount string // e.g. "pki_transport" or "pki/es/transport"
	Name  string
}

func (r Role) String() string { return r.Mount + "/roles/" + r.Name }

// Auth says how the Issuer logs in. Exactly one of Token, TokenFile, AppRoleID (with
// AppRoleSecretIDFile) and AgentSinkFile must be set.
type Auth struct {
	// Token is a token the CLI read from VAULT_TOKEN.
	Token string
	// TokenFile is a file holding a token. It is read again whenever it changes.
	TokenFile string
	// AppRoleID and AppRoleSecretIDFile log in with AppRole (auth/<AppRoleMount>/login).
	AppRoleID, AppRoleSecretIDFile string
	// AppRoleMount is where AppRole is enabled; "" is "approle".
	AppRoleMount string
	// AgentSinkFile is a Vault Agent file sink: a file the agent keeps a fresh token
	// in (without wrap_ttl or encryption). It is read again whenever it changes.
	AgentSinkFile string
}

// Issuer issues certificates from Vault. It is safe for concurrent use.
type Issuer struct {
	client    *api.Client
	addr      string
	namespace string
	mode      string
	layers    map[spec.Layer]Role
	trust     map[spec.Layer][]*x509.Certificate
	policy    fips.Policy
	key       fips.KeySpec
	rand      io.Reader
	timeout   time.Duration
	retries   int
	sem       chan struct{}
	token     *tokenState
	now       func() time.Time
}

var (
	_ issuer.Issuer    = (*Issuer)(nil)
	_ issuer.KeySigner = (*Issuer)(nil)
	_ issuer.KeyIssuer = (*Issuer)(nil)
)

// New connects to Vault, logs in and reads the CA chain of each layer's mount. The
// warnings are for the operator (shared CA, no TLS verification, plain HTTP).
func New(ctx context.Context, cfg Config) (*Issuer, []string, error) {
	var warnings []string
	u, err := url.Parse(cfg.Addr)
	if cfg.Addr == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("Vault address %q: give an http:// or https:// URL (VAULT_ADDR)", cfg.Addr)
	}
	addr := strings.TrimRight(cfg.Addr, "/")
	mode := cfg.Mode
	if mode == "" {
		mode = ModeSign
	}
	if mode != ModeSign && mode != ModeIssue {
		return nil, nil, fmt.Errorf("Vault mode %q: use %q (Vault signs a CSR, the key stays here) or %q (Vault makes the key)", cfg.Mode, ModeSign, ModeIssue)
	}
	key := cfg.Key
	if key.Type == "" {
		key = fips.DefaultKey
	}
	if err := cfg.Policy.CheckKey(key); err != nil {
		return nil, nil, err
	}
	layers, layerWarnings, err := checkLayers(cfg.Layers)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, layerWarnings...)
	warnings = append(warnings, connectionWarnings(u, cfg.Insecure, mode)...)

	i := &Issuer{
		addr: addr, namespace: cfg.Namespace, mode: mode, layers: layers,
		trust:  map[spec.Layer][]*x509.Certificate{},
		policy: cfg.Policy, key: key, rand: cfg.Rand,
		timeout: cfg.Timeout, retries: cfg.MaxRetries,
		now: cfg.Now,
	}
	if i.now == nil {
		i.now = time.Now
	}
	if i.rand == nil {
		i.rand = rand.Reader
	}
	if i.timeout <= 0 {
		i.timeout = DefaultTimeout
	}
	switch {
	case i.retries == 0:
		i.retries = DefaultMaxRetries
	case i.retries < 0:
		i.retries = 0
	}
	concurrency := cfg.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	i.sem = make(chan struct{}, concurrency)

	i.client, err = newClient(addr, cfg, concurrency)
	if err != nil {
		return nil, nil, err
	}
	i.token, err = newTokenState(cfg.Auth)
	if err != nil {
		return nil, nil, err
	}
	if err := i.login(ctx); err != nil {
		return nil, nil, err
	}
	if err := i.readTrust(ctx); err != nil {
		return nil, nil, err
	}
	return i, warnings, nil
}

// checkLayers validates the roles and warns when both layers share a CA.
func checkLayers(in map[spec.Layer]Role) (map[spec.Layer]Role, []string, error) {
	if len(in) == 0 {
		return nil, nil, errors.New("no Vault PKI role given: name one for the transport layer and one for the HTTP layer")
	}
	out := map[spec.Layer]Role{}
	for layer, r := range in {
		if layer != spec.Transport && layer != spec.HTTP {
			return nil, nil, fmt.Errorf("unknown layer %q for a Vault role: use %s or %s", layer, spec.Transport, spec.HTTP)
		}
		r.Mount = strings.Trim(r.Mount, "/")
		if r.Mount == "" || r.Name == "" || strings.Contains(r.Name, "/") {
			return nil, nil, fmt.Errorf("Vault role for the %s layer: give a mount path and a role name (got mount %q, role %q)", layer, r.Mount, r.Name)
		}
		out[layer] = r
	}
	var warnings []string
	t, okT := out[spec.Transport]
	h, okH := out[spec.HTTP]
	switch {
	case okT && okH && t == h:
		warnings = append(warnings, fmt.Sprintf("the transport and HTTP layers use the same Vault role %s: one CA signs both, so a certificate issued for HTTP clients can also open the transport layer unless its trust restrictions stop it; use a separate PKI mount per layer", t))
	case okT && okH && t.Mount == h.Mount:
		warnings = append(warnings, fmt.Sprintf("the transport and HTTP layers share the Vault mount %s and so its CA: a certificate issued for HTTP clients can also open the transport layer unless its trust restrictions stop it; use a separate PKI mount per layer", t.Mount))
	}
	return out, warnings, nil
}

// connectionWarnings says what an eavesdropper could learn on the way to Vault.
func connectionWarnings(u *url.URL, insecure bool, mode string) []string {
	var warnings []string
	addr := strings.TrimRight(u.String(), "/")
	if insecure {
		warnings = append(warnings, fmt.Sprintf("TLS verification of Vault at %s is off (--insecure): anyone on the path can read the token and forge certificates", addr))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		what := "the Vault token crosses"
		if mode == ModeIssue {
			what = "the Vault token and every private key cross"
		}
		warnings = append(warnings, fmt.Sprintf("Vault at %s is reached over plain HTTP: %s the network unencrypted", addr, what))
	}
	return warnings
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient builds the API client from cfg alone. The api package reads VAULT_TOKEN
// and VAULT_NAMESPACE by itself; both are overridden here, and VAULT_SKIP_VERIFY has
// no effect (TLS is configured from cfg only).
func newClient(addr string, cfg Config, concurrency int) (*api.Client, error) {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	apiCfg := &api.Config{
		Address: addr,
		HttpClient: &http.Client{
			Transport: transport,
			// The api package follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// Retries and timeouts are this package's (see call): the api package's own
		// retry policy would also retry a sealed Vault.
		MaxRetries: 0,
	}
	if err := apiCfg.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert, Insecure: cfg.Insecure}); err != nil {
		return nil, fmt.Errorf("Vault CA certificate %s (VAULT_CACERT): %w", cfg.CACert, err)
	}
	client, err := api.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("Vault client for %s: %w", addr, err)
	}
	client.ClearToken()
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	} else {
		client.ClearNamespace()
	}
	return client, nil
}

// readTrust reads the CA chain of every mount the layers use: the issuing CA first,
// then its parents up to the root, as far as the mount holds them.
func (i *Issuer) readTrust(ctx context.Context) error {
	byMount := map[string][]*x509.Certificate{}
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		r, ok := i.layers[layer]
		if !ok {
			continue
		}
		if certs, ok := byMount[r.Mount]; ok {
			i.trust[layer] = certs
			continue
		}
		certs, err := i.readCAChain(ctx, r.Mount)
		if err != nil {
			return err
		}
		byMount[r.Mount] = certs
		i.trust[layer] = certs
	}
	return nil
}

func (i *Issuer) readCAChain(ctx context.Context, mount string) ([]*x509.Certificate, error) {
	r := request{method: http.MethodGet, path: mount + "/cert/ca_chain", mount: mount, what: fmt.Sprintf("read the CA chain of mount %s", mount)}
	secret, err := i.call(ctx, i.client, r, nil)
	if err != nil {
		return nil, err
	}
	var pemChain string
	if secret != nil {
		pemChain, _ = secret.Data["certificate"].(string)
		if pemChain == "" {
			pemChain, _ = secret.Data["ca_chain"].(string)
		}
	}
	if strings.TrimSpace(pemChain) == "" {
		return nil, fmt.Errorf("%s: it holds no CA: generate or import one (vault write %s/root/generate/internal ... or %s/intermediate/set-signed ...)", r.what, mount, mount)
	}
	certs, err := ca.ParseCertificates([]byte(pemChain))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, err)
	}
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("%s: %q is not a CA certificate", r.what, c.Subject.CommonName)
		}
		if i.policy.FIPS {
			if err := i.policy.CheckPublicKey(c.PublicKey); err != nil {
				return nil, fmt.Errorf("%s: CA %q: %w", r.what, c.Subject.CommonName, err)
			}
		}
	}
	return certs, nil
}

// Trust returns the CA chain of the layer's mount: the issuing CA first, the root
// (when the mount holds it) last. Keystores and client bundles trust all of them.
func (i *Issuer) Trust(layer spec.Layer) []*x509.Certificate {
	return slices.Clone(i.trust[layer])
}

// Mode returns ModeSign or ModeIssue.
func (i *Issuer) Mode() string { return i.mode }

// MakesKeys reports whether Vault makes the keys (issue mode). In sign mode IssueKey
// makes the key here from Config.Key; a caller with its own key spec (renewal keeps
// the old key's type) should call IssueWithKey instead.
func (i *Issuer) MakesKeys() bool { return i.mode == ModeIssue }

// Issue cannot work with a public key alone: Vault's sign endpoint takes a CSR, which
// only the private key can sign. It returns ErrNeedsKey; callers use IssueWithKey or
// IssueKey (issuer.Obtain does).
func (i *Issuer) Issue(context.Context, spec.Certificate, crypto.PublicKey) ([]*x509.Certificate, error) {
	return nil, newError(ErrNeedsKey, nil, "the Vault issuer signs a CSR, which needs the private key: call IssueWithKey or IssueKey (issuer.Obtain does)")
}

// IssueWithKey has Vault sign a CSR for key at the layer's <mount>/sign/<role>,
// whatever the mode: the key is the caller's and stays here. It returns the chain,
// leaf first, ending with the last certificate of Trust(c.Layer).
func (i *Issuer) IssueWithKey(ctx context.Context, c spec.Certificate, key crypto.Signer) ([]*x509.Certificate, error) {
	role, err := i.role(c.Layer)
	if err != nil {
		return nil, err
	}
	if err := i.policy.CheckPublicKey(key.Public()); err != nil {
		return nil, err
	}
	sigAlg, err := i.policy.SignatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(i.rand, &x509.CertificateRequest{
		Subject: c.Subject, RawSubject: c.RawSubject,
		DNSNames: c.DNSNames, IPAddresses: c.IPs,
		SignatureAlgorithm: sigAlg,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("CSR for %q: %w", c.Instance, err)
	}
	body, ttl, err := i.requestBody(c)
	if err != nil {
		return nil, err
	}
	body["csr"] = string(pemEncode("CERTIFICATE REQUEST", csrDER))
	r := request{method: http.MethodPut, path: role.Mount + "/sign/" + role.Name, mount: role.Mount, role: &role,
		what: fmt.Sprintf("sign the %s certificate of %q", c.Layer, c.Instance)}
	secret, err := i.certRequest(ctx, r, body)
	if err != nil {
		return nil, err
	}
	chain, err := parseChain(secret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, err)
	}
	if err := ca.KeyMatches(chain[0], key); err != nil {
		return nil, fmt.Errorf("%s: Vault returned a certificate for another key", r.what)
	}
	if err := i.check(c, role, chain, ttl); err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, err)
	}
	return completeChain(chain, i.trust[c.Layer]), nil
}

// IssueKey returns a new key and its chain. In sign mode the key is made here (Key,
// under Policy) and Vault signs its CSR; in issue mode Vault makes it at
// <mount>/issue/<role>, and a key other than Key (the role's key_type/key_bits decide
// in Vault) is an error.
func (i *Issuer) IssueKey(ctx context.Context, c spec.Certificate) ([]*x509.Certificate, crypto.Signer, error) {
	if i.mode == ModeSign {
		key, err := ca.GenerateKey(i.rand, i.policy, i.key)
		if err != nil {
			return nil, nil, err
		}
		chain, err := i.IssueWithKey(ctx, c, key)
		if err != nil {
			return nil, nil, err
		}
		return chain, key, nil
	}
	role, err := i.role(c.Layer)
	if err != nil {
		return nil, nil, err
	}
	body, ttl, err := i.requestBody(c)
	if err != nil {
		return nil, nil, err
	}
	// Vault 1.x takes the key type from the role and ignores these (OpenBao honours
	// them when the role's key_type is "any").
	body["key_type"], body["key_bits"] = vaultKeyType(i.key)
	body["private_key_format"] = "pkcs8"
	r := request{method: http.MethodPut, path: role.Mount + "/issue/" + role.Name, mount: role.Mount, role: &role,
		what: fmt.Sprintf("issue the %s certificate of %q", c.Layer, c.Instance)}
	secret, err := i.certRequest(ctx, r, body)
	if err != nil {
		return nil, nil, err
	}
	chain, err := parseChain(secret)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.what, err)
	}
	keyPEM, _ := secret.Data["private_key"].(string)
	key, err := ca.ParseKeyPEM([]byte(keyPEM), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: Vault's private key: %w", r.what, err)
	}
	if err := ca.KeyMatches(chain[0], key); err != nil {
		return nil, nil, fmt.Errorf("%s: Vault's private key does not match its certificate", r.what)
	}
	got, err := fips.SpecOf(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.what, err)
	}
	if err := i.policy.CheckKey(got); err != nil {
		return nil, nil, newError(ErrRoleRefused, err, "%s: Vault made an %s key, which the crypto policy refuses (%v): set key_type and key_bits on role %q at mount %q", r.what, got, err, role.Name, role.Mount)
	}
	if got != i.key {
		kt, kb := vaultKeyType(i.key)
		return nil, nil, newError(ErrRoleRefused, nil, "%s: Vault made an %s key, not the %s escert was asked for: set key_type=%s key_bits=%d on role %q at mount %q, or ask escert for %s keys", r.what, got, i.key, kt, kb, role.Name, role.Mount, got)
	}
	if err := i.check(c, role, chain, ttl); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.what, err)
	}
	return completeChain(chain, i.trust[c.Layer]), key, nil
}

func (i *Issuer) role(layer spec.Layer) (Role, error) {
	r, ok := i.layers[layer]
	if !ok {
		return Role{}, fmt.Errorf("no Vault PKI role for the %s layer", layer)
	}
	return r, nil
}

// vaultKeyType is a key spec as Vault's key_type and key_bits.
func vaultKeyType(k fips.KeySpec) (string, int) {
	if k.Type == fips.RSA {
		return "rsa", k.Bits
	}
	if k.Curve == "P-384" {
		return "ec", 384
	}
	return "ec", 256
}

// otherSANPrefix makes an other_sans entry: Elasticsearch's node names are otherName
// SANs with type-id 2.5.4.3 (id-at-commonName) and a UTF8String value.
const otherSANPrefix = "2.5.4.3;UTF8:"

// requestBody holds the names and lifetime both endpoints take, and returns the
// lifetime asked for (0 leaves it to the role).
func (i *Issuer) requestBody(c spec.Certificate) (map[string]any, time.Duration, error) {
	body := map[string]any{
		"common_name": c.Subject.CommonName,
		// escert's certificates carry exactly the SANs of the spec; Vault would add
		// the CN as a DNS name otherwise.
		"exclude_cn_from_sans": true,
		"format":               "pem",
	}
	if c.Subject.CommonName == "" && len(c.RawSubject) > 0 {
		return nil, 0, fmt.Errorf("certificate of %q: Vault needs a common name", c.Instance)
	}
	if len(c.DNSNames) > 0 {
		body["alt_names"] = strings.Join(c.DNSNames, ",")
	}
	if len(c.IPs) > 0 {
		ips := make([]string, len(c.IPs))
		for n, ip := range c.IPs {
			ips[n] = ip.String()
		}
		body["ip_sans"] = ips
	}
	if len(c.OtherNames) > 0 {
		others := make([]string, len(c.OtherNames))
		for n, o := range c.OtherNames {
			others[n] = otherSANPrefix + o
		}
		body["other_sans"] = others
	}
	var ttl time.Duration
	switch {
	case !c.Until.IsZero():
		ttl = c.Until.Sub(i.now()).Truncate(time.Second)
		if ttl <= 0 {
			return nil, 0, fmt.Errorf("certificate of %q would end %s, in the past", c.Instance, c.Until.UTC().Format(time.RFC3339))
		}
		body["ttl"] = fmt.Sprintf("%ds", int64(ttl/time.Second))
	case c.Days > 0:
		ttl = time.Duration(c.Days) * 24 * time.Hour
		body["ttl"] = fmt.Sprintf("%dh", c.Days*24)
	}
	return body, ttl, nil
}

// certRequest sends a sign or issue request, at most Concurrency at a time.
func (i *Issuer) certRequest(ctx context.Context, r request, body map[string]any) (*api.Secret, error) {
	select {
	case i.sem <- struct{}{}:
		defer func() { <-i.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", r.what, ctx.Err())
	}
	if err := i.freshToken(ctx); err != nil {
		return nil, err
	}
	secret, err := i.call(ctx, i.client, r, body)
	if err != nil {
		return nil, err
	}
	if secret == nil || secret.Data == nil {
		return nil, fmt.Errorf("%s: Vault answered without a certificate", r.what)
	}
	return secret, nil
}

// parseChain reads certificate, ca_chain and issuing_ca of a sign or issue answer into
// the chain leaf first.
func parseChain(secret *api.Secret) ([]*x509.Certificate, error) {
	leafPEM, _ := secret.Data["certificate"].(string)
	if leafPEM == "" {
		return nil, errors.New("Vault answered without a certificate")
	}
	certs, err := ca.ParseCertificates([]byte(leafPEM))
	if err != nil {
		return nil, fmt.Errorf("Vault's certificate: %w", err)
	}
	chain := certs
	var caPEMs []string
	switch v := secret.Data["ca_chain"].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				caPEMs = append(caPEMs, s)
			}
		}
	case string:
		caPEMs = append(caPEMs, v)
	}
	if len(caPEMs) == 0 {
		if s, ok := secret.Data["issuing_ca"].(string); ok && s != "" {
			caPEMs = append(caPEMs, s)
		}
	}
	for _, p := range caPEMs {
		cas, err := ca.ParseCertificates([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("Vault's CA chain: %w", err)
		}
		for _, c := range cas {
			if !slices.ContainsFunc(chain, c.Equal) {
				chain = append(chain, c)
			}
		}
	}
	return chain, nil
}

// call sends one request, retrying transient failures with exponential backoff and
// jitter (honouring Retry-After), each attempt bounded by the timeout. A 404 with no
// data is a nil secret.
func (i *Issuer) call(ctx context.Context, client *api.Client, r request, body map[string]any) (*api.Secret, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s: %w", r.what, err)
		}
	}
	for attempt := 0; ; attempt++ {
		secret, o := i.attempt(ctx, client, r, data)
		if o.err == nil {
			return secret, nil
		}
		if !o.transient || attempt >= i.retries {
			if o.transient && attempt > 0 {
				return nil, fmt.Errorf("%w (%d attempts)", o.err, attempt+1)
			}
			return nil, o.err
		}
		wait := backoff(attempt)
		if o.retryAfter > wait {
			wait = min(o.retryAfter, maxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", o.err, ctx.Err())
		}
	}
}

func (i *Issuer) attempt(ctx context.Context, client *api.Client, r request, data []byte) (*api.Secret, outcome) {
	actx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	var (
		resp *api.Response
		err  error
	)
	if r.method == http.MethodGet {
		resp, err = client.Logical().ReadRawWithContext(actx, r.path)
	} else {
		resp, err = client.Logical().WriteRawWithContext(actx, r.path, data)
	}
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, i.classify(ctx, r, resp, err)
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil {
		return nil, i.classify(ctx, r, nil, err)
	}
	return secret, outcome{}
}

// backoff is the wait before retry n (from 0): exponential, capped, with jitter in
// [d/2, d) so that parallel requests do not retry in step.
func backoff(n int) time.Duration {
	d := retryBase << min(n, 10)
	d = min(d, retryCap)
	return d/2 + mrand.N(d/2)
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
