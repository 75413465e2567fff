package check

import (
	"crypto/x509"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
)

// noteCerts judges certificates' dates, once per certificate: expired and not yet
// valid are problems, expiring within --warn-days a warning.
func (c *checker) noteCerts(file, setting string, certs ...*x509.Certificate) {
	for _, cert := range certs {
		fp := ca.Fingerprint(cert)
		if c.certSeen[fp] {
			continue
		}
		c.certSeen[fp] = true
		switch j := c.warn.Judge(cert, c.now); {
		case j.Broken():
			c.add(Problem, j.ID, file, 0, setting, j.Message, j.Fix)
		case j.Verdict == expiry.Due:
			c.add(Warning, j.ID, file, 0, setting, j.Message, j.Fix)
		}
	}
}
