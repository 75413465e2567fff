package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer/pki"
	"github.com/escert/escert/internal/rotate"
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

// requestRenewal is the first run of a renewal through the company CA: keys and
// requests for the node's due certificates, nothing on the node changed.
func requestRenewal(stdout, stderr io.Writer, certs []rotate.NodeCert, csrDir string, o rotate.Options, asJSON bool) error {
	if csrDir == "" {
		return usagef("renew --issuer pki needs --csr-dir: where the keys and requests go (and, with --signed, where they are)")
	}
	req, err := rotate.RequestRenewal(certs, csrDir, o, "escert "+Version)
	if err != nil {
		return err
	}
	if req == nil {
		fmt.Fprintln(stderr, "not due: nothing requested")
		if asJSON {
			return printJSON(stdout, []csrdir.Entry{})
		}
		return nil
	}
	if asJSON {
		return printJSON(stdout, req.Certificates)
	}
	for _, c := range req.Certificates {
		fmt.Fprintf(stdout, "requested %s: %s\n", c.Layer, filepath.Join(csrDir, c.CSR))
	}
	fmt.Fprintf(stderr, "Send the requests and %s to the PKI team; the node is unchanged. With the signed certificates in SIGNED/:\n  escert renew --es-config %s --issuer pki --csr-dir %s --signed SIGNED\n",
		filepath.Join(csrDir, csrdir.NotesFile), o.ConfigDir, csrDir)
	return nil
}

// installSigned is the second run: the signed certificates, checked against the
// node's own trust, swapped in.
func (f *issuerFlags) installSigned(ctx context.Context, certs []rotate.NodeCert, o rotate.Options, stderr io.Writer) ([]rotate.Renewed, string, error) {
	if f.pki.csrDir == "" {
		return nil, "", usagef("renew --issuer pki --signed needs --csr-dir: the directory of the pending keys and requests")
	}
	for _, name := range []string{"root", "transport-root", "http-root"} {
		if fl := f.fs.Lookup(name); fl != nil && fl.Changed {
			return nil, "", usagef("--%s: a renewal chains to what the node already trusts; to change the root, rotate the CA (escert ca rotate)", name)
		}
	}
	d, err := csrdir.Read(f.pki.csrDir)
	if err != nil {
		return nil, "", err
	}
	specs, err := rotate.PendingSpecs(certs, d)
	if err != nil {
		return nil, "", err
	}
	roots := map[spec.Layer][]pki.Anchor{}
	for _, n := range certs {
		trusted, err := n.Trusted()
		if err != nil {
			return nil, "", err
		}
		for _, c := range trusted {
			roots[n.Layer] = append(roots[n.Layer], pki.Anchor{Cert: c, File: "the node's " + string(n.Layer) + " trust"})
		}
	}
	iss, err := pki.New(pki.Config{CSRs: d, Certificates: specs, Signed: f.pki.signed, Roots: roots, Policy: o.Policy, Now: o.Now})
	if err != nil {
		return nil, "", err
	}
	for _, u := range iss.Unmatched {
		fmt.Fprintf(stderr, "warning: %s matches no pending request in %s: ignored\n", u, d.Path)
	}
	o.Issuer = iss
	return rotate.InstallSigned(ctx, certs, d, o)
}
