// Package expiry judges a certificate's dates: not yet valid, expired, due (inside a
// window before its end: check and probe warn that it is expiring, renew and
// needs-renewal renew it) or fine. One judgement, with the finding IDs, messages and
// fixes check and probe report, and the window renew and needs-renewal decide by, so
// that the commands never disagree about one certificate. Every judgement takes the
// time it is made at: nothing here reads the clock.
package expiry

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/escert/escert/internal/ca"
)

// Verdict is what a certificate's dates say at a given time.
type Verdict int

const (
	// OK: valid, and not yet inside the window.
	OK Verdict = iota
	// Due: valid, and inside the window: renew it (check and probe warn "expiring").
	Due
	// Expired: past its end; TLS refuses it.
	Expired
	// NotYetValid: before its start; TLS refuses it (a clock is wrong).
	NotYetValid
)

// The finding IDs of the verdicts, stable for scripts that grep or allow-list them.
const (
	IDExpiring    = "cert-expiring"
	IDExpired     = "cert-expired"
	IDNotYetValid = "cert-not-yet-valid"
)

// Judgement is a verdict with the finding that reports it; ID, Message and Fix are
// empty for OK.
type Judgement struct {
	Verdict Verdict
	ID      string
	Message string
	Fix     string
}

// Broken reports a certificate TLS refuses now, as opposed to one that is due.
func (j Judgement) Broken() bool { return j.Verdict == Expired || j.Verdict == NotYetValid }

// The fixes. A node certificate is renewed in place; a CA cannot be renewed without
// every node trusting its successor first, which is what CA rotation's phases do.
const (
	renewFix  = "renew it in place: escert renew --es-config <config dir> --ca-dir <ca> (or the --issuer flags); nodes reload it within 5 s"
	rotateFix = "rotate the CA without downtime: escert ca rotate begin, issue and finish on every node, then escert ca rotate finish --promote once"
	clockFix  = "check the clocks of this machine and of the machine that issued it, or reissue the certificate"
)

// Judge judges cert at now: due once w says so.
func (w Window) Judge(cert *x509.Certificate, now time.Time) Judgement {
	what, fix := "certificate", renewFix
	if cert.IsCA {
		what, fix = "CA certificate", rotateFix
	}
	name := ca.FormatDN(cert.RawSubject)
	dates := fmt.Sprintf("valid %s to %s", day(cert.NotBefore), day(cert.NotAfter))
	switch {
	case now.After(cert.NotAfter):
		return Judgement{Expired, IDExpired, fmt.Sprintf("%s %q expired on %s (%s)", what, name, day(cert.NotAfter), dates), fix}
	case now.Before(cert.NotBefore):
		return Judgement{NotYetValid, IDNotYetValid, fmt.Sprintf("%s %q is not valid before %s (%s)", what, name, day(cert.NotBefore), dates), clockFix}
	case w.Due(cert, now):
		left := int(cert.NotAfter.Sub(now).Hours() / 24)
		return Judgement{Due, IDExpiring, fmt.Sprintf("%s %q expires on %s, in %d days (%s)", what, name, day(cert.NotAfter), left, dates), fix}
	}
	return Judgement{Verdict: OK}
}

// MidLife is the middle of a certificate's validity: a time to verify its chain at
// when the question is trust, not this machine's clock (dates are judged here).
func MidLife(cert *x509.Certificate) time.Time {
	return cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
