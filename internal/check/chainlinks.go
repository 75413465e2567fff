package check

import (
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/escert/escert/internal/ca"
)

// idChainIncomplete is the finding of a configured chain that stops below a trust
// anchor: the node does not send the intermediate CA that issued its last
// certificate. probe reports the same fault, seen from outside, under the same ID.
const idChainIncomplete = "chain-incomplete"

// checkChainLinks: the chain a node sends (its PEM certificate file, or the chain of
// a keystore's key entry) reaches one of the layer's trust anchors by itself. Its last
// certificate, following issuers from the leaf, must be a root, or an anchor itself,
// or issued by a root among anchors. Otherwise the node sends no issuer for it: Java
// sends exactly the configured chain, and no client fetches a missing issuer (the
// JDK's AIA fetching is off by default; Go, OpenSSL, Python and Node have none).
//
// The severities say what breaks. When the issuer is among anchors only (an
// intermediate in certificate_authorities or the truststore), it is a WARNING: the
// node starts and the peers holding that intermediate, like its fellow nodes with the
// same CA file, verify it, but every client that trusts only the root (Kibana's,
// Beats' or Logstash's CA file, a JDK truststore, curl --cacert) cannot. When the
// issuer is nowhere, it is a PROBLEM: peers with this layer's own trust reject the
// node too (chain-untrusted says so beside it; this says which certificate is
// missing and where it goes).
func (c *checker) checkChainLinks(t *tlsContext, chain, anchors []*x509.Certificate, trustFrom string) {
	top := ca.ChainTop(chain)
	if ca.SelfSigned(top) || slices.ContainsFunc(anchors, top.Equal) {
		return
	}
	var issuer *x509.Certificate
	for _, a := range anchors {
		if ca.IssuedBy(top, a) {
			issuer = a
			break
		}
	}
	if issuer != nil && ca.SelfSigned(issuer) {
		return
	}
	holds := fmt.Sprintf("%s holds only the leaf %q", t.chainFile, ca.FormatDN(chain[0].RawSubject))
	if top != chain[0] {
		holds = fmt.Sprintf("the chain in %s ends at %q", t.chainFile, ca.FormatDN(top.RawSubject))
	}
	name := ca.FormatDN(top.RawIssuer)
	place := fmt.Sprintf("append it to %s, after the leaf", t.chainFile)
	if t.Keystore != nil {
		place = fmt.Sprintf("rebuild %s with it after the leaf in the key entry's chain (openssl pkcs12 -export -certfile <CA file>), with the same password", t.chainFile)
	}
	if issuer != nil {
		c.add(Warning, idChainIncomplete, t.chainFile, 0, t.chainKey,
			fmt.Sprintf("%s, issued by the intermediate CA %q, which only %s holds: the node does not send it, so clients and nodes that trust only the root cannot verify the node", holds, name, trustFrom),
			fmt.Sprintf("give the node its chain: take the intermediate CA %q from %s and %s", name, trustFrom, place))
		return
	}
	c.add(Problem, idChainIncomplete, t.chainFile, 0, t.chainKey,
		fmt.Sprintf("%s, issued by %q, which neither it nor %s holds: no peer trusting these CAs can verify the node", holds, name, trustFrom),
		fmt.Sprintf("if %q is an intermediate CA, %s; if it is the root, add it to %s", name, place, trustFrom))
}
