package rotate

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// NextDir holds the new CA inside the CA directory from `ca rotate begin` until
// `ca rotate finish` promotes it.
const NextDir = "next"

// CA rotation runs in three fleet-wide phases, each safe to re-run on any node:
//
//	begin   the new CA exists; every node trusts the old and the new CA
//	issue   every node's leaf comes from the new CA (peers trust both)
//	finish  every node trusts the new CA only; the CA directory promotes it
//
// Each phase must reach every node before the next starts: a node still trusting the
// old CA alone cannot talk to a node already presenting a new-CA certificate.

// CAOptions shape one rotation step.
type CAOptions struct {
	CADir    string
	Layers   []spec.Layer
	Password []byte // CA key passphrase, for the current and the next CA
	Policy   fips.Policy
	Key      fips.KeySpec // for a new CA; zero: the current CA's key type
	Days     int          // lifetime of a new CA
	Cluster  string
	Rand     io.Reader
	Now      time.Time
	// Notify hears what a write did besides writing (atomicfs.Writer's Notify).
	Notify func(msg string)
}

func (o CAOptions) now() time.Time { return o.Now }

func (o CAOptions) write() atomicfs.Writer { return atomicfs.Writer{Notify: o.Notify} }

// NewCA is a local rotation's new CA. Created says this run made it: it then exists
// in memory only until Save writes it to <ca-dir>/next/, which begin does once
// nothing can fail for bad input any more, so a refused begin leaves no new CA behind.
type NewCA struct {
	*issuer.Local
	Created bool
	dir     string
	files   []atomicfs.File
	now     time.Time
	write   atomicfs.Writer
}

// Save writes a CA this run created into <ca-dir>/next/.
func (n *NewCA) Save() error {
	if !n.Created {
		return nil
	}
	_, err := n.write.WriteTree(n.dir, n.files, false, n.now)
	return err
}

// NextCA returns the rotation's new CA: the one under CADir/next/, or a new one to
// Save there.
func NextCA(o CAOptions) (*NewCA, error) {
	dir := filepath.Join(o.CADir, NextDir)
	if _, err := os.Stat(dir); err == nil {
		next, err := issuer.LoadLocalLayers(dir, o.Layers, o.Password, o.Policy, o.Rand, o.now)
		if err != nil {
			return nil, err
		}
		return &NewCA{Local: next, dir: dir}, nil
	}
	current, err := issuer.LoadLocalLayers(o.CADir, o.Layers, o.Password, o.Policy, o.Rand, o.now)
	if err != nil {
		return nil, err
	}
	if current.SingleCA() {
		return nil, &fault.InputError{File: o.CADir, Problem: "holds one CA for both layers (--single-ca); rotating it is not supported yet: bootstrap a two-CA cluster, or renew within the CA's life"}
	}
	next := &issuer.Local{CAs: map[spec.Layer]*ca.Authority{}, Policy: o.Policy, Rand: o.Rand, Now: o.now}
	for _, layer := range o.Layers {
		key := o.Key
		if key.Type == "" {
			if key, err = fips.SpecOf(current.CAs[layer].Key.Public()); err != nil {
				return nil, err
			}
		}
		k, err := ca.GenerateKey(o.Rand, o.Policy, key)
		if err != nil {
			return nil, err
		}
		subject := current.CAs[layer].Cert.Subject
		subject.CommonName += " " + o.Now.UTC().Format("2006-01")
		cert, err := ca.NewRoot(o.Rand, o.Policy, k, subject, o.Now, o.Now.AddDate(0, 0, o.Days))
		if err != nil {
			return nil, err
		}
		next.CAs[layer] = &ca.Authority{Cert: cert, Key: k}
	}
	files, err := cadir.Files(next.CAs, "", o.Rand, o.Password)
	if err != nil {
		return nil, err
	}
	return &NewCA{Local: next, Created: true, dir: dir, files: files, now: o.Now, write: o.write()}, nil
}

// The next CA is any issuer: a new local CA from NextCA, or a Vault PKI mount (or a
// new issuer of one), which is also how a cluster moves from local CAs to Vault.
// Its Trust(layer) is the chain nodes must trust, the issuing CA first.

// issuingCA is the CA that signs the next issuer's certificates of the layer.
func issuingCA(next issuer.Issuer, layer spec.Layer) (*x509.Certificate, error) {
	chain := next.Trust(layer)
	if len(chain) == 0 {
		return nil, fmt.Errorf("the new issuer has no CA for the %s layer", layer)
	}
	return chain[0], nil
}

// PlanBegin works out how begin makes the node trust the next CA (its whole chain)
// beside the current one, on the rotated layers, and refuses a node it cannot edit,
// all before anything is written.
func PlanBegin(configDir string, certs []NodeCert, next issuer.Issuer, o CAOptions) (*TrustChange, error) {
	return planTrust(configDir, certs, o, stepBegin, func(n NodeCert, current []*x509.Certificate) []*x509.Certificate {
		return AppendMissing(current, next.Trust(n.Layer)...)
	})
}

// Issue re-issues the node's certificates on the rotated layers from the next CA,
// keeping the node's trust (old and new). It refuses a node that does not trust the
// next CA yet: `begin` has not reached it.
func Issue(ctx context.Context, configDir string, certs []NodeCert, next issuer.Issuer, o CAOptions) ([]Renewed, error) {
	var due []NodeCert
	for _, n := range certs {
		if !slices.Contains(o.Layers, n.Layer) {
			continue
		}
		trusted, err := n.Trusted()
		if err != nil {
			return nil, err
		}
		issuing, err := issuingCA(next, n.Layer)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(trusted, issuing.Equal) {
			return nil, &fault.InputError{File: n.Files()[0], Problem: "does not trust the new CA yet: run `escert ca rotate begin` on this node (and every other) first"}
		}
		if n.Leaf().CheckSignatureFrom(issuing) == nil {
			continue // already issued from the new CA: re-running is a no-op
		}
		due = append(due, n)
	}
	renewed, _, err := renew(ctx, due, Options{ConfigDir: configDir, Issuer: next, Policy: o.Policy, Force: true, Rand: o.Rand, Now: o.Now, Notify: o.Notify}, true)
	if err != nil {
		return renewed, err
	}
	return renewed, record(o, configDir, certs, stepIssue)
}

// Finish makes the node trust the next CA alone on the rotated layers, once its own
// certificates come from it.
func Finish(configDir string, certs []NodeCert, next issuer.Issuer, o CAOptions) ([]string, error) {
	for _, n := range certs {
		if !slices.Contains(o.Layers, n.Layer) {
			continue
		}
		issuing, err := issuingCA(next, n.Layer)
		if err != nil {
			return nil, err
		}
		if n.Leaf().CheckSignatureFrom(issuing) != nil {
			return nil, &fault.InputError{File: n.Files()[0], Problem: "still holds a certificate from the old CA: run `escert ca rotate issue` on this node (and every other) first"}
		}
	}
	change, err := planTrust(configDir, certs, o, stepFinish, func(n NodeCert, _ []*x509.Certificate) []*x509.Certificate {
		return next.Trust(n.Layer)
	})
	if err != nil {
		return nil, err
	}
	return change.Apply()
}

// Promote moves the next CA into the CA directory's main place, keeping the old one
// under retired-<time>/, and ends the rotation. Run it once every node has finished:
// Pending says whether one has not.
func Promote(o CAOptions) (string, error) {
	next := filepath.Join(o.CADir, NextDir)
	if _, err := os.Stat(next); err != nil {
		return "", &fault.InputError{File: next, Problem: "no rotation in progress: run `escert ca rotate begin` first"}
	}
	retired := filepath.Join(o.CADir, "retired-"+o.Now.UTC().Format("20060102T150405Z"))
	var moves []atomicfs.Move
	for _, layer := range o.Layers {
		for _, ext := range []string{".crt", ".key"} {
			name := cadir.Base(layer, false) + ext
			moves = append(moves,
				atomicfs.Move{From: filepath.Join(o.CADir, name), To: filepath.Join(retired, name)},
				atomicfs.Move{From: filepath.Join(next, name), To: filepath.Join(o.CADir, name)})
		}
	}
	if err := atomicfs.MoveFiles(moves); err != nil {
		return "", err
	}
	if err := removeRecords(next); err != nil {
		return "", err
	}
	return retired, os.Remove(next)
}

// TrustChange is the trust a phase gives a node's rotated layers, worked out before
// anything is written; files that would not change are left out.
type TrustChange struct {
	configDir string
	certs     []NodeCert
	o         CAOptions
	step      step
	files     []atomicfs.Replacement
	old       map[string][]byte // config-relative path: content, for the backup
}

// planTrust works out the trust want returns for each rotated layer, keeping keys,
// chains and passwords.
func planTrust(configDir string, certs []NodeCert, o CAOptions, s step, want func(NodeCert, []*x509.Certificate) []*x509.Certificate) (*TrustChange, error) {
	change := &TrustChange{configDir: configDir, certs: certs, o: o, step: s, old: map[string][]byte{}}
	for _, n := range certs {
		if !slices.Contains(o.Layers, n.Layer) {
			continue
		}
		if n.separateTruststore {
			return nil, &fault.InputError{File: n.P12Path, Problem: "its truststore is a separate file, which escert's CA rotation does not edit: use the keystore as the truststore"}
		}
		current, err := n.Trusted()
		if err != nil {
			return nil, err
		}
		trust := want(n, current)
		if slices.EqualFunc(current, trust, (*x509.Certificate).Equal) {
			continue
		}
		var f atomicfs.Replacement
		var before []byte
		switch {
		case n.P12Path != "":
			var entries []p12.TrustedCert
			for i, c := range trust {
				alias := string(n.Layer) + "_ca"
				if i > 0 {
					alias = fmt.Sprintf("%s_ca_%d", n.Layer, i+1)
				}
				entries = append(entries, p12.TrustedCert{Alias: alias, Cert: c})
			}
			data, err := p12.Encode(o.Rand, n.password, &p12.KeyEntry{Alias: n.alias, Key: n.Key, Chain: n.Chain}, entries)
			if err != nil {
				return nil, err
			}
			perm, err := atomicfs.PermOf(n.P12Path, 0o640)
			if err != nil {
				return nil, err
			}
			f, before = atomicfs.Replacement{Path: n.P12Path, Data: data, Perm: perm}, n.read[n.P12Path]
		case len(n.caPaths) == 1:
			perm, err := atomicfs.PermOf(n.caPaths[0], 0o644)
			if err != nil {
				return nil, err
			}
			if before, err = infile.Read(n.caPaths[0], infile.PEM); err != nil {
				return nil, inputErr(n.caPaths[0], err)
			}
			f = atomicfs.Replacement{Path: n.caPaths[0], Data: ca.EncodeCertificates(trust...), Perm: perm}
		default:
			return nil, fault.BadFile(n.KeyPath, "the %s layer names %d certificate_authorities files; CA rotation edits exactly one", n.Layer, len(n.caPaths))
		}
		if rel, err := filepath.Rel(configDir, f.Path); err == nil {
			change.old[filepath.ToSlash(rel)] = before
		}
		change.files = append(change.files, f)
	}
	return change, nil
}

// Apply backs up and rewrites the files, then records the node's step in the
// rotation's state. It returns the files it changed.
func (c *TrustChange) Apply() ([]string, error) {
	var changed []string
	if len(c.files) > 0 {
		w := c.o.write()
		if _, err := w.Backup(c.configDir, c.o.Now, c.old); err != nil {
			return nil, err
		}
		for _, f := range c.files {
			if err := w.ReplaceTogether([]atomicfs.Replacement{f}); err != nil {
				return changed, err
			}
			changed = append(changed, f.Path)
		}
	}
	return changed, record(c.o, c.configDir, c.certs, c.step)
}

// AppendMissing returns list followed by those of certs it does not hold yet.
func AppendMissing(list []*x509.Certificate, certs ...*x509.Certificate) []*x509.Certificate {
	out := slices.Clone(list)
	for _, c := range certs {
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// ErrNotRotating is returned by issue and finish when begin has not run.
var ErrNotRotating = fault.Sentinel(fault.Input, "no CA rotation in progress: run `escert ca rotate begin` first")

// LoadNext loads the rotation's new CA, which begin created.
func LoadNext(o CAOptions) (*issuer.Local, error) {
	dir := filepath.Join(o.CADir, NextDir)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRotating)
	}
	return issuer.LoadLocalLayers(dir, o.Layers, o.Password, o.Policy, o.Rand, o.now)
}
