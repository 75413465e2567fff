// Package rotate keeps a node's certificates current: it loads the TLS identities a
// node's settings configure (as nodetls models them), decides which are due (by
// expiry's window), and re-issues them from the current ones (same names, the usages
// the old one had plus any its layer needs, a new key) so that Elasticsearch
// hot-reloads them without a restart.
package rotate

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// ErrMissing means the node has no certificate escert can look after: no TLS settings,
// or files the settings name do not exist.
var ErrMissing = fault.Sentinel(fault.Input, "no certificate to renew")

// NodeCert is one TLS identity of a node, as its elasticsearch.yml configures it.
type NodeCert struct {
	Layer spec.Layer
	// P12Path is set for a PKCS#12 keystore; KeyPath and CertPath for PEM files.
	// Relative paths start at the config directory.
	P12Path           string
	KeyPath, CertPath string
	Chain             []*x509.Certificate // leaf first
	Key               crypto.Signer
	// What a rewrite must keep: the p12's password, alias and trusted entries, or the
	// PEM key's passphrase.
	password string
	alias    string
	trusted  []p12.TrustedCert
	// For PEM layouts: the certificate_authorities files and what they hold.
	caPaths []string
	// separateTruststore is set when a p12 keystore has its own truststore file, a
	// layout CA rotation does not edit.
	separateTruststore bool
	// read holds the key and certificate files as Discover read them: the backup of
	// what a renewal replaces.
	read map[string][]byte
}

// Trusted returns the CA certificates the node trusts on this layer.
func (n NodeCert) Trusted() ([]*x509.Certificate, error) {
	if n.P12Path != "" {
		var out []*x509.Certificate
		for _, t := range n.trusted {
			out = append(out, t.Cert)
		}
		return out, nil
	}
	var out []*x509.Certificate
	for _, p := range n.caPaths {
		data, err := infile.Read(p, infile.PEM)
		if err != nil {
			return nil, inputErr(p, err)
		}
		certs, err := ca.ParseCertificates(data)
		if err != nil {
			return nil, fault.BadFile(p, "%v", err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// Leaf is the node's certificate for the layer.
func (n NodeCert) Leaf() *x509.Certificate { return n.Chain[0] }

// Files are the node's files holding this identity.
func (n NodeCert) Files() []string {
	if n.P12Path != "" {
		return []string{n.P12Path}
	}
	return []string{n.KeyPath, n.CertPath}
}

// Discover reads the config directory's elasticsearch.yml and keystore and loads
// every TLS identity of a layer with TLS on. ksPassword opens the keystore (nil: none).
func Discover(configDir string, ksPassword []byte) ([]NodeCert, error) {
	ymlPath := filepath.Join(configDir, "elasticsearch.yml")
	yml, err := infile.Read(ymlPath, infile.Settings)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fault.BadFile(ymlPath, "cannot read it: point --es-config at the node's config directory")
	}
	if err != nil {
		return nil, inputErr(ymlPath, err)
	}
	settings, err := esconfig.Parse(yml)
	if err != nil {
		return nil, fault.BadFile(ymlPath, "%v", err)
	}
	var ks *eskeystore.Keystore
	ksPath := filepath.Join(configDir, "elasticsearch.keystore")
	switch data, err := infile.Read(ksPath, infile.Keystore); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, inputErr(ksPath, err)
	default:
		if ks, err = eskeystore.Decode(data, ksPassword); err != nil {
			return nil, fmt.Errorf("%s: %w", ksPath, err)
		}
	}
	var out []NodeCert
	for _, l := range nodetls.Read(configDir, settings, ks).Layers {
		if !l.Enabled {
			continue
		}
		var (
			n   NodeCert
			err error
		)
		switch {
		case l.Keystore != nil:
			n, err = loadP12(*l.Keystore)
			n.separateTruststore = l.Truststore != nil && l.Truststore.Path != l.Keystore.Path
		case l.Key != nil:
			n, err = loadPEM(l)
			for _, f := range l.CAs {
				n.caPaths = append(n.caPaths, f.Path)
			}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		n.Layer = spec.Layer(l.Name)
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: no transport or HTTP TLS keystore or key is configured", ymlPath, ErrMissing)
	}
	return out, nil
}

// readNodeFile reads a file the node's settings name.
func readNodeFile(f nodetls.File) ([]byte, error) {
	data, err := f.Read()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: the file the settings name does not exist", f.Path, ErrMissing)
	}
	if err != nil {
		return nil, inputErr(f.Path, err)
	}
	return data, nil
}

// inputErr makes a failure to read one of the node's files (missing, unreadable, or
// too large for its kind) bad input, naming the file once.
func inputErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fault.BadFile(path, "%v", err)
}

func loadP12(s nodetls.Store) (NodeCert, error) {
	if !esconfig.IsPKCS12File(s.Path) {
		return NodeCert{}, fault.BadFile(s.Path, "escert renews PKCS#12 and PEM files; convert this keystore to PKCS#12 first")
	}
	data, err := readNodeFile(s.File)
	if err != nil {
		return NodeCert{}, err
	}
	c, err := s.Decode(data)
	if err != nil {
		return NodeCert{}, fault.BadFile(s.Path, "cannot open it with the password in elasticsearch.keystore: %v", err)
	}
	if len(c.Keys) != 1 {
		return NodeCert{}, fault.BadFile(s.Path, "holds %d key entries; escert renews a keystore with exactly one", len(c.Keys))
	}
	signer, ok := c.Keys[0].Key.(crypto.Signer)
	if !ok {
		return NodeCert{}, fault.BadFile(s.Path, "its key cannot sign")
	}
	return NodeCert{P12Path: s.Path, Chain: c.Keys[0].Chain, Key: signer, password: s.Password.Value, alias: c.Keys[0].Alias, trusted: c.Trusted, read: map[string][]byte{s.Path: data}}, nil
}

func loadPEM(l nodetls.Layer) (NodeCert, error) {
	if l.Certificate == nil {
		return NodeCert{}, fault.BadFile(l.Key.Path, "%s names this key but %s is not set: Elasticsearch refuses to start", l.Key.Setting, l.Keys.Certificate)
	}
	keyPath, certPath := l.Key.Path, l.Certificate.Path
	keyPEM, err := readNodeFile(*l.Key)
	if err != nil {
		return NodeCert{}, err
	}
	certPEM, err := readNodeFile(*l.Certificate)
	if err != nil {
		return NodeCert{}, err
	}
	key, err := l.DecodeKey(keyPEM)
	if err != nil {
		return NodeCert{}, fault.BadFile(keyPath, "%v", err)
	}
	chain, err := ca.ParseCertificates(certPEM)
	if err != nil {
		return NodeCert{}, fault.BadFile(certPath, "%v", err)
	}
	if err := ca.KeyMatches(chain[0], key); err != nil {
		return NodeCert{}, fault.BadFile(keyPath, "%v %s", err, certPath)
	}
	return NodeCert{KeyPath: keyPath, CertPath: certPath, Chain: chain, Key: key, password: l.KeyPassphrase.Value, read: map[string][]byte{keyPath: keyPEM, certPath: certPEM}}, nil
}
