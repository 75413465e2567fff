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
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/p12"
)

// validateBundle refuses a node bundle the node could not start with, before anything
// is written: installing it would turn TLS on with files Elasticsearch cannot load or
// other nodes reject. Every file the block names must be in the bundle; each PKCS#12
// must open with the password the bundle's keystore holds for it and hold one key
// entry and the layer's CA as trusted entries; each key must match its certificate;
// each chain must verify to the bundle's own CA of its layer (certs/<layer>-ca.crt);
// and the certificates must be this node's. One path serves both layers and both
// formats, so a p12 and a PEM bundle are held to the same rules.
func validateBundle(dir string, block esconfig.Settings, ks *eskeystore.Keystore) error {
	v := &bundleCheck{dir: dir, block: block, ks: ks}
	leaves := map[string]leafFile{}
	for _, layer := range []string{esconfig.Transport, esconfig.HTTP} {
		leaf, err := v.layer(layer)
		if err != nil {
			return err
		}
		if leaf.cert != nil {
			leaves[layer] = leaf
		}
	}
	return v.sameNode(leaves)
}

type bundleCheck struct {
	dir   string
	block esconfig.Settings
	ks    *eskeystore.Keystore
}

// leafFile is a node certificate and the bundle file it came from.
type leafFile struct {
	cert *x509.Certificate
	path string
}

func (v *bundleCheck) blockPath() string { return filepath.Join(v.dir, "elasticsearch.yml") }

// read reads a file the block names in setting, relative to the bundle as it will be
// relative to the config directory. A missing or empty file is the bundle's fault.
func (v *bundleCheck) read(setting, value string, kind infile.Kind) (string, []byte, error) {
	return v.readAs(fmt.Sprintf("the bundle's elasticsearch.yml names it (%s)", setting), value, kind)
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

// layer checks one layer's files and returns its leaf (none when the block leaves
// the layer's TLS unconfigured).
func (v *bundleCheck) layer(layer string) (leafFile, error) {
	prefix := esconfig.SSLPrefix(layer)
	ksPath, hasKS := v.block.Get(prefix + "keystore.path")
	certPath, hasCert := v.block.Get(prefix + "certificate")
	if !hasKS && !hasCert {
		if on, _ := v.block.Get(prefix + "enabled"); on == "true" {
			return leafFile{}, &fault.InputError{File: v.blockPath(), Problem: fmt.Sprintf("turns TLS on for the %s layer but names no keystore.path or certificate: bootstrap the bundle again", layer)}
		}
		return leafFile{}, nil
	}
	caPath := filepath.Join(v.dir, "certs", layer+"-ca.crt")
	_, caData, err := v.readAs("every node bundle holds its layers' CAs", "certs/"+layer+"-ca.crt", infile.PEM)
	if err != nil {
		return leafFile{}, err
	}
	cas, err := ca.ParseCertificates(caData)
	if err != nil {
		return leafFile{}, &fault.InputError{File: caPath, Problem: fmt.Sprintf("not the bundle's %s CA (%v): copy the node's whole bundle directory again", layer, err)}
	}
	var leaf leafFile
	if hasKS {
		path, contents, err := v.openP12(prefix+"keystore.path", ksPath, prefix+"keystore.secure_password", caPath, cas)
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
		tsPath, hasTS := v.block.Get(prefix + "truststore.path")
		ksPass, _ := v.ks.Get(prefix + "keystore.secure_password")
		tsPass, _ := v.ks.Get(prefix + "truststore.secure_password")
		if hasTS && (tsPath != ksPath || string(tsPass) != string(ksPass)) {
			if _, _, err := v.openP12(prefix+"truststore.path", tsPath, prefix+"truststore.secure_password", caPath, cas); err != nil {
				return leafFile{}, err
			}
		}
	} else {
		path, data, err := v.read(prefix+"certificate", certPath, infile.PEM)
		if err != nil {
			return leafFile{}, err
		}
		chain, err := ca.ParseCertificates(data)
		if err != nil {
			return leafFile{}, &fault.InputError{File: path, Problem: fmt.Sprintf("holds no usable certificate (%v): copy the node's whole bundle directory again", err)}
		}
		leaf = leafFile{cert: chain[0], path: path}
		keyValue, _ := v.block.Get(prefix + "key")
		keyPath, keyData, err := v.read(prefix+"key", keyValue, infile.Key)
		if err != nil {
			return leafFile{}, err
		}
		passphrase, _ := v.ks.Get(prefix + "secure_key_passphrase")
		signer, err := ca.ParseKeyPEM(keyData, passphrase)
		if err != nil {
			return leafFile{}, &fault.InputError{File: keyPath, Problem: fmt.Sprintf("holds no usable private key (%v): copy the node's whole bundle directory again", err)}
		}
		if err := v.keyMatches(leaf, signer, keyPath); err != nil {
			return leafFile{}, err
		}
		if err := v.verify(chain, cas, path, caPath); err != nil {
			return leafFile{}, err
		}
		for _, p := range v.block.List(prefix + "certificate_authorities") {
			path, data, err := v.read(prefix+"certificate_authorities", p, infile.PEM)
			if err != nil {
				return leafFile{}, err
			}
			if _, err := ca.ParseCertificates(data); err != nil {
				return leafFile{}, &fault.InputError{File: path, Problem: fmt.Sprintf("holds no usable CA certificate (%v): copy the node's whole bundle directory again", err)}
			}
		}
	}
	if trust, ok := v.block.Get(prefix + "trust_restrictions.path"); ok {
		path, data, err := v.read(prefix+"trust_restrictions.path", trust, infile.Settings)
		if err != nil {
			return leafFile{}, err
		}
		if parsed, err := esconfig.Parse(data); err != nil || len(parsed.List("trust.subject_name")) == 0 {
			return leafFile{}, &fault.InputError{File: path, Problem: "is not a trust restrictions file (no trust.subject_name list), and Elasticsearch will not start with it: copy the node's whole bundle directory again"}
		}
	}
	return leaf, nil
}

// openP12 opens a PKCS#12 file the block names with the password the bundle's
// keystore holds in secure, and checks it trusts every certificate of the layer's CA
// file: Elasticsearch trusts a keystore's or truststore's trusted entries only.
func (v *bundleCheck) openP12(setting, value, secure, caPath string, cas []*x509.Certificate) (string, *p12.Contents, error) {
	path, data, err := v.read(setting, value, infile.PKCS12)
	if err != nil {
		return "", nil, err
	}
	password, ok := v.ks.Get(secure)
	if !ok {
		return "", nil, &fault.InputError{File: filepath.Join(v.dir, "elasticsearch.keystore"), Problem: fmt.Sprintf("holds no %s, so Elasticsearch cannot open %s: copy the node's whole bundle directory again", secure, path)}
	}
	contents, err := p12.Decode(data, string(password))
	switch {
	case errors.Is(err, p12.ErrWrongPassword):
		return "", nil, &fault.InputError{File: path, Problem: fmt.Sprintf("does not open with the password the bundle's elasticsearch.keystore holds (%s): it is another bundle's file (another node's?) or damaged; copy the node's whole bundle directory again", secure)}
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
// inside the leaf's validity.
func (v *bundleCheck) verify(chain, cas []*x509.Certificate, path, caPath string) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	at := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
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
