package ca

import (
	"bytes"
	"crypto/x509"
)

// SelfSigned reports a root: its issuer is its subject and its own key signed it.
func SelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// IssuedBy reports whether parent signed child: by name and by signature.
func IssuedBy(child, parent *x509.Certificate) bool {
	return bytes.Equal(child.RawIssuer, parent.RawSubject) && child.CheckSignatureFrom(parent) == nil
}

// ChainTop follows issuers from the leaf (chain[0]) through chain, in whatever order
// the certificates come, and returns the last one reached: a root, or the certificate
// whose issuer chain lacks. A node or server sends exactly its configured chain, and
// no client fetches a missing issuer, so this is where a peer's path must continue
// from its own trust.
func ChainTop(chain []*x509.Certificate) *x509.Certificate {
	cur := chain[0]
	for range chain {
		if SelfSigned(cur) {
			return cur
		}
		var next *x509.Certificate
		for _, c := range chain {
			if c != cur && IssuedBy(cur, c) {
				next = c
				break
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}
