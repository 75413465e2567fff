package vault

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
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

	// Usages. A certificate without the extension may serve any purpose (RFC 5280
	// 4.2.1.12), as certutil's do.
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		var missing, settings []string
		if c.ServerAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			missing, settings = append(missing, "serverAuth"), append(settings, "server_flag=true")
		}
		if c.ClientAuth && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			missing, settings = append(missing, "clientAuth"), append(settings, "client_flag=true")
		}
		if len(missing) > 0 {
			return newError(ErrRoleRefused, nil, "the certificate lacks the %s usage (a %s certificate needs %s): set %s %s",
				strings.Join(missing, " and "), c.Layer, usageNames(c), strings.Join(settings, " and "), at)
		}
	}

	// Names.
	for _, dns := range c.DNSNames {
		if !slices.ContainsFunc(leaf.DNSNames, func(s string) bool { return strings.EqualFold(s, dns) }) {
			hint := "add its domain to allowed_domains (with allow_subdomains=true)"
			if dns == "localhost" {
				hint = "set allow_localhost=true"
			}
			return newError(ErrRoleRefused, nil, "Vault left out the DNS name %q: %s %s, and keep use_csr_sans=true", dns, hint, at)
		}
	}
	for _, ip := range c.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return newError(ErrRoleRefused, nil, "Vault left out the IP address %s: set allow_ip_sans=true %s", ip, at)
		}
	}
	if len(c.OtherNames) > 0 {
		got, err := ca.OtherNames(leaf)
		if err != nil {
			return fmt.Errorf("the certificate's SANs: %w", err)
		}
		for _, o := range c.OtherNames {
			if !slices.Contains(got, o) {
				return newError(ErrRoleRefused, nil, "Vault left out the otherName %q (the node name Elasticsearch's trust restrictions match): set allowed_other_sans=%q %s", o, otherSANPrefix+"*", at)
			}
		}
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

func usageNames(c spec.Certificate) string {
	switch {
	case c.ServerAuth && c.ClientAuth:
		return "serverAuth and clientAuth"
	case c.ClientAuth:
		return "clientAuth"
	}
	return "serverAuth"
}

func describeTTL(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}
