package probe

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/escert/escert/internal/inspect"
	"github.com/escert/escert/internal/target"
)

// Render writes results for people: per target a status line, the findings, then what
// the server served. More than one target ends with a count per status.
func Render(w io.Writer, results []Result) {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		render(w, r)
	}
	if len(results) > 1 {
		count := map[Status]int{}
		for _, r := range results {
			count[r.Status]++
		}
		fmt.Fprintf(w, "\n%d targets: %d ok, %d warning, %d critical\n", len(results), count[OK], count[StatusWarning], count[StatusCritical])
	}
}

func render(w io.Writer, r Result) {
	where := r.Target
	if r.Target != r.Address {
		where += " (" + r.Address + ")"
	}
	fmt.Fprintf(w, "%s %s\n", strings.ToUpper(string(r.Status)), where)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s %s: %s. Fix: %s\n", f.Severity, f.ID, f.Message, f.Fix)
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k, v)
		}
	}
	if r.Protocol != "" {
		line("tls", r.Protocol+", "+r.CipherSuite)
	}
	if len(r.Chain) == 0 {
		return
	}
	switch r.Verification {
	case Verified:
		line("verified", "yes, to "+r.VerifiedTo+from(r.TrustFrom))
	case Failed:
		line("verified", "NO"+from(r.TrustFrom)+": "+r.VerificationError)
	case NotVerified:
		line("verified", "not verified: no CA given")
	}
	if r.NameMatches != nil {
		verdict := "matches"
		if !*r.NameMatches {
			verdict = "NOT in the certificate"
		}
		line("name", r.Name+": "+verdict)
	}
	line("chain", chainLine(r))
	switch {
	case r.CASent && r.Engine == target.Elasticsearch:
		line("ca sent", "yes, sha256 "+r.CAFingerprint+" (Beats ssl.ca_trusted_fingerprint)")
	case r.CASent:
		line("ca sent", "yes, sha256 "+r.CAFingerprint)
	default:
		line("ca sent", "no")
	}
	line("security dn", r.SecurityDN)
	if r.ClientCertRequested {
		sent := "none sent"
		if r.ClientCertSent {
			sent = "sent"
		}
		line("client cert", "requested, "+sent)
	}
	for i, c := range r.Chain {
		inspect.RenderCertificate(w, fmt.Sprintf("chain[%d]", i), c)
	}
}

// chainLine sums up the served chain: how many certificates, which are
// intermediates (with their expiry), and whether it is complete, e.g.
// "2 sent: leaf, intermediate CN=Issuing CA (until 2031-11-27, 1826 days left); complete".
func chainLine(r Result) string {
	inter := map[int]Intermediate{}
	for _, i := range r.Intermediates {
		inter[i.Index] = i
	}
	parts := []string{"leaf"}
	for i, c := range r.Chain[1:] {
		switch in, ok := inter[i+1]; {
		case ok:
			parts = append(parts, fmt.Sprintf("intermediate %s (until %s, %d days left)", in.Subject, in.NotAfter.Format(time.DateOnly), in.DaysLeft))
		case c.IsCA && c.Subject == c.Issuer:
			parts = append(parts, "root "+c.Subject)
		default:
			parts = append(parts, c.Subject)
		}
	}
	s := fmt.Sprintf("%d sent: %s", len(r.Chain), strings.Join(parts, ", "))
	if len(r.Chain) == 1 {
		s += " only"
	}
	switch {
	case r.ChainComplete == nil:
	case *r.ChainComplete:
		s += "; complete"
	default:
		s += "; INCOMPLETE: " + r.MissingIssuer + " not sent"
	}
	return s
}

func from(trust string) string {
	if trust == "" {
		return ""
	}
	return " (trust from " + trust + ")"
}
