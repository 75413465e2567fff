package check

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/nodetls"
)

// checkChains: the node's chains lead to the CAs the layer trusts, for every use the
// layer makes of them, and carry every intermediate CA below a root themselves
// (checkChainLinks). A transport layer trusting no CA of its own is a problem; an
// HTTP layer trusting none has nothing to verify against (its clients bring their own
// trust).
func (c *checker) checkChains(t *tlsContext, anchors []*x509.Certificate, trustFrom string) {
	switch {
	case len(t.chains) == 0:
	case len(anchors) == 0 && t.Name == esconfig.Transport:
		c.add(Problem, "trust-missing", c.ymlFile, 0, t.Keys.TruststorePath,
			"the transport layer trusts no CA of its own (no certificate_authorities, no truststore.path, no trusted entry in the keystore), only the JDK's public CAs: other nodes cannot join",
			fmt.Sprintf("set %s or %s to the transport CA", t.Keys.CAs, t.Keys.TruststorePath))
	case len(anchors) == 0:
	default:
		roots := nodetls.Pool(anchors...)
		for _, chain := range t.chains {
			c.verifyChain(t, chain, roots, trustFrom)
			c.checkChainLinks(t, chain, anchors, trustFrom)
		}
	}
}

// verifyChain checks that a chain leads to the configured CAs and allows the layer's
// roles (a transport certificate must serve as TLS server and client). Expiry is
// reported on its own (cert-expired), so an expired chain is still verified.
func (c *checker) verifyChain(t *tlsContext, chain []*x509.Certificate, roots *x509.CertPool, trustFrom string) {
	roles := nodetls.Roles(t.Name)
	_, err := nodetls.Verify(chain, roots, roles, c.now)
	var usage *nodetls.UsageError
	switch {
	case errors.As(err, &usage):
		leaf := chain[0]
		ekus := strings.Join(ca.Summarize(leaf).ExtKeyUsage, ", ")
		if ekus == "" {
			ekus = "none"
		}
		c.add(Problem, t.Name+"-usage-missing", t.chainFile, 0, t.chainKey,
			fmt.Sprintf("the %s certificate %q may not act as TLS %s (its extended key usages: %s), yet the %s layer uses it as TLS %s: %s",
				layerName[t.Name], ca.FormatDN(leaf.RawSubject), roleNames(usage.Missing), ekus, layerName[t.Name], roleNames(roles), usageRisk[t.Name]),
			fmt.Sprintf("reissue it with extended key usages that allow TLS %s, or none (escert cert issues them so), and install it", roleNames(roles)))
	case err != nil:
		c.add(Problem, "chain-untrusted", t.chainFile, 0, t.chainKey,
			fmt.Sprintf("certificate %q does not verify to the CAs of %s: %v", ca.FormatDN(chain[0].RawSubject), trustFrom, err),
			"issue the certificate from the configured CA, or configure the CA that issued it (and put any intermediate CA after the leaf)")
	}
}

// usageRisk is what a certificate lacking one of its layer's roles breaks.
var usageRisk = map[string]string{
	esconfig.Transport: "other nodes reject it and node-to-node TLS fails",
	esconfig.HTTP:      "clients reject it",
}

func roleNames(roles []nodetls.Role) string {
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	return strings.Join(names, " and ")
}
