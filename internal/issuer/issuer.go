// Package issuer obtains certificates for specs. Every backend (the local CAs here,
// Vault's PKI engine in issuer/vault, a step-ca in issuer/stepca) sits behind the same
// small interface, so bundles, manifests and renewal never care where a certificate
// came from.
package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

// Issuer obtains a key and its certificate for a spec. Backends differ in where the key
// comes from: the local CA and step-ca certify a key the caller makes, Vault signs a
// CSR made with the caller's key or makes the key itself; one method covers them all.
type Issuer interface {
	// Certify returns a private key and the chain that certifies it for c, leaf
	// first, ending with the CA that clients of c.Layer trust. A backend that
	// certifies the caller's key takes it from newKey; one that makes its own key does
	// not call newKey.
	Certify(ctx context.Context, c spec.Certificate, newKey KeyMaker) (crypto.Signer, []*x509.Certificate, error)
	// Trust returns the CA certificates peers of the layer must trust.
	Trust(layer spec.Layer) []*x509.Certificate
}

// KeyMaker makes the private key of a certificate, of the caller's key type under its
// crypto policy.
type KeyMaker func() (crypto.Signer, error)

// Local issues from CAs held in memory: one per layer, or one shared by both layers.
type Local struct {
	CAs    map[spec.Layer]*ca.Authority
	Policy fips.Policy
	Rand   io.Reader
	Now    func() time.Time
}

// Certify signs c for a key from newKey with the CA of its layer.
func (l *Local) Certify(ctx context.Context, c spec.Certificate, newKey KeyMaker) (crypto.Signer, []*x509.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	chain, err := l.Issue(ctx, c, key.Public())
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

// Issue signs c for a public key with the CA of its layer: a local CA needs no more
// of the key than its public half, so the private one may live anywhere.
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

// Renewer renews a certificate it issued by proving possession of it (step-ca's
// renew over mutual TLS), so renewal needs no issuing secret on the node. It returns
// the key to use from then on: the same one, unless it had to issue afresh (then of
// keySpec's type).
type Renewer interface {
	Renew(ctx context.Context, c spec.Certificate, chain []*x509.Certificate, key crypto.Signer, keySpec fips.KeySpec) (crypto.Signer, []*x509.Certificate, error)
}

// Obtain gets a new key and certificate for c from iss: the one code path every
// command issues through, whatever the backend. A key the backend certifies is
// generated here, of type key under policy; a key the backend makes itself must pass
// the policy too.
func Obtain(ctx context.Context, iss Issuer, c spec.Certificate, rand io.Reader, policy fips.Policy, key fips.KeySpec) (crypto.Signer, []*x509.Certificate, error) {
	// Ctrl-C stops a bootstrap or renewal between certificates, whatever the backend,
	// before anything of the run is written.
	if ctx.Err() != nil {
		return nil, nil, Stopped(ctx, fmt.Errorf("before issuing the %s certificate of %s", c.Layer, c.Instance))
	}
	k, chain, err := iss.Certify(ctx, c, func() (crypto.Signer, error) { return ca.GenerateKey(rand, policy, key) })
	if err != nil {
		return nil, nil, err
	}
	if err := policy.CheckPublicKey(k.Public()); err != nil {
		return nil, nil, fmt.Errorf("the issuer's key: %w", err)
	}
	if c.KeepSubject {
		if err := CheckSubject(c, chain[0]); err != nil {
			return nil, nil, fault.Mark(fault.Refused, fmt.Errorf("%w: issue these certificates from escert's own CA (no --issuer), which signs the subject as asked", err))
		}
	}
	return k, chain, nil
}

// CheckSubject refuses leaf when its issuer changed the subject c asks for; callers
// ask it for a c that KeepSubject. OpenSearch's security plugin matches nodes_dn and
// admin_dn against the whole DN, as Java writes it, and remote CAs rewrite subjects
// silently (Vault's sign endpoint and step-ca keep only the CN; a PKI team's profile
// may drop or add attributes). Each caller adds what to change.
func CheckSubject(c spec.Certificate, leaf *x509.Certificate) error {
	got, want := ca.FormatDNAsJava(leaf.RawSubject), ca.FormatDNAsJava(c.RawSubject)
	if got == want {
		return nil
	}
	return fmt.Errorf("the %s certificate of %q came back with the subject %q, not the %q asked for, which OpenSearch's nodes_dn or admin_dn must match exactly", c.Layer, c.Instance, got, want)
}

// Error is a remote issuer's failure, classified: Class is one of the backend's
// sentinel errors, a fault.Sentinel, so errors.Is matches it and fault.KindOf finds its
// kind; Msg says what to do, Err is the cause. It never carries a token, password or
// key.
type Error struct {
	Class error
	Msg   string
	Err   error
}

func (e *Error) Error() string        { return e.Msg }
func (e *Error) Is(target error) bool { return target == e.Class }
func (e *Error) Unwrap() error        { return e.Err }

// Kind is the fault kind of the error's class, for fault.KindOf.
func (e *Error) Kind() fault.Kind { return fault.KindOf(e.Class) }

// Errorf makes an *Error of the class, with a formatted message.
func Errorf(class, cause error, format string, args ...any) *Error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Stopped marks err, which the end of ctx caused, with its kind: Interrupted when ctx
// was cancelled (Ctrl-C, SIGTERM), Unavailable when its deadline passed before the
// issuer answered. The result wraps ctx.Err(), so errors.Is tells why work stopped.
func Stopped(ctx context.Context, err error) error {
	if !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %w", err, ctx.Err())
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fault.Mark(fault.Interrupted, err)
	}
	return fault.Mark(fault.Unavailable, err)
}
