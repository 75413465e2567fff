// Package vault issues escert's certificates from HashiCorp Vault's PKI secrets engine:
// one PKI role per Elasticsearch layer (transport and HTTP, ideally in separate mounts
// so that the layers have separate CAs).
//
// Two modes. In sign mode (the default) the key is the caller's, made in this process,
// and Vault signs a CSR for it at <mount>/sign/<role>, so the private key never leaves
// the machine. In issue mode Vault makes the key at <mount>/issue/<role> and returns it.
//
// The Issuer checks every answer: the extended key usages the layer needs, every SAN
// that was asked for (Vault silently drops some, depending on the role), the lifetime
// (Vault silently caps it at the role's max_ttl) and the chain up to the CA that Trust
// returns. A shortfall is an error that names the role setting to change.
//
// Failures are classified with errors.Is (ErrSealed, ErrPermissionDenied, ErrLogin,
// ErrRoleRefused, ErrUnreachable and ErrTLS), each of a fault kind for the CLI's exit
// code. Transient failures (5xx other than 501, 429, dropped connections) are retried
// with exponential backoff and jitter, honouring Retry-After; a cancelled context
// stops a request and a backoff at once. Tokens, secret IDs and private keys never
// appear in errors.
package vault

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// The modes: where the private key is made.
const (
	// ModeSign has Vault sign a CSR of the caller's key (<mount>/sign/<role>).
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
	// Key is the key to expect from Vault in issue mode, where it is also sent as
	// key_type/key_bits; the zero value is fips.DefaultKey. Sign mode signs the
	// caller's key, whatever its type.
	Key fips.KeySpec
	// Rand is the randomness for CSR signatures; nil is crypto/rand.
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
	// observe, when set, sees every attempt of a request as it ends: tests count the
	// attempts (and may cancel the context) through it.
	observe func(r request, attempt int, o outcome)
}

var _ issuer.Issuer = (*Issuer)(nil)

// New connects to Vault, logs in and reads the CA chain of each layer's mount. The
// warnings are for the operator (shared CA, no TLS verification, plain HTTP).
func New(ctx context.Context, cfg Config) (*Issuer, []string, error) {
	var warnings []string
	u, err := parseAddr(cfg.Addr)
	if err != nil {
		return nil, nil, err
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
