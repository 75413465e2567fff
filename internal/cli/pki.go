package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer/pki"
	"github.com/escert/escert/internal/spec"
)

// decidedByRequest are the bootstrap flags whose choice the CSR directory already
// made: the requests carry the names, keys and node names they imply.
var decidedByRequest = []string{"instances", "cluster-name", "no-localhost", "key-type", "key-size", "curve", "days", "ca-dir", "single-ca", "ca-days", "ca-pass-file", "target", "os-version"}

// pkiRequest reads the CSR directory of a bootstrap --issuer pki, refusing the flags
// it decides, and takes its choices into opts.
func (f *issuerFlags) pkiRequest(opts *bundle.Options) (*csrdir.Dir, error) {
	for _, name := range decidedByRequest {
		if fl := f.fs.Lookup(name); fl != nil && fl.Changed {
			return nil, usagef("--%s: with --issuer pki the CSR directory decides it (run escert csr again to change it); drop the flag", name)
		}
	}
	if f.pki.csrDir == "" || len(f.pki.signed) == 0 {
		return nil, usagef("--issuer pki needs --csr-dir (what escert csr wrote) and --signed (the PKI team's answer)")
	}
	dir, err := csrdir.Read(f.pki.csrDir)
	if err != nil {
		return nil, err
	}
	opts.Spec.ClusterName, opts.Spec.Localhost = dir.Request.Cluster, dir.Request.Localhost
	// --no-trust-restrictions stays the operator's: it accepts a transport layer
	// that nothing in the signed certificates can restrict.
	opts.Spec.TrustRestrictions = dir.Request.TrustRestrictions && opts.Spec.TrustRestrictions
	return dir, nil
}

// buildPKI checks the PKI team's answer for certs and decides the trust restrictions
// the transport certificates allow; it prints what the operator must know.
func (f *issuerFlags) buildPKI(dir *csrdir.Dir, certs []spec.Certificate, opts *bundle.Options, esVersion string, now time.Time, stderr io.Writer) (*pki.Issuer, error) {
	roots, err := f.pkiRoots(now)
	if err != nil {
		return nil, err
	}
	iss, err := pki.New(pki.Config{CSRs: dir, Certificates: certs, Signed: f.pki.signed, Roots: roots, Policy: opts.Policy, Now: now})
	if err != nil {
		return nil, err
	}
	for _, u := range iss.Unmatched {
		fmt.Fprintf(stderr, "warning: %s matches no request in %s: ignored\n", u, dir.Path)
	}
	if len(certs) > 0 {
		first, _ := iss.Issued(certs[0].Dir, certs[0].Base)
		if opts.Key, err = fips.SpecOf(first.Key.Public()); err != nil {
			return nil, err
		}
	}
	if !opts.Spec.TrustRestrictions {
		if dir.Request.TrustRestrictions {
			fmt.Fprintln(stderr, "warning: --no-trust-restrictions: any certificate the transport CA signs with clientAuth can join the transport layer")
		}
		return iss, nil
	}
	var nodes []spec.Certificate
	for _, c := range certs {
		if c.Kind == spec.Elasticsearch && c.Layer == spec.Transport {
			nodes = append(nodes, c)
		}
	}
	version, err := esconfig.ParseVersion(esVersion)
	if err != nil {
		return nil, usagef("--es-version: %w", err)
	}
	r, note, err := iss.Restriction(nodes, opts.Spec.ClusterName, esconfig.TrustFieldsSupported(version))
	if err != nil {
		return nil, err
	}
	opts.Restriction = r
	if note != "" {
		fmt.Fprintln(stderr, "warning: "+note)
	}
	return iss, nil
}

// pkiRoots reads the trust anchors of each layer: --transport-root and --http-root,
// each defaulting to --root.
func (f *issuerFlags) pkiRoots(now time.Time) (map[spec.Layer][]pki.Anchor, error) {
	files := map[spec.Layer]string{spec.Transport: f.pki.transportRoot, spec.HTTP: f.pki.httpRoot}
	roots := map[spec.Layer][]pki.Anchor{}
	for layer, file := range files {
		if file == "" {
			file = f.step.root
		}
		if file == "" {
			return nil, usagef("--issuer pki needs --root (or --%s-root): the CA certificate the %s layer trusts", layer, layer)
		}
		anchors, err := readAnchors(file, now)
		if err != nil {
			return nil, err
		}
		roots[layer] = anchors
	}
	return roots, nil
}

func readAnchors(file string, now time.Time) ([]pki.Anchor, error) {
	data, err := infile.Read(file, infile.PEM)
	if err != nil {
		return nil, &fault.InputError{File: file, Problem: infile.Problem(err, "give the root certificate the PKI team publishes")}
	}
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		return nil, fault.BadFile(file, "%v", err)
	}
	var anchors []pki.Anchor
	for _, c := range certs {
		switch {
		case !c.IsCA:
			return nil, fault.BadFile(file, "%q is not a CA certificate (no basicConstraints CA:TRUE): give the root (or issuing) CA's certificate, not a node's", ca.FormatDN(c.RawSubject))
		case now.After(c.NotAfter):
			return nil, fault.BadFile(file, "the CA %q expired on %s: ask the PKI team for its current root", ca.FormatDN(c.RawSubject), c.NotAfter.UTC().Format(time.DateOnly))
		}
		anchors = append(anchors, pki.Anchor{Cert: c, File: file})
	}
	return anchors, nil
}
