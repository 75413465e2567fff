package rotate

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

// Renewal through a company CA comes in two runs: RequestRenewal writes a key and a
// request per due certificate into a CSR directory, and once the PKI team has signed
// them, InstallSigned swaps the signed certificates in with the same checks and the
// same atomic replacement as a local renewal.

// safeName is a certificate CN usable as a file name in the CSR directory.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// requestName is the name a certificate's renewal request goes under in a CSR
// directory: its CN when that makes a file name (what the PKI team recognises), else
// "node".
func requestName(n NodeCert) string {
	if cn := n.Leaf().Subject.CommonName; safeName.MatchString(cn) {
		return cn
	}
	return "node"
}

// RequestRenewal writes into the CSR directory dir a key and a request for each due
// certificate of the node (all of them with o.Force): the same subject and names,
// the usages its layer needs (RenewalSpec). A key already pending there for the same
// certificate is asked again with, so a daily run does not churn keys while the PKI
// team works; a pending key that is the node's own (installed since) never is. It
// returns the requests written, none when nothing is due.
func RequestRenewal(certs []NodeCert, dir string, o Options, tool string) (*csrdir.Request, error) {
	var due []spec.Certificate
	replaces := map[string]string{}
	keys := map[string]crypto.Signer{}
	var pending *csrdir.Dir
	if _, err := os.Stat(filepath.Join(dir, csrdir.RequestFile)); err == nil {
		if pending, err = csrdir.Read(dir); err != nil {
			return nil, err
		}
		if err := sameNode(pending, o.ConfigDir); err != nil {
			return nil, err
		}
	}
	configDir, err := filepath.Abs(o.ConfigDir)
	if err != nil {
		return nil, err
	}
	var keySpec fips.KeySpec
	cluster := ""
	for _, n := range certs {
		if !o.Force && !o.Window.Due(n.Leaf(), o.Now) {
			continue
		}
		c, _, err := RenewalSpec(n)
		if err != nil {
			return nil, fmt.Errorf("%s certificate: %w", n.Layer, err)
		}
		e := csrdir.EntryOf(c)
		replaces[e.ID()] = ca.Fingerprint(n.Leaf())
		if pending != nil {
			if old, ok := pending.Request.Find(e.Dir, e.Base); ok && old.Replaces == replaces[e.ID()] {
				key, err := pending.Key(old)
				if err != nil {
					return nil, err
				}
				if ca.KeyMatches(n.Leaf(), key) != nil {
					keys[e.ID()] = key
				}
			}
		}
		if keySpec, err = fips.SpecOf(n.Key.Public()); err != nil {
			return nil, err
		}
		for _, other := range c.OtherNames {
			if _, rest, ok := strings.Cut(other, ".node."); ok && n.Layer == spec.Transport {
				cluster = rest
			}
		}
		due = append(due, c)
	}
	if len(due) == 0 {
		return nil, nil
	}
	// Keys keep their type: the node's JVM and the PKI's profile accept it already.
	files, req, err := csrdir.Files(csrdir.Input{
		Certificates: due, Options: spec.Options{ClusterName: cluster, TrustRestrictions: cluster != ""},
		Key: keySpec, Policy: o.Policy, Rand: o.Rand, Now: o.Now, Tool: tool,
		ConfigDir: configDir, Replaces: replaces, Keys: keys,
	})
	if err != nil {
		return nil, err
	}
	w := atomicfs.Writer{Notify: o.Notify}
	if err := w.WriteInto(dir, files); err != nil {
		return nil, err
	}
	return req, nil
}

// sameNode refuses a CSR directory made for another node's renewal (or for a
// bootstrap).
func sameNode(d *csrdir.Dir, configDir string) error {
	want, err := filepath.Abs(configDir)
	if err != nil {
		return err
	}
	if d.Request.ConfigDir != want {
		what := "a bootstrap (escert csr)"
		if d.Request.ConfigDir != "" {
			what = "the node at " + d.Request.ConfigDir
		}
		return fault.BadFile(filepath.Join(d.Path, csrdir.RequestFile), "holds requests for %s, not for %s: give each node its own --csr-dir", what, want)
	}
	return nil
}

// InstallSigned swaps in the signed certificates of the requests pending in the CSR
// directory: o.Issuer (issuer/pki, built from RenewalSpec of the same certificates)
// hands out each one checked against the node's own trust. Only certificates with a
// pending request are touched, due or not, and the request must renew the very
// certificate the node has now. The used keys and requests are removed from the
// directory once the files are in place.
func InstallSigned(ctx context.Context, certs []NodeCert, d *csrdir.Dir, o Options) ([]Renewed, string, error) {
	if err := sameNode(d, o.ConfigDir); err != nil {
		return nil, "", err
	}
	var todo []NodeCert
	var used []csrdir.Entry
	for _, n := range certs {
		e, ok := d.Request.Find(requestName(n), string(n.Layer))
		if !ok {
			continue
		}
		if e.Replaces != ca.Fingerprint(n.Leaf()) {
			return nil, "", fault.BadFile(filepath.Join(d.Path, e.CSR), "renews a %s certificate the node no longer has (it changed since the request was made): request again with escert renew --issuer pki --csr-dir %s", n.Layer, d.Path)
		}
		todo = append(todo, n)
		used = append(used, e)
	}
	if len(todo) == 0 {
		return nil, "", fault.BadFile(filepath.Join(d.Path, csrdir.RequestFile), "holds no pending request for this node: request first with escert renew --issuer pki --csr-dir %s", d.Path)
	}
	o.Force = true
	// A company's PKI may sign the renewal with another issuing CA under the same
	// root: what matters is that it chains to what the node and its peers trust.
	done, backup, err := renew(ctx, todo, o, true)
	// Forget what is installed even when a later swap failed: a re-run then finishes
	// the rest instead of refusing a request whose certificate the node now has.
	var installed []csrdir.Entry
	for _, e := range used {
		if slices.ContainsFunc(done, func(r Renewed) bool { return string(r.Layer) == e.Base }) {
			installed = append(installed, e)
		}
	}
	if len(installed) > 0 {
		if ferr := d.Forget(atomicfs.Writer{Notify: o.Notify}, installed); ferr != nil && !errors.Is(ferr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("renewed, but removing the used keys from %s failed (remove them by hand): %w", d.Path, ferr)
		}
	}
	return done, backup, err
}

// PendingSpecs are the certificates the pending requests of d renew, as
// RenewalSpec makes them: what issuer/pki checks the signed certificates against.
func PendingSpecs(certs []NodeCert, d *csrdir.Dir) ([]spec.Certificate, error) {
	var out []spec.Certificate
	for _, n := range certs {
		if _, ok := d.Request.Find(requestName(n), string(n.Layer)); !ok {
			continue
		}
		c, _, err := RenewalSpec(n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
