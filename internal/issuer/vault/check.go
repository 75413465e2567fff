package vault

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/spec"
)

// lifetimeSlack absorbs the difference between this machine's clock and Vault's when
// a lifetime ends at a fixed time (spec.Certificate.Until).
const lifetimeSlack = 5 * time.Minute

// check holds Vault's answer to what was asked: Vault applies its role silently in
// places (it drops the other SANs a role does not allow when they come from a CSR, it
// caps the lifetime at max_ttl, server_flag/client_flag decide the usages), so every
// certificate is compared with its spec before anyone relies on it.
func (i *Issuer) check(c spec.Certificate, role Role, chain []*x509.Certificate, ttl time.Duration) error {
	leaf := chain[0]
	at := fmt.Sprintf("on role %q at mount %q", role.Name, role.Mount)
	if err := i.policy.CheckPublicKey(leaf.PublicKey); err != nil {
		return err
	}

	short, err := issuer.Compare(c, leaf)
	if err != nil {
		return fmt.Errorf("the certificate's SANs: %w", err)
	}
	if len(short.Usages) > 0 {
		settings := map[string]string{"serverAuth": "server_flag=true", "clientAuth": "client_flag=true"}
		var set []string
		for _, u := range short.Usages {
			set = append(set, settings[u])
		}
		return newError(ErrRoleRefused, nil, "the certificate lacks the %s usage (a %s certificate needs %s): set %s %s",
			strings.Join(short.Usages, " and "), c.Layer, strings.Join(c.UsageNames(), " and "), strings.Join(set, " and "), at)
	}
	if len(short.DNSNames) > 0 {
		dns := short.DNSNames[0]
		hint := "add its domain to allowed_domains (with allow_subdomains=true)"
		if dns == "localhost" {
			hint = "set allow_localhost=true"
		}
		return newError(ErrRoleRefused, nil, "Vault left out the DNS name %q: %s %s, and keep use_csr_sans=true", dns, hint, at)
	}
	if len(short.IPs) > 0 {
		return newError(ErrRoleRefused, nil, "Vault left out the IP address %s: set allow_ip_sans=true %s", short.IPs[0], at)
	}
	if len(short.OtherNames) > 0 {
		return newError(ErrRoleRefused, nil, "Vault left out the otherName %q (the node name Elasticsearch's trust restrictions match): set allowed_other_sans=%q %s", short.OtherNames[0], otherSANPrefix+"*", at)
	}

	// Lifetime: Vault quietly shortens a ttl beyond the role's max_ttl (or the mount's
	// max_lease_ttl). Vault backdates NotBefore, so a full lifetime is never shorter.
	if ttl > 0 && leaf.NotAfter.Sub(leaf.NotBefore) < ttl-lifetimeSlack {
		return newError(ErrRoleRefused, nil, "Vault issued the certificate until %s, short of the %s asked for: raise max_ttl %s and the mount's max_lease_ttl (vault secrets tune -max-lease-ttl=%dh %s), or ask for fewer days",
			leaf.NotAfter.UTC().Format(time.DateOnly), describeTTL(ttl), at, int64((ttl+time.Hour-1)/time.Hour), role.Mount)
	}

	// Chain: the certificate must lead to the CA that peers of the layer trust.
	trust := i.trust[c.Layer]
	if len(trust) == 0 {
		return fmt.Errorf("no CA read for the %s layer", c.Layer)
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	for _, t := range trust {
		roots.AddCert(t)
	}
	for _, cert := range chain[1:] {
		intermediates.AddCert(cert)
	}
	// Vault's clock may run ahead of this one: verify at NotBefore at the earliest.
	now := i.now()
	if now.Before(leaf.NotBefore) {
		now = leaf.NotBefore
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return fmt.Errorf("the certificate does not verify against the CA chain of mount %q (%v): if role %q uses another issuer (issuer_ref), make it the mount's default issuer", role.Mount, err, role.Name)
	}
	return nil
}

func describeTTL(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}
