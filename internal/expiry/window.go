package expiry

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window says when a certificate is due: a fixed time before it expires (--before
// 30d, --warn-days 30), or once a fraction of its lifetime has passed (--at 2/3,
// cert-manager's and step's default).
type Window struct {
	Before   time.Duration
	Fraction float64 // 0 < Fraction < 1; used when set
}

// DefaultWindow renews 30 days before expiry, as Elastic's own guidance suggests for
// yearly certificates.
var DefaultWindow = Window{Before: 30 * 24 * time.Hour}

// Days is the window of the last n days: check's and probe's --warn-days.
func Days(n int) Window { return Window{Before: time.Duration(n) * 24 * time.Hour} }

// RenewAt is when cert becomes due.
func (w Window) RenewAt(cert *x509.Certificate) time.Time {
	if w.Fraction > 0 {
		life := cert.NotAfter.Sub(cert.NotBefore)
		return cert.NotBefore.Add(time.Duration(float64(life) * w.Fraction))
	}
	return cert.NotAfter.Add(-w.Before)
}

// Span is how long before its end a certificate of the given lifetime becomes due:
// the window a CA must not end inside.
func (w Window) Span(life time.Duration) time.Duration {
	if w.Fraction > 0 {
		return time.Duration(float64(life) * (1 - w.Fraction))
	}
	return w.Before
}

// Due reports whether cert is due at now (an expired certificate is too).
func (w Window) Due(cert *x509.Certificate, now time.Time) bool { return !now.Before(w.RenewAt(cert)) }

// maxBefore is 100 years: no certificate lives longer.
const maxBefore = 100 * 365 * 24 * time.Hour

// ParseBefore reads a duration such as 30d, 12h or 2w.
func ParseBefore(s string) (time.Duration, error) {
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if n := len(s); n > 1 {
		if mult, ok := unit[s[n-1]]; ok {
			v, err := strconv.ParseFloat(s[:n-1], 64)
			// Bounded well below time.Duration's ~292 years, so it cannot overflow.
			if err == nil && v >= 0 && v*float64(mult) <= float64(maxBefore) {
				return time.Duration(v * float64(mult)), nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxBefore {
		return 0, fmt.Errorf("%q is not a duration: use e.g. 30d, 2w or 12h", s)
	}
	return d, nil
}

// ParseFraction reads a fraction of the lifetime such as 2/3 or 0.75.
func ParseFraction(s string) (float64, error) {
	var f float64
	var err error
	if num, den, ok := strings.Cut(s, "/"); ok {
		var a, b float64
		a, err = strconv.ParseFloat(num, 64)
		if err == nil {
			b, err = strconv.ParseFloat(den, 64)
		}
		if err == nil && b != 0 {
			f = a / b
		}
	} else {
		f, err = strconv.ParseFloat(s, 64)
	}
	if err != nil || !(f > 0 && f < 1) { // also false for NaN
		return 0, fmt.Errorf("%q is not a fraction of the lifetime between 0 and 1: use e.g. 2/3", s)
	}
	return f, nil
}
