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
	"github.com/escert/escert/internal/target"
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
	// keepSubject: the node's peers match the whole subject (OpenSearch's nodes_dn).
	keepSubject bool
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
// every TLS identity of a layer with TLS on, keys included. password opens the
// keystore (nil: it has none).
func Discover(configDir string, password KeystorePassword) ([]NodeCert, error) {
	settings, ymlPath, engine, err := readSettings(configDir)
	if err != nil {
		return nil, err
	}
	ks, err := openKeystore(configDir, password)
	if err != nil {
		return nil, err
	}
	return identities(ymlPath, engine, nodetls.ReadFor(engine, configDir, settings, ks), func(l nodetls.Layer) (NodeCert, error) {
		if l.Keystore != nil {
			return loadP12(*l.Keystore)
		}
		return loadPEM(l)
	})
}

// KeystorePassword returns the password of the node's elasticsearch.keystore, whose
// bytes it is given (nil when it has none); it may ask the user.
type KeystorePassword func(keystore []byte) ([]byte, error)

// Chains loads the certificate chain of every TLS identity of a layer with TLS on,
// without the keys, for judging expiry: a cron job's question. It opens no keystore
// and derives no key when the certificates are readable without one (PEM files, and
// PKCS#12 files keeping their certificates unencrypted, as escert writes them); only
// a PKCS#12 file whose certificates are encrypted makes it open elasticsearch.keystore
// for that file's password. What it reads is not authenticated (a PKCS#12 file's MAC
// needs the password): enough to learn dates, not to trust a chain.
func Chains(configDir string, password KeystorePassword) ([]NodeCert, error) {
	settings, ymlPath, engine, err := readSettings(configDir)
	if err != nil {
		return nil, err
	}
	var keyed *nodetls.Node // the model with the keystore's passwords, once opened
	return identities(ymlPath, engine, nodetls.ReadFor(engine, configDir, settings, nil), func(l nodetls.Layer) (NodeCert, error) {
		if l.Keystore == nil {
			return loadPEMChain(l)
		}
		n, err := loadP12Chain(*l.Keystore)
		if !errors.Is(err, p12.ErrEncrypted) {
			return n, err
		}
		if keyed == nil {
			ks, err := openKeystore(configDir, password)
			if err != nil {
				return NodeCert{}, err
			}
			node := nodetls.Read(configDir, settings, ks)
			keyed = &node
		}
		n, err = loadP12(*keyed.Layer(l.Name).Keystore)
		// Opening the file decrypted its key too; Chains hands out certificates only.
		n.Key = nil
		return n, err
	})
}

// ReloadOf is how the node of configDir takes up the files renewal and CA rotation
// change in place, and which engine it runs.
func ReloadOf(configDir string) (nodetls.Reload, target.Target, error) {
	settings, _, engine, err := readSettings(configDir)
	if err != nil {
		return "", engine, err
	}
	return nodetls.ReloadFor(engine, settings), engine, nil
}

// readSettings reads and parses the config directory's elasticsearch.yml or
// opensearch.yml, and says which engine it is for.
func readSettings(configDir string) (esconfig.Settings, string, target.Target, error) {
	engine, err := target.Detect(configDir)
	if err != nil {
		engine = target.Elasticsearch // its file is the one reported missing
	}
	ymlPath := filepath.Join(configDir, engine.SettingsFile())
	yml, err := infile.Read(ymlPath, infile.Settings)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ymlPath, engine, fault.BadFile(ymlPath, "cannot read it: point --es-config at the node's config directory")
	}
	if err != nil {
		return nil, ymlPath, engine, inputErr(ymlPath, err)
	}
	settings, err := esconfig.Parse(yml)
	if err != nil {
		return nil, ymlPath, engine, fault.BadFile(ymlPath, "%v", err)
	}
	return settings, ymlPath, engine, nil
}

// openKeystore decrypts the config directory's elasticsearch.keystore; nil when
// there is none.
func openKeystore(configDir string, password KeystorePassword) (*eskeystore.Keystore, error) {
	ksPath := filepath.Join(configDir, "elasticsearch.keystore")
	data, err := infile.Read(ksPath, infile.Keystore)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, inputErr(ksPath, err)
	}
	var pw []byte
	if password != nil {
		if pw, err = password(data); err != nil {
			return nil, err
		}
	}
	ks, err := eskeystore.Decode(data, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ksPath, err)
	}
	return ks, nil
}

// identities loads, with load, the identity of every layer of node (of engine) with
// TLS on and a keystore or key configured.
func identities(ymlPath string, engine target.Target, node nodetls.Node, load func(nodetls.Layer) (NodeCert, error)) ([]NodeCert, error) {
	var out []NodeCert
	for _, l := range node.Layers {
		if !l.Enabled || (l.Keystore == nil && l.Key == nil) {
			continue
		}
		n, err := load(l)
		if err != nil {
			return nil, err
		}
		if l.Keystore != nil {
			n.separateTruststore = l.Truststore != nil && l.Truststore.Path != l.Keystore.Path
		} else {
			for _, f := range l.CAs {
				n.caPaths = append(n.caPaths, f.Path)
			}
		}
		n.Layer = spec.Layer(l.Name)
		n.keepSubject = engine == target.OpenSearch
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
	data, err := readP12(s)
	if err != nil {
		return NodeCert{}, err
	}
	c, err := s.Decode(data)
	if err != nil {
		return NodeCert{}, fault.BadFile(s.Path, "cannot open it with the password in elasticsearch.keystore: %v", err)
	}
	if err := oneKey(s, c); err != nil {
		return NodeCert{}, err
	}
	signer, ok := c.Keys[0].Key.(crypto.Signer)
	if !ok {
		return NodeCert{}, fault.BadFile(s.Path, "its key cannot sign")
	}
	return NodeCert{P12Path: s.Path, Chain: c.Keys[0].Chain, Key: signer, password: s.Password.Value, alias: c.Keys[0].Alias, trusted: c.Trusted, read: map[string][]byte{s.Path: data}}, nil
}

// loadP12Chain reads a PKCS#12 keystore's chain without its password; the error
// wraps p12.ErrEncrypted when the certificates are encrypted.
func loadP12Chain(s nodetls.Store) (NodeCert, error) {
	data, err := readP12(s)
	if err != nil {
		return NodeCert{}, err
	}
	c, err := p12.Certificates(data)
	if errors.Is(err, p12.ErrEncrypted) {
		return NodeCert{}, err
	}
	if err != nil {
		return NodeCert{}, fault.BadFile(s.Path, "%v", err)
	}
	if err := oneKey(s, c); err != nil {
		return NodeCert{}, err
	}
	return NodeCert{P12Path: s.Path, Chain: c.Keys[0].Chain, alias: c.Keys[0].Alias, trusted: c.Trusted}, nil
}

func readP12(s nodetls.Store) ([]byte, error) {
	if !esconfig.IsPKCS12File(s.Path) {
		return nil, fault.BadFile(s.Path, "escert renews PKCS#12 and PEM files; convert this keystore to PKCS#12 first")
	}
	return readNodeFile(s.File)
}

func oneKey(s nodetls.Store, c *p12.Contents) error {
	if len(c.Keys) != 1 {
		return fault.BadFile(s.Path, "holds %d key entries; escert renews a keystore with exactly one", len(c.Keys))
	}
	return nil
}

// loadPEMChain reads a PEM layer's certificate chain, not its key.
func loadPEMChain(l nodetls.Layer) (NodeCert, error) {
	certPEM, err := readPEMCertificate(l)
	if err != nil {
		return NodeCert{}, err
	}
	return parsePEMChain(l, certPEM)
}

// loadPEM reads a PEM layer's key and chain. Its faults come in the order a renewal
// meets them: the settings, then the files' presence, then their content, key first.
func loadPEM(l nodetls.Layer) (NodeCert, error) {
	if l.Certificate == nil {
		return NodeCert{}, noCertificate(l)
	}
	keyPEM, err := readNodeFile(*l.Key)
	if err != nil {
		return NodeCert{}, err
	}
	certPEM, err := readPEMCertificate(l)
	if err != nil {
		return NodeCert{}, err
	}
	key, err := l.DecodeKey(keyPEM)
	if err != nil {
		return NodeCert{}, fault.BadFile(l.Key.Path, "%v", err)
	}
	n, err := parsePEMChain(l, certPEM)
	if err != nil {
		return NodeCert{}, err
	}
	if err := ca.KeyMatches(n.Chain[0], key); err != nil {
		return NodeCert{}, fault.BadFile(n.KeyPath, "%v %s", err, n.CertPath)
	}
	n.Key, n.password, n.read[n.KeyPath] = key, l.KeyPassphrase.Value, keyPEM
	return n, nil
}

func noCertificate(l nodetls.Layer) error {
	return fault.BadFile(l.Key.Path, "%s names this key but %s is not set: Elasticsearch refuses to start", l.Key.Setting, l.Keys.Certificate)
}

func readPEMCertificate(l nodetls.Layer) ([]byte, error) {
	if l.Certificate == nil {
		return nil, noCertificate(l)
	}
	return readNodeFile(*l.Certificate)
}

func parsePEMChain(l nodetls.Layer, certPEM []byte) (NodeCert, error) {
	chain, err := ca.ParseCertificates(certPEM)
	if err != nil {
		return NodeCert{}, fault.BadFile(l.Certificate.Path, "%v", err)
	}
	return NodeCert{KeyPath: l.Key.Path, CertPath: l.Certificate.Path, Chain: chain, read: map[string][]byte{l.Certificate.Path: certPEM}}, nil
}
