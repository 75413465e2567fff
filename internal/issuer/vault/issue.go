package vault

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// Certify has Vault certify a key for c, by the mode. In sign mode the key is the
// caller's (newKey) and Vault signs its CSR at the layer's <mount>/sign/<role>: the key
// stays here. In issue mode Vault makes the key at <mount>/issue/<role>, and a key other
// than Config.Key (the role's key_type/key_bits decide in Vault) is an error. The chain
// is leaf first, ending with the last certificate of Trust(c.Layer).
func (i *Issuer) Certify(ctx context.Context, c spec.Certificate, newKey issuer.KeyMaker) (crypto.Signer, []*x509.Certificate, error) {
	role, err := i.role(c.Layer)
	if err != nil {
		return nil, nil, err
	}
	if i.mode == ModeIssue {
		return i.issue(ctx, c, role)
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	chain, err := i.sign(ctx, c, role, key)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

// sign has Vault sign a CSR made with key at the role's sign endpoint.
func (i *Issuer) sign(ctx context.Context, c spec.Certificate, role Role, key crypto.Signer) ([]*x509.Certificate, error) {
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
	body["csr"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))
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

// issue has Vault make the key and its certificate at the role's issue endpoint.
func (i *Issuer) issue(ctx context.Context, c spec.Certificate, role Role) (crypto.Signer, []*x509.Certificate, error) {
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
	return key, completeChain(chain, i.trust[c.Layer]), nil
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
		return nil, issuer.Stopped(ctx, fmt.Errorf("%s: %w", r.what, ctx.Err()))
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
