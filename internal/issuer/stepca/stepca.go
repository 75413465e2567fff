// Package stepca issues certificates from a smallstep step-ca server: first issuance
// with a JWK provisioner's one-time token (the key is made here and only a CSR leaves
// the node), renewal over mutual TLS with the node's current certificate (no
// provisioner secret on the node). It speaks step-ca's HTTP API with go.step.sm/crypto
// rather than linking the CA's own client, which would pull ~170 modules into escert.
package stepca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// tokenLifetime bounds a one-time token: long enough for a slow request, short
// enough that a leaked token is useless soon. step-ca refuses reuse (jti) anyway.
const tokenLifetime = 5 * time.Minute

// NodeNameClaim is the token claim that carries a transport certificate's node names,
// which escert's provisioner template turns into the otherName SANs (OID 2.5.4.3)
// Elasticsearch's trust restrictions match. step-ca's token "sans" claim can only
// express DNS names, IPs, e-mail addresses and URIs.
const NodeNameClaim = "escert_node_names"

// NodeTemplate is the provisioner template escert's certificates need: step-ca's
// default leaf template plus the node names of NodeNameClaim as otherName SANs.
const NodeTemplate = `{{- $sans := .SANs }}
{{- range .Token.` + NodeNameClaim + ` }}{{ $sans = append $sans (dict "type" "2.5.4.3" "value" (printf "utf8:%s" .)) }}{{ end }}
{
	"subject": {{ toJson .Subject }},
	"sans": {{ toJson $sans }},
{{- if typeIs "*rsa.PublicKey" .Insecure.CR.PublicKey }}
	"keyUsage": ["keyEncipherment", "digitalSignature"],
{{- else }}
	"keyUsage": ["digitalSignature"],
{{- end }}
	"extKeyUsage": ["serverAuth", "clientAuth"]
}
`

// Config says how to reach and trust the CA and which provisioner to use.
type Config struct {
	URL string
	// RootFile and/or Fingerprint (hex SHA-256 of the root's DER) pin the CA's root.
	// With only a fingerprint the root is fetched and checked against it, as
	// `step ca bootstrap` does.
	RootFile, Fingerprint string
	// Provisioner and Password: a JWK provisioner, for first issuance. Without them
	// the issuer only renews.
	Provisioner string
	Password    []byte
	// Lifetime of new certificates; zero takes the provisioner's default. Renewal
	// keeps the certificate's own lifetime (step-ca decides).
	Lifetime time.Duration
	Policy   fips.Policy
	Timeout  time.Duration
}

// Issuer is a connection to one step-ca.
type Issuer struct {
	base        string
	client      *http.Client
	tlsConfig   *tls.Config
	root        *x509.Certificate
	fingerprint string
	trust       []*x509.Certificate // intermediates, then the root
	provisioner string
	key         *jose.JSONWebKey // the provisioner's private key; nil: renew only
	lifetime    time.Duration
	policy      fips.Policy
}

// New connects to the CA: it pins the root, lists the provisioners and decrypts the
// JWK provisioner's key with the password.
func New(ctx context.Context, cfg Config) (*Issuer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fault.New(fault.Input, "--ca-url %q: give step-ca's address as https://host:port", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	i := &Issuer{base: strings.TrimRight(cfg.URL, "/"), provisioner: cfg.Provisioner, lifetime: cfg.Lifetime, policy: cfg.Policy}
	if i.root, err = i.pinRoot(ctx, cfg); err != nil {
		return nil, err
	}
	i.fingerprint = ca.Fingerprint(i.root)
	pool := x509.NewCertPool()
	pool.AddCert(i.root)
	i.tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	i.client = &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{TLSClientConfig: i.tlsConfig, Proxy: http.ProxyFromEnvironment}}

	var inter struct {
		Certs []string `json:"crts"`
	}
	if err := i.get(ctx, i.client, "/intermediates", "read the CA's intermediates", &inter); err != nil {
		return nil, err
	}
	for _, p := range inter.Certs {
		c, err := parseOne(p)
		if err != nil {
			return nil, fmt.Errorf("step-ca's intermediates: %w", err)
		}
		i.trust = append(i.trust, c)
	}
	i.trust = append(i.trust, i.root)
	if cfg.Provisioner != "" {
		if i.key, err = i.provisionerKey(ctx, cfg.Password); err != nil {
			return nil, err
		}
	}
	return i, nil
}

// pinRoot returns the root the CA must chain to.
func (i *Issuer) pinRoot(ctx context.Context, cfg Config) (*x509.Certificate, error) {
	want := strings.ToLower(strings.ReplaceAll(cfg.Fingerprint, ":", ""))
	if cfg.RootFile != "" {
		data, err := infile.Read(cfg.RootFile, infile.PEM)
		if err != nil {
			return nil, fmt.Errorf("--root: %w", err)
		}
		certs, err := ca.ParseCertificates(data)
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("--root %s: want one PEM certificate, step-ca's root_ca.crt", cfg.RootFile)
		}
		if want != "" && ca.Fingerprint(certs[0]) != want {
			return nil, newError(ErrFingerprint, nil, "--root %s has fingerprint %s, not %s (--fingerprint): one of them is not this CA's root", cfg.RootFile, ca.Fingerprint(certs[0]), want)
		}
		return certs[0], nil
	}
	if _, err := hex.DecodeString(want); err != nil || len(want) != 64 {
		return nil, fault.New(fault.Input, "--fingerprint %q: want the root's SHA-256 as 64 hex digits (step certificate fingerprint root_ca.crt)", cfg.Fingerprint)
	}
	// The root is fetched over an unverified connection and trusted only if it has the
	// fingerprint the operator gave: the fingerprint is the trust anchor.
	insecure := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}}
	var answer struct {
		CA string `json:"ca"`
	}
	err := i.get(ctx, insecure, "/root/"+want, "fetch the root", &answer)
	if errors.Is(err, ErrRefused) {
		return nil, newError(ErrFingerprint, err, "step-ca at %s has no root with fingerprint %s: check --fingerprint (step certificate fingerprint root_ca.crt)", i.base, want)
	}
	if err != nil {
		return nil, err
	}
	root, err := parseOne(answer.CA)
	if err != nil || ca.Fingerprint(root) != want {
		return nil, newError(ErrFingerprint, err, "step-ca at %s sent a root that does not have fingerprint %s", i.base, want)
	}
	return root, nil
}

// provisioner is the part of step-ca's provisioner list escert reads.
type provisioner struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	EncryptedKey string `json:"encryptedKey"`
}

// provisionerKey finds the JWK provisioner and decrypts its private key.
func (i *Issuer) provisionerKey(ctx context.Context, password []byte) (*jose.JSONWebKey, error) {
	var names []string
	cursor := ""
	for {
		var page struct {
			Provisioners []provisioner `json:"provisioners"`
			NextCursor   string        `json:"nextCursor"`
		}
		if err := i.get(ctx, i.client, "/provisioners?limit=100&cursor="+url.QueryEscape(cursor), "list the provisioners", &page); err != nil {
			return nil, err
		}
		for _, p := range page.Provisioners {
			if p.Name != i.provisioner {
				names = append(names, p.Name)
				continue
			}
			if p.Type != "JWK" {
				return nil, newError(ErrUnknownProvisioner, nil, "provisioner %q is a %s provisioner: escert signs its tokens with a JWK provisioner (step ca provisioner add NAME --type JWK --create)", p.Name, p.Type)
			}
			if p.EncryptedKey == "" {
				return nil, newError(ErrUnknownProvisioner, nil, "provisioner %q does not publish its encrypted key: create it with --create, or add its encryptedKey to ca.json", p.Name)
			}
			if len(password) == 0 {
				return nil, newError(ErrWrongPassword, nil, "provisioner %q: give its password with --provisioner-password-file", p.Name)
			}
			data, err := jose.Decrypt([]byte(p.EncryptedKey), jose.WithPassword(password))
			if m := fips.Current(); err != nil && m.Name == "go-fips140" && m.Enforced {
				// step-ca's JWE uses AES-GCM with the IV in the message, which Go's FIPS
				// module in enforcing mode refuses, whatever the password.
				return nil, newError(ErrWrongPassword, err, "provisioner %q: its key is a JWE that FIPS 140-only mode cannot decrypt (AES-GCM with a given IV): issue the first certificates with the BoringCrypto or a standard escert build; renewal (mutual TLS, no provisioner) works with this one", p.Name)
			}
			if err != nil {
				return nil, newError(ErrWrongPassword, nil, "provisioner %q: the password does not decrypt its key: check --provisioner-password-file", p.Name)
			}
			var key jose.JSONWebKey
			if err := json.Unmarshal(data, &key); err != nil || key.IsPublic() {
				return nil, newError(ErrWrongPassword, nil, "provisioner %q: its encrypted key is not a private JWK", p.Name)
			}
			return &key, nil
		}
		if page.NextCursor == "" || page.NextCursor == cursor {
			break
		}
		cursor = page.NextCursor
	}
	slices.Sort(names)
	return nil, newError(ErrUnknownProvisioner, nil, "step-ca at %s has no provisioner %q (it has: %s)", i.base, i.provisioner, strings.Join(names, ", "))
}

// Trust returns the CA's intermediates and root: nodes trust them all, as with Vault.
// Both layers come from the one CA; the transport trust restrictions keep step-ca's
// other certificates off the transport layer.
func (i *Issuer) Trust(spec.Layer) []*x509.Certificate { return slices.Clone(i.trust) }

// Certify sends a CSR signed with a key from newKey and a one-time token to /1.0/sign:
// the key never leaves this process.
func (i *Issuer) Certify(ctx context.Context, c spec.Certificate, newKey issuer.KeyMaker) (crypto.Signer, []*x509.Certificate, error) {
	if i.key == nil {
		return nil, nil, newError(ErrNoProvisioner, nil, "a certificate issued afresh by step-ca needs a provisioner: --provisioner NAME --provisioner-password-file FILE (renewing one by possession needs neither)")
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	chain, err := i.signCSR(ctx, c, key)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

// signCSR has the CA sign a CSR made with key for c, with a one-time token for its
// names.
func (i *Issuer) signCSR(ctx context.Context, c spec.Certificate, key crypto.Signer) ([]*x509.Certificate, error) {
	subject := pkix.Name{CommonName: c.Subject.CommonName}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: c.DNSNames, IPAddresses: c.IPs}, key)
	if err != nil {
		return nil, fmt.Errorf("make the CSR: %w", err)
	}
	sans := slices.Clone(c.DNSNames)
	for _, ip := range c.IPs {
		sans = append(sans, ip.String())
	}
	ott, err := i.token(subject.CommonName, sans, c.OtherNames)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})), "ott": ott}
	if i.lifetime > 0 {
		body["notAfter"] = i.lifetime.String()
	}
	chain, err := i.sign(ctx, i.client, "/1.0/sign", body, fmt.Sprintf("sign the %s certificate of %s", c.Layer, c.Instance))
	if err != nil {
		return nil, err
	}
	return chain, i.check(c, chain)
}

// token is a JWK provisioner's one-time token for a certificate with these names.
func (i *Issuer) token(subject string, sans, nodeNames []string) (string, error) {
	now := time.Now() // judged by the CA's clock, so never an injected one
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	claims := struct {
		jose.Claims
		SANs      []string `json:"sans"`
		SHA       string   `json:"sha"`
		NodeNames []string `json:"escert_node_names,omitempty"`
	}{
		Claims: jose.Claims{
			Issuer: i.provisioner, Subject: subject, Audience: jose.Audience{i.base + "/1.0/sign"},
			NotBefore: jose.NewNumericDate(now), IssuedAt: jose.NewNumericDate(now),
			Expiry: jose.NewNumericDate(now.Add(tokenLifetime)), ID: hex.EncodeToString(id),
		},
		SANs: sans, SHA: i.fingerprint, NodeNames: nodeNames,
	}
	alg := jose.SignatureAlgorithm(i.key.Algorithm)
	if alg == "" {
		alg = jose.ES256
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: i.key.Key},
		new(jose.SignerOptions).WithType("JWT").WithHeader("kid", i.key.KeyID))
	if err != nil {
		return "", fmt.Errorf("provisioner %q's key cannot sign a token: %w", i.provisioner, err)
	}
	return jose.Signed(signer).Claims(claims).Serialize()
}

// Renew renews chain over mutual TLS with its own key: step-ca's renew keeps the key
// and the lifetime, and needs no provisioner secret, so a node's cron job holds none.
// An expired certificate cannot prove anything: with a provisioner it is issued
// afresh (a new key); without one the error says how to get out.
func (i *Issuer) Renew(ctx context.Context, c spec.Certificate, chain []*x509.Certificate, key crypto.Signer, keySpec fips.KeySpec) (crypto.Signer, []*x509.Certificate, error) {
	leaf := chain[0]
	if now := time.Now(); now.After(leaf.NotAfter) {
		if i.key == nil {
			return nil, nil, newError(ErrExpired, nil, "the %s certificate expired %s, and step-ca renews only certificates that are still valid: issue a new one with the provisioner (add --provisioner NAME --provisioner-password-file FILE), then keep the renewal job running more often than the lifetime (%s)",
				c.Layer, leaf.NotAfter.UTC().Format(time.RFC3339), leaf.NotAfter.Sub(leaf.NotBefore).Round(time.Minute))
		}
		return issuer.Obtain(ctx, i, c, rand.Reader, i.policy, keySpec)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, ch := range chain {
		if !ch.Equal(i.root) {
			cert.Certificate = append(cert.Certificate, ch.Raw)
		}
	}
	mtls := i.tlsConfig.Clone()
	mtls.Certificates = []tls.Certificate{cert}
	client := &http.Client{Timeout: i.client.Timeout, Transport: &http.Transport{TLSClientConfig: mtls, Proxy: http.ProxyFromEnvironment}}
	renewed, err := i.sign(ctx, client, "/1.0/renew", nil, fmt.Sprintf("renew the %s certificate of %s", c.Layer, c.Instance))
	if err != nil {
		return nil, nil, err
	}
	return key, renewed, i.check(c, renewed)
}

// signAnswer is step-ca's answer to sign and renew.
type signAnswer struct {
	Cert      string   `json:"crt"`
	CA        string   `json:"ca"`
	CertChain []string `json:"certChain"`
}

// sign posts body (nil: none) and returns the chain, leaf first, ending with the root.
func (i *Issuer) sign(ctx context.Context, client *http.Client, path string, body any, what string) ([]*x509.Certificate, error) {
	var answer signAnswer
	if err := i.do(ctx, client, http.MethodPost, path, body, what, &answer); err != nil {
		return nil, err
	}
	pems := answer.CertChain
	if len(pems) == 0 {
		pems = []string{answer.Cert, answer.CA}
	}
	var chain []*x509.Certificate
	for _, p := range pems {
		c, err := parseOne(p)
		if err != nil {
			return nil, fmt.Errorf("%s: step-ca's answer: %w", what, err)
		}
		chain = append(chain, c)
	}
	if !chain[len(chain)-1].Equal(i.root) {
		chain = append(chain, i.root)
	}
	return chain, nil
}

func (i *Issuer) get(ctx context.Context, client *http.Client, path, what string, out any) error {
	return i.do(ctx, client, http.MethodGet, path, nil, what, out)
}

func (i *Issuer) do(ctx context.Context, client *http.Client, method, path string, body any, what string, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, i.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return transportError(ctx, i.base, what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp, what, i.provisioner)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: step-ca's answer is not what its API returns: %w", what, err)
	}
	return nil
}

// check holds step-ca's answer to what was asked: a template or policy may drop
// names or usages silently, and Elasticsearch would only say so at the handshake.
func (i *Issuer) check(c spec.Certificate, chain []*x509.Certificate) error {
	leaf := chain[0]
	if err := i.policy.CheckPublicKey(leaf.PublicKey); err != nil {
		return err
	}
	for _, dns := range c.DNSNames {
		if !slices.ContainsFunc(leaf.DNSNames, func(s string) bool { return strings.EqualFold(s, dns) }) {
			return newError(ErrRefused, nil, "step-ca left out the DNS name %q: check provisioner %q's template and policy", dns, i.provisioner)
		}
	}
	for _, ip := range c.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return newError(ErrRefused, nil, "step-ca left out the IP address %s: check provisioner %q's template and policy", ip, i.provisioner)
		}
	}
	others, err := ca.OtherNames(leaf)
	if err != nil {
		return err
	}
	for _, name := range c.OtherNames {
		if !slices.Contains(others, name) {
			return newError(ErrRefused, nil, "step-ca left out the node name %q (otherName 2.5.4.3) that Elasticsearch's transport trust restrictions match: give provisioner %q escert's template (escert step template > escert-node.tpl; then step ca provisioner update %[2]s --x509-template escert-node.tpl)", name, i.provisioner)
		}
	}
	if len(leaf.ExtKeyUsage) > 0 {
		if c.ServerAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) ||
			c.ClientAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			return newError(ErrRefused, nil, "step-ca's %s certificate lacks the serverAuth/clientAuth usage it needs: give provisioner %q escert's template (escert step template)", c.Layer, i.provisioner)
		}
	}
	return nil
}

func parseOne(p string) (*x509.Certificate, error) {
	certs, err := ca.ParseCertificates([]byte(p))
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("want one certificate, got %d", len(certs))
	}
	return certs[0], nil
}

// Fingerprint is the hex SHA-256 of the pinned root, the token's "sha" claim.
func (i *Issuer) Fingerprint() string { return i.fingerprint }
