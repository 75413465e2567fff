// Package rotate keeps a node's certificates current: it finds the TLS identities a
// node's elasticsearch.yml configures, decides which are due, and re-issues them from
// the current ones (same names and usages, a new key) so that Elasticsearch
// hot-reloads them without a restart.
package rotate

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/spec"
)

// ErrMissing means the node has no certificate escert can look after: no TLS settings,
// or files the settings name do not exist.
var ErrMissing = errors.New("no certificate to renew")

// NodeCert is one TLS identity of a node, as its elasticsearch.yml configures it.
type NodeCert struct {
	Layer spec.Layer
	// P12Path is set for a PKCS#12 keystore; KeyPath and CertPath for PEM files.
	// All are absolute.
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
			return nil, &InputError{Path: p, Problem: err.Error()}
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
// every TLS identity it configures. ksPassword opens the keystore (nil: none).
func Discover(configDir string, ksPassword []byte) ([]NodeCert, error) {
	ymlPath := filepath.Join(configDir, "elasticsearch.yml")
	yml, err := infile.Read(ymlPath, infile.Settings)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &InputError{Path: ymlPath, Problem: "cannot read it: point --es-config at the node's config directory"}
	}
	if err != nil {
		return nil, inputErr(ymlPath, err)
	}
	settings, err := esconfig.Parse(yml)
	if err != nil {
		return nil, &InputError{Path: ymlPath, Problem: err.Error()}
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
	secret := func(name string) string {
		if ks != nil {
			if v, ok := ks.Get(name); ok {
				return string(v)
			}
		}
		v, _ := settings.Get(strings.Replace(name, "secure_", "", 1))
		return v
	}
	var out []NodeCert
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		prefix := "xpack.security." + string(layer) + ".ssl."
		if on, _ := settings.Get(prefix + "enabled"); on != "true" {
			continue
		}
		abs := func(p string) string {
			if filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(configDir, p)
		}
		var (
			n   NodeCert
			err error
		)
		switch store, key := settingValue(settings, prefix+"keystore.path"), settingValue(settings, prefix+"key"); {
		case store != "":
			n, err = loadP12(abs(store), secret(prefix+"keystore.secure_password"))
			if ts := settingValue(settings, prefix+"truststore.path"); ts != "" && abs(ts) != abs(store) {
				n.separateTruststore = true
			}
		case key != "":
			n, err = loadPEM(abs(key), abs(settingValue(settings, prefix+"certificate")), secret(prefix+"secure_key_passphrase"))
			for _, p := range settings.List(prefix + "certificate_authorities") {
				n.caPaths = append(n.caPaths, abs(p))
			}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		n.Layer = layer
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: no transport or HTTP TLS keystore or key is configured", ymlPath, ErrMissing)
	}
	return out, nil
}

func settingValue(s esconfig.Settings, key string) string {
	v, _ := s.Get(key)
	return v
}

// InputError is a problem with the node's files: bad input, not a failure.
type InputError struct {
	Path    string
	Problem string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Problem }

// readNodeFile reads a file the node's settings name.
func readNodeFile(path string, kind infile.Kind) ([]byte, error) {
	data, err := infile.Read(path, kind)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: the file the settings name does not exist", path, ErrMissing)
	}
	if err != nil {
		return nil, inputErr(path, err)
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
	return &InputError{Path: path, Problem: err.Error()}
}

func loadP12(path, password string) (NodeCert, error) {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".p12" && ext != ".pfx" && ext != ".pkcs12" {
		return NodeCert{}, &InputError{Path: path, Problem: "escert renews PKCS#12 and PEM files; convert this keystore to PKCS#12 first"}
	}
	data, err := readNodeFile(path, infile.PKCS12)
	if err != nil {
		return NodeCert{}, err
	}
	c, err := p12.Decode(data, password)
	if err != nil {
		return NodeCert{}, &InputError{Path: path, Problem: "cannot open it with the password in elasticsearch.keystore: " + err.Error()}
	}
	if len(c.Keys) != 1 {
		return NodeCert{}, &InputError{Path: path, Problem: fmt.Sprintf("holds %d key entries; escert renews a keystore with exactly one", len(c.Keys))}
	}
	signer, ok := c.Keys[0].Key.(crypto.Signer)
	if !ok {
		return NodeCert{}, &InputError{Path: path, Problem: "its key cannot sign"}
	}
	return NodeCert{P12Path: path, Chain: c.Keys[0].Chain, Key: signer, password: password, alias: c.Keys[0].Alias, trusted: c.Trusted, read: map[string][]byte{path: data}}, nil
}

func loadPEM(keyPath, certPath, passphrase string) (NodeCert, error) {
	keyPEM, err := readNodeFile(keyPath, infile.Key)
	if err != nil {
		return NodeCert{}, err
	}
	certPEM, err := readNodeFile(certPath, infile.PEM)
	if err != nil {
		return NodeCert{}, err
	}
	key, err := ca.ParseKeyPEM(keyPEM, []byte(passphrase))
	if err != nil {
		return NodeCert{}, &InputError{Path: keyPath, Problem: err.Error()}
	}
	chain, err := ca.ParseCertificates(certPEM)
	if err != nil {
		return NodeCert{}, &InputError{Path: certPath, Problem: err.Error()}
	}
	if err := ca.KeyMatches(chain[0], key); err != nil {
		return NodeCert{}, &InputError{Path: keyPath, Problem: err.Error() + " " + certPath}
	}
	return NodeCert{KeyPath: keyPath, CertPath: certPath, Chain: chain, Key: key, password: passphrase, read: map[string][]byte{keyPath: keyPEM, certPath: certPEM}}, nil
}
