// Package pki is the backend for certificates a company's own CA signed from the
// requests `escert csr` wrote: the keys stay in the CSR directory, the signed
// certificates and the issuing chain come back as files, and New checks every one of
// them (its key, its names, its usages, its chain to the given root) before a single
// file of a bundle is written. Certify then hands out what was checked, so a bundle
// built from a company CA goes through the same issuance path as one from a local CA.
package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/spec"
)

// Config is what New checks.
type Config struct {
	CSRs *csrdir.Dir
	// Certificates are the certificates to hand out, in the order the bundle asks
	// for them; each must have a request in CSRs.
	Certificates []spec.Certificate
	// Signed are the files and directories the PKI team's answer is in: the signed
	// certificates and the intermediates, in any order and under any names.
	Signed []string
	// Roots are the trust anchors of each layer, with the file each came from.
	Roots  map[spec.Layer][]Anchor
	Policy fips.Policy
	Now    time.Time
}

// Anchor is a trusted CA certificate and the file it was read from.
type Anchor struct {
	Cert *x509.Certificate
	File string
}

// Issuer hands out the checked certificates. It implements issuer.Issuer.
type Issuer struct {
	issued map[string]Issued
	roots  map[spec.Layer][]*x509.Certificate
	// Unmatched are signed certificates that belong to no request, by file.
	Unmatched []string
}

// Issued is one checked certificate: its key, its chain (leaf, intermediates, trust
// anchor) and the file the leaf came from.
type Issued struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
	File  string
	// MissingOtherNames are requested otherName SANs the PKI's profile left out.
	MissingOtherNames []string
}

var _ issuer.Issuer = (*Issuer)(nil)

// signedCert is a certificate of the answer and the file it is in.
type signedCert struct {
	cert *x509.Certificate
	file string
}

// New reads the signed certificates and checks each requested certificate against
// its request and the roots. The first fault is returned as bad input naming the
// file and what to do.
func New(cfg Config) (*Issuer, error) {
	pile, err := readSigned(cfg.Signed)
	if err != nil {
		return nil, err
	}
	var leaves, cas []signedCert
	for _, s := range pile {
		switch {
		case !s.cert.IsCA:
			leaves = append(leaves, s)
		case !ca.SelfSigned(s.cert):
			cas = append(cas, s)
		}
	}
	i := &Issuer{issued: map[string]Issued{}, roots: map[spec.Layer][]*x509.Certificate{}}
	for layer, anchors := range cfg.Roots {
		for _, a := range anchors {
			i.roots[layer] = append(i.roots[layer], a.Cert)
		}
	}
	used := map[*x509.Certificate]bool{}
	for _, c := range cfg.Certificates {
		e, ok := cfg.CSRs.Request.Find(c.Dir, c.Base)
		if !ok {
			return nil, fault.BadFile(filepath.Join(cfg.CSRs.Path, csrdir.RequestFile), "has no request for the %s certificate of %q: run `escert csr` again for the instances file", c.Base, c.Instance)
		}
		key, err := cfg.CSRs.Key(e)
		if err != nil {
			return nil, err
		}
		if err := cfg.Policy.CheckPublicKey(key.Public()); err != nil {
			return nil, fault.BadFile(filepath.Join(cfg.CSRs.Path, e.KeyFile), "%v", err)
		}
		found, err := pick(leaves, key, e, cfg)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			used[f.cert] = true // an older signing of the same request is no stray
		}
		leaf := found[0]
		iss, err := check(c, leaf, key, cas, cfg)
		if err != nil {
			return nil, err
		}
		i.issued[e.ID()] = iss
	}
	for _, l := range leaves {
		if !used[l.cert] {
			i.Unmatched = append(i.Unmatched, fmt.Sprintf("%s (%s)", l.file, ca.FormatDN(l.cert.RawSubject)))
		}
	}
	return i, nil
}

// Certify hands out the checked key and chain of c; it never makes a key.
func (i *Issuer) Certify(_ context.Context, c spec.Certificate, _ issuer.KeyMaker) (crypto.Signer, []*x509.Certificate, error) {
	iss, ok := i.issued[c.Dir+"/"+c.Base]
	if !ok {
		return nil, nil, fmt.Errorf("no signed certificate was checked for the %s certificate of %q", c.Base, c.Instance)
	}
	return iss.Key, iss.Chain, nil
}

// Trust returns the layer's trust anchors.
func (i *Issuer) Trust(layer spec.Layer) []*x509.Certificate { return i.roots[layer] }

// Issued returns the checked certificate of certificate base of instance file name dir.
func (i *Issuer) Issued(dir, base string) (Issued, bool) {
	iss, ok := i.issued[dir+"/"+base]
	return iss, ok
}

// pick finds the signed certificates of a request's key, the one that lasts longest
// first (a request signed twice).
func pick(leaves []signedCert, key crypto.Signer, e csrdir.Entry, cfg Config) ([]signedCert, error) {
	var found []signedCert
	for _, l := range leaves {
		if ca.KeyMatches(l.cert, key) == nil {
			found = append(found, l)
		}
	}
	if len(found) == 0 {
		return nil, fault.New(fault.Input, "no signed certificate in %s is for the key of %s (%s %s certificate): add the certificate the PKI signed from that request, or check it was signed from this request and not an older one",
			strings.Join(cfg.Signed, ", "), filepath.Join(cfg.CSRs.Path, e.CSR), e.Instance, e.Base)
	}
	sort.SliceStable(found, func(a, b int) bool { return found[a].cert.NotAfter.After(found[b].cert.NotAfter) })
	return found, nil
}

// check judges one signed certificate against its spec and builds its chain.
func check(c spec.Certificate, leaf signedCert, key crypto.Signer, cas []signedCert, cfg Config) (Issued, error) {
	cert, file := leaf.cert, leaf.file
	bad := func(format string, args ...any) error { return fault.BadFile(file, format, args...) }
	switch {
	case cfg.Now.Before(cert.NotBefore):
		return Issued{}, bad("the %s certificate of %q is not valid before %s: wait, or fix this machine's clock", c.Layer, c.Instance, cert.NotBefore.UTC().Format(time.DateTime+" MST"))
	case cfg.Now.After(cert.NotAfter):
		return Issued{}, bad("the %s certificate of %q expired on %s: have it signed again", c.Layer, c.Instance, cert.NotAfter.UTC().Format(time.DateOnly))
	}
	short, err := issuer.Compare(c, cert)
	if err != nil {
		return Issued{}, bad("the %s certificate of %q: %v", c.Layer, c.Instance, err)
	}
	switch {
	case len(short.Usages) > 0:
		return Issued{}, bad("the %s certificate of %q lacks the extended key usage %s (a %s certificate needs %s): ask the PKI team to sign it with a profile that sets %s",
			c.Layer, c.Instance, strings.Join(short.Usages, " and "), c.Layer, strings.Join(c.UsageNames(), " and "), strings.Join(c.UsageNames(), " and "))
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return Issued{}, bad("the %s certificate of %q lacks the key usage digitalSignature, which every TLS 1.3 handshake needs: ask the PKI team to sign it with a profile that sets it", c.Layer, c.Instance)
	case len(short.DNSNames) > 0:
		return Issued{}, bad("the %s certificate of %q lacks the requested DNS name %q: ask the PKI team to keep every requested DNS name", c.Layer, c.Instance, short.DNSNames[0])
	case len(short.IPs) > 0:
		return Issued{}, bad("the %s certificate of %q lacks the requested IP address %s: ask the PKI team to keep every requested IP address", c.Layer, c.Instance, short.IPs[0])
	}
	if c.KeepSubject {
		if err := issuer.CheckSubject(c, cert); err != nil {
			return Issued{}, bad("%v: ask the PKI team to sign the requested subject as it is", err)
		}
	}
	chain, err := buildChain(c, leaf, cas, cfg)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Key: key, Chain: chain, File: file, MissingOtherNames: short.OtherNames}, nil
}

// buildChain verifies the leaf up to one of its layer's trust anchors through the
// intermediates of the answer, and says precisely what is missing or wrong otherwise.
func buildChain(c spec.Certificate, leaf signedCert, cas []signedCert, cfg Config) ([]*x509.Certificate, error) {
	anchors := cfg.Roots[c.Layer]
	var roots []*x509.Certificate
	for _, a := range anchors {
		roots = append(roots, a.Cert)
	}
	pool := []*x509.Certificate{leaf.cert}
	for _, s := range cas {
		pool = append(pool, s.cert)
	}
	var roles []nodetls.Role
	if c.ServerAuth {
		roles = append(roles, nodetls.Server)
	}
	if c.ClientAuth {
		roles = append(roles, nodetls.Client)
	}
	chain, err := nodetls.Verify(pool, nodetls.Pool(roots...), roles, cfg.Now)
	if err == nil {
		return chain, nil
	}
	if problem := diagnose(leaf, cas, anchors, cfg.Now); problem != nil {
		return nil, problem
	}
	var usage *nodetls.UsageError
	if errors.As(err, &usage) {
		return nil, fault.BadFile(leaf.file, "the %s certificate of %q chains to the root, but a CA above it does not allow %s (its extended key usage leaves it out): ask the PKI team for an issuing CA that may sign %s certificates",
			c.Layer, c.Instance, roleNames(usage.Missing), c.Layer)
	}
	return nil, fault.BadFile(leaf.file, "the %s certificate of %q does not verify against %s: %v", c.Layer, c.Instance, anchorFiles(anchors), err)
}

// diagnose walks up from the leaf by issuer name and names the first link that fails:
// a missing intermediate, an expired one, or a root other than the one given.
func diagnose(leaf signedCert, cas []signedCert, anchors []Anchor, now time.Time) error {
	cur := leaf
	for range len(cas) + 1 {
		if slices.ContainsFunc(anchors, func(a Anchor) bool { return ca.IssuedBy(cur.cert, a.Cert) }) {
			return nil // reaches an anchor: the fault is elsewhere (usage)
		}
		var parent *signedCert
		for _, s := range cas {
			if ca.IssuedBy(cur.cert, s.cert) {
				parent = &s
				break
			}
		}
		if parent == nil {
			issuerDN := ca.FormatDN(cur.cert.RawIssuer)
			if ca.SelfSigned(cur.cert) {
				return fault.BadFile(cur.file, "the chain ends at the root %q, which is not the trusted root (%s): this certificate is from another CA; have it signed by your PKI's CA under that root, or give its root with --root",
					issuerDN, anchorFiles(anchors))
			}
			if cur.cert == leaf.cert {
				return fault.BadFile(leaf.file, "%q was signed by %q, which is neither among the signed files nor the trusted root (%s): add the issuing CA's certificate (the intermediate) to --signed, or, if that is not your PKI's CA, have the certificate signed again by it",
					ca.FormatDN(leaf.cert.RawSubject), issuerDN, anchorFiles(anchors))
			}
			return fault.BadFile(cur.file, "the intermediate %q was signed by %q, which is neither among the signed files nor the trusted root (%s): if it is a root, these certificates are from a CA that is not trusted here; otherwise add the missing intermediate to --signed",
				ca.FormatDN(cur.cert.RawSubject), issuerDN, anchorFiles(anchors))
		}
		switch {
		case now.After(parent.cert.NotAfter):
			return fault.BadFile(parent.file, "the intermediate %q expired on %s, so no client accepts the certificates it signed: ask the PKI team for its current certificate (or a certificate from the CA that replaced it)",
				ca.FormatDN(parent.cert.RawSubject), parent.cert.NotAfter.UTC().Format(time.DateOnly))
		case now.Before(parent.cert.NotBefore):
			return fault.BadFile(parent.file, "the intermediate %q is not valid before %s: wait, or fix this machine's clock",
				ca.FormatDN(parent.cert.RawSubject), parent.cert.NotBefore.UTC().Format(time.DateTime+" MST"))
		}
		cur = *parent
	}
	return nil
}

func roleNames(roles []nodetls.Role) string {
	var names []string
	for _, r := range roles {
		names = append(names, r.Name+"Auth")
	}
	return strings.Join(names, " and ")
}

func anchorFiles(anchors []Anchor) string {
	var files []string
	for _, a := range anchors {
		if !slices.Contains(files, a.File) {
			files = append(files, a.File)
		}
	}
	return strings.Join(files, ", ")
}

// readSigned reads every certificate of the given files and of the regular files in
// the given directories (not below them). A file that holds no certificate is
// refused rather than skipped: a signed certificate in a format escert cannot read
// would otherwise only show up as "no certificate for this key".
func readSigned(paths []string) ([]signedCert, error) {
	var out []signedCert
	read := func(file string) error {
		data, err := infile.Read(file, infile.PEM)
		if err != nil {
			return &fault.InputError{File: file, Problem: infile.Problem(err, "give the files or directory the PKI team's answer is in")}
		}
		certs, err := ca.ParseCertificates(data)
		if err != nil {
			return fault.BadFile(file, "holds no certificate escert can read (%v): give certificates as PEM, DER or PKCS#7 (.p7b), and remove other files from the directory", err)
		}
		for _, c := range certs {
			out = append(out, signedCert{cert: c, file: file})
		}
		return nil
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, &fault.InputError{File: p, Problem: infile.Problem(err, "give the files or directory the PKI team's answer is in")}
		}
		if !info.IsDir() {
			if err := read(p); err != nil {
				return nil, err
			}
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, &fault.InputError{File: p, Problem: infile.Problem(err, "")}
		}
		for _, entry := range entries {
			if entry.Type()&fs.ModeType != 0 && entry.Type()&fs.ModeSymlink == 0 {
				continue // directories and devices: only files hold an answer
			}
			if err := read(filepath.Join(p, entry.Name())); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fault.New(fault.Input, "%s: no certificates: give the files or directory the PKI team's answer is in", strings.Join(paths, ", "))
	}
	return out, nil
}
