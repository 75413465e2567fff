// Package issuer signs certificate specs. Every backend (the local CAs today; Vault and
// step-ca later) sits behind the same small interface, so bundles, manifests and
// renewal never care where a certificate came from.
package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

// Issuer signs one certificate spec for a public key whose private half stays with
// the caller.
type Issuer interface {
	// Issue returns the chain for c, leaf first, ending with the CA that clients of
	// c.Layer trust.
	Issue(ctx context.Context, c spec.Certificate, pub crypto.PublicKey) ([]*x509.Certificate, error)
	// Trust returns the CA certificates peers of the layer must trust.
	Trust(layer spec.Layer) []*x509.Certificate
}

// Local issues from CAs held in memory: one per layer, or one shared by both layers.
type Local struct {
	CAs    map[spec.Layer]*ca.Authority
	Policy fips.Policy
	Rand   io.Reader
	Now    func() time.Time
}

// Issue signs c with the CA of its layer.
func (l *Local) Issue(_ context.Context, c spec.Certificate, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	authority, ok := l.CAs[c.Layer]
	if !ok {
		return nil, fmt.Errorf("no CA for the %s layer", c.Layer)
	}
	leaf, err := authority.Sign(l.Rand, l.Policy, c.Leaf(l.Now()), pub)
	if err != nil {
		return nil, err
	}
	return append([]*x509.Certificate{leaf}, authority.Chain()...), nil
}

// Trust returns the CA of the layer, followed by its issuers when it is an
// intermediate.
func (l *Local) Trust(layer spec.Layer) []*x509.Certificate {
	if a, ok := l.CAs[layer]; ok {
		return a.Chain()
	}
	return nil
}

// SingleCA reports whether both layers share one CA.
func (l *Local) SingleCA() bool {
	t, h := l.CAs[spec.Transport], l.CAs[spec.HTTP]
	return t != nil && h != nil && t.Cert.Equal(h.Cert)
}

// CASubject is the subject escert gives the CA of a layer (or the shared one).
func CASubject(cluster string, layer spec.Layer) pkix.Name {
	name := "escert " + cluster + " CA"
	if layer != "" {
		name = fmt.Sprintf("escert %s %s CA", cluster, layer)
	}
	return pkix.Name{CommonName: name, Organization: []string{"escert"}}
}

// ClusterName recovers the cluster name escert wrote into the transport CA's subject,
// so that a node issued later gets the node name the cluster's trust restrictions
// expect without the operator repeating --cluster-name. ok is false for CAs escert
// did not create.
func (l *Local) ClusterName() (name string, ok bool) {
	a := l.CAs[spec.Transport]
	if a == nil {
		return "", false
	}
	cn := a.Cert.Subject.CommonName
	for _, suffix := range []string{" transport CA", " CA"} {
		if rest, found := strings.CutPrefix(cn, "escert "); found && strings.HasSuffix(rest, suffix) {
			name = strings.TrimSuffix(rest, suffix)
			return name, spec.CheckClusterName(name) == nil
		}
	}
	return "", false
}

// NewLocal creates fresh CAs: one per layer, or one for both when single is set.
func NewLocal(rand io.Reader, policy fips.Policy, key fips.KeySpec, cluster string, days int, single bool, now func() time.Time) (*Local, error) {
	l := &Local{CAs: map[spec.Layer]*ca.Authority{}, Policy: policy, Rand: rand, Now: now}
	layers := []spec.Layer{spec.Transport, spec.HTTP}
	if single {
		layers = []spec.Layer{""}
	}
	for _, layer := range layers {
		k, err := ca.GenerateKey(rand, policy, key)
		if err != nil {
			return nil, err
		}
		t := now()
		cert, err := ca.NewRoot(rand, policy, k, CASubject(cluster, layer), t, t.AddDate(0, 0, days))
		if err != nil {
			return nil, err
		}
		a := &ca.Authority{Cert: cert, Key: k}
		if single {
			l.CAs[spec.Transport], l.CAs[spec.HTTP] = a, a
		} else {
			l.CAs[layer] = a
		}
	}
	return l, nil
}

// KeySigner is an issuer that needs the private key itself, to sign a request with it
// (Vault's sign mode sends a CSR). The key still never leaves the caller.
type KeySigner interface {
	IssueWithKey(ctx context.Context, c spec.Certificate, key crypto.Signer) ([]*x509.Certificate, error)
}

// KeyIssuer is an issuer that makes the key itself and returns it (Vault's issue mode).
type KeyIssuer interface {
	IssueKey(ctx context.Context, c spec.Certificate) ([]*x509.Certificate, crypto.Signer, error)
}

// Renewer renews a certificate it issued by proving possession of it (step-ca's
// renew over mutual TLS), so renewal needs no issuing secret on the node. It returns
// the key to use from then on: the same one, unless it had to issue afresh (then of
// keySpec's type).
type Renewer interface {
	Renew(ctx context.Context, c spec.Certificate, chain []*x509.Certificate, key crypto.Signer, keySpec fips.KeySpec) (crypto.Signer, []*x509.Certificate, error)
}

// Obtain gets a new key and certificate for c from iss: the one code path every
// command issues through, whatever the backend. The key is generated here per the
// policy unless the issuer makes its own (KeyIssuer).
func Obtain(ctx context.Context, iss Issuer, c spec.Certificate, rand io.Reader, policy fips.Policy, key fips.KeySpec) (crypto.Signer, []*x509.Certificate, error) {
	// An issuer that signs CSRs gets a key made here (with the caller's key type, e.g.
	// the old key's on renewal) unless it is set to make keys itself.
	_, signsCSRs := iss.(KeySigner)
	makesKeys := !signsCSRs
	if mk, ok := iss.(interface{ MakesKeys() bool }); ok {
		makesKeys = mk.MakesKeys()
	}
	if ki, ok := iss.(KeyIssuer); ok && makesKeys {
		chain, k, err := ki.IssueKey(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		if err := policy.CheckPublicKey(k.Public()); err != nil {
			return nil, nil, fmt.Errorf("the issuer's key: %w", err)
		}
		return k, chain, nil
	}
	k, err := ca.GenerateKey(rand, policy, key)
	if err != nil {
		return nil, nil, err
	}
	var chain []*x509.Certificate
	if ks, ok := iss.(KeySigner); ok {
		chain, err = ks.IssueWithKey(ctx, c, k)
	} else {
		chain, err = iss.Issue(ctx, c, k.Public())
	}
	if err != nil {
		return nil, nil, err
	}
	return k, chain, nil
}

// Error is a remote issuer's failure, classified for the CLI: Kind is one of the
// backend's sentinel errors (errors.Is matches it), Msg says what to do, Err is the
// cause. It never carries a token, password or key.
type Error struct {
	Kind error
	Msg  string
	Err  error
}

func (e *Error) Error() string        { return e.Msg }
func (e *Error) Is(target error) bool { return target == e.Kind }
func (e *Error) Unwrap() error        { return e.Err }

// Errorf makes an *Error of the kind, with a formatted message.
func Errorf(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}
