package check

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/p12"
)

// read reads a file a setting names, recording it (secret marks key material) for the
// check of file modes. A missing file is a finding; a file this process may not read
// makes the check unusable, since nothing could be said about it.
func (c *checker) read(f nodetls.File, secret bool) ([]byte, bool) {
	c.ref(f.Path, secret)
	data, err := f.Read()
	file := c.display(f.Path)
	switch {
	case err == nil:
		return data, true
	case errors.Is(err, fs.ErrNotExist):
		c.add(Problem, "file-missing", file, 0, f.Setting,
			fmt.Sprintf("%s names %s, which does not exist: Elasticsearch will not start", f.Setting, file),
			"put the file in place or correct the path (a relative path starts at the config directory)")
	case errors.Is(err, fs.ErrPermission):
		if c.fatal == nil {
			c.fatal = unusable("%s: %w: run escert check as root or as the user Elasticsearch runs as", f.Path, pathErr(err))
		}
	default:
		c.add(Problem, "file-unparsable", file, 0, f.Setting,
			fmt.Sprintf("%s cannot be read: %v", file, pathErr(err)),
			"point "+f.Setting+" at a regular file")
	}
	return nil, false
}

// loadStore opens a PKCS#12 keystore or truststore with the password Elasticsearch
// would use and notes its certificates' dates. nil when it cannot be opened; the
// reason is a finding.
func (c *checker) loadStore(s nodetls.Store, key bool) *p12.Contents {
	data, ok := c.read(s.File, key)
	if !ok {
		return nil
	}
	file := c.display(s.Path)
	if s.JavaOnly(data) {
		c.add(Warning, "store-not-checked", file, 0, s.Setting,
			fmt.Sprintf("%s is a Java-only keystore (JKS, JCEKS or BCFKS): its password, certificates and expiry were not checked", file),
			"convert it to PKCS#12 (keytool -importkeystore -deststoretype PKCS12), which Elasticsearch reads as well")
		return nil
	}
	contents, err := c.decodeP12(s, data)
	switch pw := s.Password; {
	case errors.Is(err, p12.ErrWrongPassword):
		c.refused("p12-password", file, s.Setting, pw,
			fmt.Sprintf("%s does not open without a password, and elasticsearch.keystore has no %s", file, pw.Secure),
			"add the file's password to the keystore: elasticsearch-keystore add "+pw.Secure,
			fmt.Sprintf("%s does not open with %s: Elasticsearch will not start", file, pw.From),
			"store the file's password: elasticsearch-keystore add -f "+pw.Secure)
		return nil
	case err != nil:
		c.add(Problem, "file-unparsable", file, 0, s.Setting,
			fmt.Sprintf("%s is not a usable PKCS#12 file: %v", file, err),
			"replace it with the PKCS#12 file of the node bundle")
		return nil
	}
	for _, k := range contents.Keys {
		c.noteCerts(file, s.Setting, k.Chain...)
	}
	for _, t := range contents.Trusted {
		c.noteCerts(file, s.Setting, t.Cert)
	}
	c.noteCerts(file, s.Setting, contents.Other...)
	return contents
}

// decodeP12 decodes a PKCS#12 file once per password: a transport.p12 serving as
// keystore and truststore costs one key derivation, not two.
func (c *checker) decodeP12(s nodetls.Store, data []byte) (*p12.Contents, error) {
	key := s.Path + "\x00" + s.Password.Value
	if r, ok := c.p12Cache[key]; ok {
		return r.contents, r.err
	}
	contents, err := s.Decode(data)
	c.p12Cache[key] = p12Result{contents, err}
	return contents, err
}

type p12Result struct {
	contents *p12.Contents
	err      error
}

// loadCerts reads a PEM (or DER) certificate file and notes its certificates' dates.
func (c *checker) loadCerts(f nodetls.File) []*x509.Certificate {
	data, ok := c.read(f, false)
	if !ok {
		return nil
	}
	file := c.display(f.Path)
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		c.add(Problem, "file-unparsable", file, 0, f.Setting,
			fmt.Sprintf("%s holds no usable certificate: %v", file, err),
			"replace it with the PEM certificate file of the node bundle")
		return nil
	}
	c.noteCerts(file, f.Setting, certs...)
	return certs
}

// loadKey reads the PEM key of a TLS configuration with its passphrase.
func (c *checker) loadKey(l nodetls.Layer) crypto.Signer {
	data, ok := c.read(*l.Key, true)
	if !ok {
		return nil
	}
	file, setting := c.display(l.Key.Path), l.Key.Setting
	key, err := l.DecodeKey(data)
	switch pw := l.KeyPassphrase; {
	case errors.Is(err, ca.ErrKeyPassword):
		c.refused("key-passphrase", file, setting, pw,
			fmt.Sprintf("%s is encrypted and elasticsearch.keystore has no %s", file, pw.Secure),
			"add the passphrase: elasticsearch-keystore add "+pw.Secure,
			fmt.Sprintf("%s does not decrypt with %s", file, pw.From),
			"store the key's passphrase: elasticsearch-keystore add -f "+pw.Secure)
		return nil
	case err != nil:
		c.add(Problem, "file-unparsable", file, 0, setting,
			fmt.Sprintf("%s holds no usable private key: %v", file, err),
			"replace it with the PEM key file of the node bundle")
		return nil
	}
	return key
}

// refused reports a store or key its password does not open. Without a password, the
// keystore lacks it (or, when there is no keystore at all, checkKeystoreNeeded says so
// once for every setting it would need); with one, it is the wrong one.
func (c *checker) refused(id, file, setting string, pw nodetls.Secret, noneMsg, noneFix, wrongMsg, wrongFix string) {
	switch {
	case pw.From == "" && c.keystore == nil:
		c.needKeystore = append(c.needKeystore, pw.Secure)
	case pw.From == "":
		c.add(Problem, id, file, 0, setting, noneMsg, noneFix)
	default:
		c.add(Problem, id, file, 0, setting, wrongMsg, wrongFix)
	}
}
