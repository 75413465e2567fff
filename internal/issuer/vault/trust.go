package vault

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/spec"
)

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

// completeChain ends chain where trust ends: Vault's ca_chain of a sign or issue
// answer may stop at the issuing CA, or go past what the mount holds as its chain.
// The result is the leaf, then the CAs up to the last certificate of trust.
func completeChain(chain, trust []*x509.Certificate) []*x509.Certificate {
	for n, cert := range chain[1:] {
		if k := slices.IndexFunc(trust, cert.Equal); k >= 0 {
			return append(slices.Clone(chain[:n+2]), trust[k+1:]...)
		}
	}
	return append([]*x509.Certificate{chain[0]}, trust...)
}
