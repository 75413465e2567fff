package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/nodetls"
)

// IDChainIncomplete is the finding of a served chain that stops below a root: the
// server does not send the intermediate CA that issued its last certificate.
const IDChainIncomplete = "chain-incomplete"

// Intermediate is an intermediate CA the server sent: a CA certificate after the leaf
// that is not self-signed. Its dates are judged with every other served certificate
// (cert-expiring, cert-expired).
type Intermediate struct {
	Index    int       `json:"index"` // its place in Result.Chain
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

// intermediates lists the intermediate CAs of a served chain, in the order sent.
func intermediates(chain []*x509.Certificate, now time.Time) []Intermediate {
	out := []Intermediate{}
	for i, c := range chain {
		if i == 0 || !c.IsCA || !c.BasicConstraintsValid || ca.SelfSigned(c) {
			continue
		}
		out = append(out, Intermediate{Index: i, Subject: ca.FormatDN(c.RawSubject), NotAfter: c.NotAfter.UTC(), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)})
	}
	return out
}

// judgeServedChain says whether the chain the server sent is complete: whether it
// verifies to opts.Roots with only the certificates the server sent as intermediates
// (a root need not be sent). It is not when it verifies only because the trust file
// holds an intermediate CA, or not at all because the issuer of its last certificate
// is missing. Dates and usages are judged elsewhere, so the chain is verified for any
// usage, at a time its leaf is valid. A chain that fails for another reason (a root
// that is not trusted, a broken signature) is left unjudged: chain-untrusted says it.
func (r *Result) judgeServedChain(chain []*x509.Certificate, opts Options, now time.Time) {
	leaf := chain[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		now = expiry.MidLife(leaf)
	}
	verified, err := leaf.Verify(x509.VerifyOptions{
		Roots: opts.Roots, Intermediates: nodetls.Pool(chain[1:]...), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	top := ca.ChainTop(chain)
	served := fmt.Sprintf("serves only its leaf %q", ca.FormatDN(leaf.RawSubject))
	if top != leaf {
		served = fmt.Sprintf("serves a chain of %d that ends at %q", len(chain), ca.FormatDN(top.RawSubject))
	}
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		for _, v := range verified {
			if anchor := v[len(v)-1]; ca.SelfSigned(anchor) || contains(chain, anchor) {
				r.ChainComplete = ptrTo(true)
				return
			}
		}
		// Every path ends at an intermediate CA of the trust file that the server did
		// not send. A WARNING, not critical: clients holding that intermediate (like
		// the one probing) verify the node, but every client that trusts only the
		// root (the usual way an offline root is distributed: Kibana's, Beats' and
		// Logstash's CA file, a JDK truststore, curl's --cacert) fails, and none of
		// them fetches a missing issuer. ca-not-sent is graded the same way.
		anchor := verified[0][len(verified[0])-1]
		issuer := ca.FormatDN(anchor.RawSubject)
		r.ChainComplete, r.MissingIssuer = ptrTo(false), issuer
		r.add(Warning, IDChainIncomplete,
			fmt.Sprintf("the server %s, issued by the intermediate CA %q, which it does not send: the chain verifies only because %s holds that CA, so clients that trust only the root cannot verify it", served, issuer, trustName(opts)),
			fmt.Sprintf("put the intermediate CA %q after the leaf in the node's certificate file (PEM) or in its keystore's key entry (PKCS#12)", issuer))
	case errors.As(err, &unknown) && !ca.SelfSigned(top):
		// Critical, as chain-untrusted beside it: no client with these CAs can verify
		// the node, and this says why: the issuer is neither sent nor trusted.
		issuer := ca.FormatDN(top.RawIssuer)
		r.ChainComplete, r.MissingIssuer = ptrTo(false), issuer
		r.add(Critical, IDChainIncomplete,
			fmt.Sprintf("the server %s, issued by %q, which it does not send and %s does not hold: clients without that CA cannot verify it", served, issuer, trustName(opts)),
			fmt.Sprintf("put the issuing CA %q after the leaf in the node's certificate file (PEM) or in its keystore's key entry (PKCS#12); if it is a root, give it as trust (--ca) instead", issuer))
	}
}

func ptrTo[T any](v T) *T { return &v }
