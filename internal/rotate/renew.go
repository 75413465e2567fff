package rotate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// Options shape a renewal.
type Options struct {
	ConfigDir string
	Issuer    issuer.Issuer
	Policy    fips.Policy
	Window    expiry.Window
	Force     bool // renew even when not due
	Rand      io.Reader
	Now       time.Time
	Notify    func(msg string) // hears what a write did besides writing (atomicfs.Writer's)
}

// Renewed reports one certificate that was replaced.
type Renewed struct {
	Layer       spec.Layer `json:"layer"`
	Files       []string   `json:"files"`
	OldNotAfter time.Time  `json:"old_not_after"`
	NotAfter    time.Time  `json:"not_after"`
	SHA256      string     `json:"sha256"`
	// CappedAtCA says the lifetime was shortened to end with the CA's.
	CappedAtCA bool `json:"capped_at_ca"`
	// DueAgain says the new certificate is already inside the renewal window: its
	// lifetime is shorter than the window, so every run would renew it.
	DueAgain bool `json:"due_again"`
}

// ErrCATooShort means a CA expires inside the renewal window: no certificate can
// outlive its CA, so renewing cannot carry the node past the CA's end, and every run
// would find the certificates due again. The CA must be rotated.
var ErrCATooShort = fault.Sentinel(fault.Input, "the CA expires too soon to renew from")

// CAExpiringError names the CAs that expire inside the renewal window. Renew returns
// it after renewing what could still be renewed (up to the CA's end), so a cron job
// fails loudly while the node keeps every day its CA allows.
type CAExpiringError struct{ CAs []ExpiringCA }

// ExpiringCA is the CA of one layer that expires inside the renewal window.
type ExpiringCA struct {
	Layer    spec.Layer
	Name     string
	NotAfter time.Time
}

func (e *CAExpiringError) Error() string {
	var cas []string
	for _, c := range e.CAs {
		cas = append(cas, fmt.Sprintf("the %s CA %q expires %s", c.Layer, c.Name, c.NotAfter.UTC().Format(time.DateOnly)))
	}
	return strings.Join(cas, " and ") + ", inside the renewal window: no certificate can outlive its CA, so renewing cannot help: rotate the CA (escert ca rotate begin)"
}

func (e *CAExpiringError) Is(target error) bool { return target == ErrCATooShort }

// Kind makes it bad input: the CA must be rotated.
func (e *CAExpiringError) Kind() fault.Kind { return fault.Input }

// Renew re-issues the due certificates among certs and swaps them into place under the
// same file names, keeping passwords, aliases and trusted entries, so Elasticsearch
// hot-reloads them. Every new certificate is issued and validated before any file is
// touched; replaced files are backed up under escert-backups/. When a CA expires
// inside the window, the certificates that end before it are renewed up to its end
// and the error is a *CAExpiringError.
func Renew(ctx context.Context, certs []NodeCert, o Options) ([]Renewed, string, error) {
	return renew(ctx, certs, o, false)
}

// renew is Renew; newIssuer allows a CA other than the one that issued the current
// certificates, which only CA rotation's issue phase may do.
func renew(ctx context.Context, certs []NodeCert, o Options, newIssuer bool) ([]Renewed, string, error) {
	type job struct {
		node  NodeCert
		files []atomicfs.Replacement
		info  Renewed
		note  string
	}
	var jobs []job
	var expiring []ExpiringCA
	for _, n := range certs {
		if !o.Force && !o.Window.Due(n.Leaf(), o.Now) {
			continue
		}
		j, err := reissue(ctx, n, o, newIssuer)
		if err != nil {
			return nil, "", fmt.Errorf("%s certificate: %w", n.Layer, err)
		}
		if j.expiring != nil {
			expiring = append(expiring, *j.expiring)
		}
		if j.files != nil {
			jobs = append(jobs, job{node: n, files: j.files, info: j.info, note: j.note})
		}
	}
	var tooShort error
	if len(expiring) > 0 {
		tooShort = &CAExpiringError{CAs: expiring}
	}
	if len(jobs) == 0 {
		return nil, "", tooShort
	}
	old := map[string][]byte{}
	for _, j := range jobs {
		for _, f := range j.files {
			rel, err := filepath.Rel(o.ConfigDir, f.Path)
			if err != nil || !filepath.IsLocal(rel) {
				rel = filepath.Join("outside", filepath.Base(f.Path))
			}
			old[filepath.ToSlash(rel)] = j.node.read[f.Path]
		}
	}
	w := atomicfs.Writer{Notify: o.Notify}
	backup, err := w.Backup(o.ConfigDir, o.Now, old)
	if err != nil {
		return nil, "", err
	}
	var done []Renewed
	for _, j := range jobs {
		if err := w.ReplaceTogether(j.files); err != nil {
			return done, backup, fmt.Errorf("%s certificate: %w", j.node.Layer, err)
		}
		done = append(done, j.info)
		if j.note != "" && o.Notify != nil {
			o.Notify(j.note)
		}
	}
	return done, backup, tooShort
}

// reissued is one certificate's renewal: the files to swap in (none when renewing
// gains nothing), the CA when it expires inside the window, and what the operator
// hears once the files are in place.
type reissued struct {
	files    []atomicfs.Replacement
	info     Renewed
	expiring *ExpiringCA
	note     string
}

func reissue(ctx context.Context, n NodeCert, o Options, newIssuer bool) (*reissued, error) {
	leaf := n.Leaf()
	c, added, err := RenewalSpec(n)
	if err != nil {
		return nil, err
	}
	trust := o.Issuer.Trust(n.Layer)
	if len(trust) == 0 {
		return nil, fmt.Errorf("the issuer has no CA for the %s layer", n.Layer)
	}
	// Renewal keeps the issuer: a certificate from another CA would not be trusted by
	// the node's peers until their trust stores change (that is CA rotation).
	if !newIssuer && leaf.CheckSignatureFrom(trust[0]) != nil {
		return nil, fault.BadFile(n.Files()[0], "%s: point --ca-dir at the CA that issued it, or change CAs with escert ca rotate", otherCA(leaf, trust[0]))
	}
	r := &reissued{}
	caEnd := trust[0].NotAfter
	life := time.Duration(c.Days) * 24 * time.Hour
	capped := o.Now.Add(life).After(caEnd)
	if capped {
		c.Until = caEnd
	}
	if caEnd.Sub(o.Now) <= o.Window.Span(life) {
		r.expiring = &ExpiringCA{Layer: n.Layer, Name: trust[0].Subject.CommonName, NotAfter: caEnd}
		if !o.Force && !leaf.NotAfter.Before(caEnd) {
			return r, nil // it already lasts as long as its CA: a new one would end the same day
		}
	}
	keySpec, err := fips.SpecOf(n.Key.Public())
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	var chain []*x509.Certificate
	// Renewing by possession (step-ca's renew over mutual TLS) copies the old
	// certificate, usages and all, and proves possession with it as a TLS client
	// certificate: one lacking a usage its layer needs, or lacking clientAuth, is
	// issued afresh instead.
	renewer, ok := o.Issuer.(issuer.Renewer)
	byPossession := ok && !newIssuer
	var whyAfresh string
	switch {
	case !byPossession:
	case added:
		whyAfresh = fmt.Sprintf("its extended key usages (%s) lack one its layer needs, which renewing it by possession would keep, so it must be issued afresh", strings.Join(ca.Summarize(leaf).ExtKeyUsage, ", "))
	case !servesAsClient(leaf):
		whyAfresh = fmt.Sprintf("its extended key usages (%s) lack clientAuth, so it cannot prove possession to the CA over mutual TLS and must be issued afresh", strings.Join(ca.Summarize(leaf).ExtKeyUsage, ", "))
	}
	if byPossession && whyAfresh == "" {
		key, chain, err = renewer.Renew(ctx, c, n.Chain, n.Key, keySpec)
	} else {
		key, chain, err = issuer.Obtain(ctx, o.Issuer, c, o.Rand, o.Policy, keySpec)
		if err != nil && whyAfresh != "" {
			err = fmt.Errorf("%s: %w", whyAfresh, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := validate(chain, key, trust, c); err != nil {
		return nil, fmt.Errorf("the new certificate does not validate, nothing was changed: %w", err)
	}
	if added {
		had, has := ca.Summarize(leaf).ExtKeyUsage, ca.Summarize(chain[0]).ExtKeyUsage
		gained := slices.DeleteFunc(slices.Clone(has), func(u string) bool { return slices.Contains(had, u) })
		r.note = fmt.Sprintf("the %s certificate lacked %s, which its layer needs; the renewed one has %s", n.Layer, strings.Join(gained, " and "), strings.Join(has, ", "))
	}
	r.info = Renewed{
		Layer: n.Layer, Files: n.Files(), OldNotAfter: leaf.NotAfter.UTC(), NotAfter: chain[0].NotAfter.UTC(),
		SHA256: ca.Fingerprint(chain[0]), CappedAtCA: capped, DueAgain: o.Window.Due(chain[0], o.Now),
	}
	if n.P12Path != "" {
		data, err := p12.Encode(o.Rand, n.password, &p12.KeyEntry{Alias: n.alias, Key: key, Chain: chain}, n.trusted)
		if err != nil {
			return nil, err
		}
		// Prove the file opens with the password Elasticsearch holds, before it replaces
		// the working one.
		if _, err := p12.Decode(data, n.password); err != nil {
			return nil, fmt.Errorf("the new keystore does not open with the node's password: %w", err)
		}
		perm, err := atomicfs.PermOf(n.P12Path, 0o640)
		if err != nil {
			return nil, err
		}
		r.files = []atomicfs.Replacement{{Path: n.P12Path, Data: data, Perm: perm}}
		return r, nil
	}
	keyPEM, err := ca.MarshalKeyPEM(o.Rand, key, []byte(n.password))
	if err != nil {
		return nil, err
	}
	keyPerm, err := atomicfs.PermOf(n.KeyPath, 0o640)
	if err != nil {
		return nil, err
	}
	certPerm, err := atomicfs.PermOf(n.CertPath, 0o644)
	if err != nil {
		return nil, err
	}
	// Key first, certificate right after: Elasticsearch reloads when either changes and
	// keeps its old context while the two do not match.
	r.files = []atomicfs.Replacement{
		{Path: n.KeyPath, Data: keyPEM, Perm: keyPerm},
		{Path: n.CertPath, Data: ca.EncodeCertificates(chain...), Perm: certPerm},
	}
	return r, nil
}

// otherCA says a certificate was not issued by the CA given, naming each CA once:
// CAs often share a name (every bootstrap of a cluster names its CAs alike).
func otherCA(leaf, given *x509.Certificate) string {
	issuer, want := leaf.Issuer.CommonName, given.Subject.CommonName
	switch {
	case bytes.Equal(leaf.RawIssuer, given.RawSubject):
		return fmt.Sprintf("was issued by a CA other than the one given, though both are named %q", issuer)
	case issuer == want: // the full names tell them apart
		issuer, want = ca.FormatDN(leaf.RawIssuer), ca.FormatDN(given.RawSubject)
	}
	return fmt.Sprintf("was issued by %q, not by the CA given (%q)", issuer, want)
}

// RenewalSpec is the certificate that renews n: the old one's subject, names and
// lifetime, asking for every usage its layer needs; added reports one the old
// certificate lacked. Its Dir names it in a CSR directory (requestName).
func RenewalSpec(n NodeCert) (c spec.Certificate, added bool, err error) {
	c, err = spec.FromCertificate(n.Leaf(), n.Layer)
	if err != nil {
		return c, false, err
	}
	c.Dir = requestName(n)
	c.KeepSubject = n.keepSubject
	return c, askLayerUsages(&c), nil
}

// askLayerUsages makes c ask for the usage of every role its layer needs
// (nodetls.Roles) besides those the old certificate had, which it keeps (an HTTP
// certificate with clientAuth keeps it), and reports whether it added one: a copy of
// a transport certificate without clientAuth would fail node-to-node TLS as the old
// one does (check's transport-usage-missing).
func askLayerUsages(c *spec.Certificate) (added bool) {
	for _, role := range nodetls.Roles(string(c.Layer)) {
		asked := &c.ServerAuth
		if role == nodetls.Client {
			asked = &c.ClientAuth
		}
		added = added || !*asked
		*asked = true
	}
	return added
}

// validate checks the new chain as a peer would: it verifies to the layer's CA for
// every usage the certificate claims, and the key belongs to the leaf.
func validate(chain []*x509.Certificate, key crypto.Signer, trust []*x509.Certificate, c spec.Certificate) error {
	var roles []nodetls.Role
	if c.ServerAuth {
		roles = append(roles, nodetls.Server)
	}
	if c.ClientAuth {
		roles = append(roles, nodetls.Client)
	}
	// Mid-life: the check is about the chain, not this machine's clock, and a
	// step-ca certificate may live for minutes only.
	if _, err := nodetls.Verify(chain, nodetls.Pool(trust...), roles, expiry.MidLife(chain[0])); err != nil {
		return err
	}
	return ca.KeyMatches(chain[0], key)
}

// servesAsClient reports whether a certificate may authenticate a TLS client: no
// extended key usage at all, clientAuth, or any.
func servesAsClient(cert *x509.Certificate) bool {
	return len(cert.ExtKeyUsage) == 0 || slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny)
}
