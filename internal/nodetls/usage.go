package nodetls

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/expiry"
)

// Role is a part a certificate plays in a TLS connection, and the extended key usage
// that allows it.
type Role struct {
	Name  string // "server", "client"
	Usage x509.ExtKeyUsage
}

// The roles.
var (
	Server = Role{"server", x509.ExtKeyUsageServerAuth}
	Client = Role{"client", x509.ExtKeyUsageClientAuth}
)

// Roles are the roles a layer's certificate plays: a transport certificate is the
// server of the connections other nodes open and the client of those this node
// opens; an HTTP certificate is a server. Another TLS configuration (a realm, an
// exporter) has none this package knows of.
func Roles(layer string) []Role {
	switch layer {
	case esconfig.Transport:
		return []Role{Server, Client}
	case esconfig.HTTP:
		return []Role{Server}
	}
	return nil
}

// UsageError says a chain verifies but does not allow roles its layer needs: the
// leaf's extended key usages (or a CA's above it) leave them out.
type UsageError struct {
	Missing []Role
	Err     error
}

// Error is x509's, which says the usage is incompatible; Missing says which.
func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// Pool is a certificate pool of certs.
func Pool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// Verify verifies chain (leaf first, then intermediates) to roots at now for every
// role in turn, as the peers of each role do (x509 alone accepts a chain allowing any
// one of several usages); no role verifies for any usage. It returns the chain the
// first role verified to, anchor last. A chain that verifies but lacks a role is a
// *UsageError. Dates are expiry's to judge: a chain whose leaf is not valid at now
// is verified in the middle of the leaf's life instead, to find any other fault.
func Verify(chain []*x509.Certificate, roots *x509.CertPool, roles []Role, now time.Time) ([]*x509.Certificate, error) {
	leaf := chain[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		now = expiry.MidLife(leaf)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: Pool(chain[1:]...), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if len(roles) == 0 {
		chains, err := leaf.Verify(opts)
		if err != nil {
			return nil, err
		}
		return chains[0], nil
	}
	var verified []*x509.Certificate
	missing := &UsageError{}
	for _, r := range roles {
		opts.KeyUsages = []x509.ExtKeyUsage{r.Usage}
		chains, err := leaf.Verify(opts)
		var inv x509.CertificateInvalidError
		switch {
		case err == nil:
			if verified == nil {
				verified = chains[0]
			}
		case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
			missing.Missing, missing.Err = append(missing.Missing, r), err
		default:
			return nil, err
		}
	}
	if missing.Missing != nil {
		return verified, missing
	}
	return verified, nil
}
