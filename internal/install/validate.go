package install

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/p12"
)

// validateBundle refuses a node bundle the node could not start with, before anything
// is written: installing it would turn TLS on with files Elasticsearch cannot load or
// other nodes reject. The block is read as the node will read it once installed
// (nodetls's model, relative paths starting at the bundle as they will at the config
// directory). Every file a layer names must be in the bundle; each PKCS#12 must open
// with the password the bundle's keystore holds for it and hold one key entry and the
// layer's CA as trusted entries; each key must match its certificate; each chain must
// verify to the bundle's own CA of its layer (certs/<layer>-ca.crt); and the
// certificates must be this node's. One path serves both layers and both formats, so a
// p12 and a PEM bundle are held to the same rules.
func validateBundle(dir, settingsFile string, node nodetls.Node) error {
	v := &bundleCheck{dir: dir, settingsFile: settingsFile}
	leaves := map[string]leafFile{}
	for _, l := range node.Layers {
		leaf, err := v.layer(l)
		if err != nil {
			return err
		}
		if leaf.cert != nil {
			leaves[l.Name] = leaf
		}
	}
	return v.sameNode(leaves)
}

type bundleCheck struct{ dir, settingsFile string }

// leafFile is a node certificate and the bundle file it came from.
type leafFile struct {
	cert *x509.Certificate
	path string
}

func (v *bundleCheck) blockPath() string { return filepath.Join(v.dir, v.settingsFile) }

// read reads a file the block names, relative to the bundle as it will be relative to
// the config directory. A missing or empty file is the bundle's fault.
func (v *bundleCheck) read(f nodetls.File) (string, []byte, error) {
	return v.readAs(fmt.Sprintf("the bundle's %s names it (%s)", v.settingsFile, f.Setting), f.Value, f.Kind)
}

// readAs is read for a file the bundle must hold because of why.
func (v *bundleCheck) readAs(why, value string, kind infile.Kind) (string, []byte, error) {
	if !filepath.IsLocal(filepath.FromSlash(value)) {
		return "", nil, &fault.InputError{File: v.blockPath(), Problem: fmt.Sprintf("names %s, outside the bundle: a node bundle's settings name its own certs/ files", value)}
	}
	path := filepath.Join(v.dir, filepath.FromSlash(value))
	data, err := infile.Read(path, kind)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, &fault.InputError{File: path, Problem: fmt.Sprintf("missing, though %s: copy the node's whole bundle directory again", why)}
	case err != nil:
		return "", nil, readError(path, err)
	case len(data) == 0:
		return "", nil, &fault.InputError{File: path, Problem: "is empty: copy the node's whole bundle directory again"}
	}
	return path, data, nil
}

// bundlePassword is the password the bundle's keystore holds for s. A bundle brings
// its passwords there only: a plaintext one in its settings block counts as none.
func bundlePassword(s nodetls.Secret) (string, bool) {
	if !s.InKeystore {
		return "", false
	}
	return s.Value, true
}

// layer checks one layer's files and returns its leaf (none when the block leaves
// the layer's TLS unconfigured).
func (v *bundleCheck) layer(l nodetls.Layer) (leafFile, error) {
	if l.Keystore == nil && l.Certificate == nil {
		if l.Enabled {
			return leafFile{}, &fault.InputError{File: v.blockPath(), Problem: fmt.Sprintf("turns TLS on for the %s layer but names no keystore.path or certificate: bootstrap the bundle again", l.Name)}
		}
		return leafFile{}, nil
	}
	caPath := filepath.Join(v.dir, "certs", l.Name+"-ca.crt")
	_, caData, err := v.readAs("every node bundle holds its layers' CAs", "certs/"+l.Name+"-ca.crt", infile.PEM)
	if err != nil {
		return leafFile{}, err
	}
	cas, err := ca.ParseCertificates(caData)
	if err != nil {
		return leafFile{}, &fault.InputError{File: caPath, Problem: fmt.Sprintf("not the bundle's %s CA (%v): copy the node's whole bundle directory again", l.Name, err)}
	}
	var leaf leafFile
	if ks := l.Keystore; ks != nil {
		path, contents, err := v.openP12(*ks, caPath, cas)
		if err != nil {
			return leafFile{}, err
		}
		if len(contents.Keys) != 1 || len(contents.Keys[0].Chain) == 0 {
			return leafFile{}, &fault.InputError{File: path, Problem: fmt.Sprintf("holds %d key entries with a certificate, not the node's one: copy the node's whole bundle directory again", len(contents.Keys))}
		}
		chain := contents.Keys[0].Chain
		signer, _ := contents.Keys[0].Key.(crypto.Signer)
		leaf = leafFile{cert: chain[0], path: path}
		if err := v.keyMatches(leaf, signer, path); err != nil {
			return leafFile{}, err
		}
		if err := v.verify(chain, cas, path, caPath); err != nil {
			return leafFile{}, err
		}
		// The transport p12 is its own truststore under the same password: opening it
		// again would check nothing new.
		ksPass, _ := bundlePassword(ks.Password)
		if ts := l.Truststore; ts != nil {
			if tsPass, _ := bundlePassword(ts.Password); ts.Value != ks.Value || tsPass != ksPass {
				if _, _, err := v.openP12(*ts, caPath, cas); err != nil {
					return leafFile{}, err
				}
			}
		}
	} else {
		path, data, err := v.read(*l.Certificate)
		if err != nil {
			return leafFile{}, err
		}
		chain, err := ca.ParseCertificates(data)
		if err != nil {
			return leafFile{}, &fault.InputError{File: path, Problem: fmt.Sprintf("holds no usable certificate (%v): copy the node's whole bundle directory again", err)}
		}
		leaf = leafFile{cert: chain[0], path: path}
		if l.Key == nil {
			return leafFile{}, &fault.InputError{File: v.blockPath(), Problem: fmt.Sprintf("names the certificate %s (%s) but no key (%s), and Elasticsearch will not start without it: bootstrap the bundle again", l.Certificate.Value, l.Certificate.Setting, l.Keys.Key)}
		}
		keyPath, keyData, err := v.read(*l.Key)
		if err != nil {
			return leafFile{}, err
		}
		passphrase, _ := bundlePassword(l.KeyPassphrase)
		signer, err := ca.ParseKeyPEM(keyData, []byte(passphrase))
		if err != nil {
			return leafFile{}, &fault.InputError{File: keyPath, Problem: fmt.Sprintf("holds no usable private key (%v): copy the node's whole bundle directory again", err)}
		}
		if err := v.keyMatches(leaf, signer, keyPath); err != nil {
			return leafFile{}, err
		}
		if err := v.verify(chain, cas, path, caPath); err != nil {
			return leafFile{}, err
		}
		for _, f := range l.CAs {
			path, data, err := v.read(f)
			if err != nil {
				return leafFile{}, err
			}
			if _, err := ca.ParseCertificates(data); err != nil {
				return leafFile{}, &fault.InputError{File: path, Problem: fmt.Sprintf("holds no usable CA certificate (%v): copy the node's whole bundle directory again", err)}
			}
		}
	}
	if tr := l.TrustRestrictions; tr != nil {
		path, data, err := v.read(*tr)
		if err != nil {
			return leafFile{}, err
		}
		if parsed, err := esconfig.Parse(data); err != nil || len(parsed.List("trust.subject_name")) == 0 {
			return leafFile{}, &fault.InputError{File: path, Problem: "is not a trust restrictions file (no trust.subject_name list), and Elasticsearch will not start with it: copy the node's whole bundle directory again"}
		}
	}
	return leaf, nil
}

// openP12 opens a PKCS#12 store the block names with the password the bundle's
// keystore holds for it, and checks it trusts every certificate of the layer's CA
// file: Elasticsearch trusts a keystore's or truststore's trusted entries only.
func (v *bundleCheck) openP12(s nodetls.Store, caPath string, cas []*x509.Certificate) (string, *p12.Contents, error) {
	path, data, err := v.read(s.File)
	if err != nil {
		return "", nil, err
	}
	password, ok := bundlePassword(s.Password)
	if !ok {
		return "", nil, &fault.InputError{File: filepath.Join(v.dir, "elasticsearch.keystore"), Problem: fmt.Sprintf("holds no %s, so Elasticsearch cannot open %s: copy the node's whole bundle directory again", s.Password.Secure, path)}
	}
	contents, err := p12.Decode(data, password)
	switch {
	case errors.Is(err, p12.ErrWrongPassword):
		return "", nil, &fault.InputError{File: path, Problem: fmt.Sprintf("does not open with the password the bundle's elasticsearch.keystore holds (%s): it is another bundle's file (another node's?) or damaged; copy the node's whole bundle directory again", s.Password.Secure)}
	case err != nil:
		return "", nil, &fault.InputError{File: path, Problem: fmt.Sprintf("not a usable PKCS#12 file (%v): copy the node's whole bundle directory again", err)}
	}
	for _, want := range cas {
		if !slices.ContainsFunc(contents.Trusted, func(t p12.TrustedCert) bool { return t.Cert.Equal(want) }) {
			return "", nil, &fault.InputError{File: path, Problem: fmt.Sprintf("has no trusted entry for the CA %q of %s, so Elasticsearch would not trust the other nodes' certificates: copy the node's whole bundle directory again", ca.FormatDN(want.RawSubject), caPath)}
		}
	}
	return path, contents, nil
}

func (v *bundleCheck) keyMatches(leaf leafFile, key crypto.Signer, keyPath string) error {
	if key == nil || ca.KeyMatches(leaf.cert, key) != nil {
		return &fault.InputError{File: keyPath, Problem: fmt.Sprintf("the private key does not match the certificate %q in %s: copy the node's whole bundle directory again", ca.FormatDN(leaf.cert.RawSubject), filepath.Base(leaf.path))}
	}
	return nil
}

// verify checks that chain leads to the bundle's CA. Expiry is not this check's
// business (escert check and renew report it), so the chain is verified at a moment
// inside the leaf's validity; nor are usages (escert check reports a layer's).
func (v *bundleCheck) verify(chain, cas []*x509.Certificate, path, caPath string) error {
	leaf := chain[0]
	if _, err := nodetls.Verify(chain, nodetls.Pool(cas...), nil, expiry.MidLife(leaf)); err != nil {
		return &fault.InputError{File: path, Problem: fmt.Sprintf("the certificate %q was not issued by the bundle's CA in %s (%v): copy the node's whole bundle directory again, or issue it from that CA", ca.FormatDN(leaf.RawSubject), filepath.Base(caPath), err)}
	}
	return nil
}

// sameNode refuses certificates of another node. When the bundle still sits in its
// bootstrap output (DIR/nodes/<name> beside DIR/manifest.json), each certificate must
// be the one the manifest records for this node. A bundle copied on its own has no
// record, but its two layers' certificates name the same instance, so a file swapped
// in from another node's bundle differs from its neighbour.
func (v *bundleCheck) sameNode(leaves map[string]leafFile) error {
	recorded, manifestPath, err := v.manifestCertificates()
	if err != nil {
		return err
	}
	for _, layer := range []string{esconfig.Transport, esconfig.HTTP} {
		leaf, ok := leaves[layer]
		want, listed := recorded[layer]
		if !ok || !listed {
			continue
		}
		if got := ca.Fingerprint(leaf.cert); got != want {
			return &fault.InputError{File: leaf.path, Problem: fmt.Sprintf("holds the certificate %q (SHA-256 %s), not the one %s records for this node (SHA-256 %s): it is another node's file; copy the node's whole bundle directory again", ca.FormatDN(leaf.cert.RawSubject), got, manifestPath, want)}
		}
	}
	t, h := leaves[esconfig.Transport], leaves[esconfig.HTTP]
	if t.cert != nil && h.cert != nil && t.cert.Subject.CommonName != h.cert.Subject.CommonName {
		return &fault.InputError{File: t.path, Problem: fmt.Sprintf("its certificate is for %q but %s's is for %q: the bundle mixes two nodes' files; copy the node's whole bundle directory again", t.cert.Subject.CommonName, filepath.Base(h.path), h.cert.Subject.CommonName)}
	}
	return nil
}

// manifestCertificates returns the SHA-256 of each certificate (by name: transport,
// http) that the bootstrap's manifest records for this bundle; nil when the bundle is
// not inside a bootstrap output that lists it (a bundle copied on its own).
func (v *bundleCheck) manifestCertificates() (map[string]string, string, error) {
	dir, err := filepath.Abs(v.dir)
	if err != nil {
		return nil, "", fmt.Errorf("find %s's bootstrap output: %w", v.dir, err)
	}
	parent := filepath.Dir(dir)
	if filepath.Base(parent) != "nodes" {
		return nil, "", nil
	}
	path := filepath.Join(filepath.Dir(parent), manifest.File)
	data, err := infile.Read(path, infile.Manifest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", nil
	case err != nil:
		return nil, "", readError(path, err)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return nil, "", &fault.InputError{File: path, Problem: fmt.Sprintf("not an escert manifest (%v): it sits beside nodes/, so it should describe the bundles there", err)}
	}
	inst := m.Instance("nodes/" + filepath.Base(dir))
	if inst == nil {
		return nil, "", nil
	}
	out := map[string]string{}
	for _, c := range inst.Certificates {
		out[c.Name] = c.SHA256
	}
	return out, path, nil
}
