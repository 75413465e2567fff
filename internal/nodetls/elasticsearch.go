package nodetls

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
)

// Read builds the model of the node whose config directory is configDir from its
// elasticsearch.yml settings and its elasticsearch.keystore (nil when it has none).
// It reads no other file: loading the material is the caller's, with the functions
// of material.go.
func Read(configDir string, settings esconfig.Settings, keystore *eskeystore.Keystore) Node {
	r := reader{dir: configDir, settings: settings, keystore: keystore}
	var node Node
	for _, name := range []string{esconfig.Transport, esconfig.HTTP} {
		node.Layers = append(node.Layers, r.layer(name, esconfig.SSLPrefix(name)))
	}
	for _, prefix := range r.otherPrefixes() {
		node.Other = append(node.Other, r.layer("", prefix))
	}
	return node
}

type reader struct {
	dir      string
	settings esconfig.Settings
	keystore *eskeystore.Keystore
}

// value is a setting's scalar value and whether it is set to anything.
func (r reader) value(key string) (string, bool) {
	s, ok := r.settings[key]
	return s.Value, ok && (s.Value != "" || len(s.Values) > 0)
}

// secret is a secure setting from the keystore.
func (r reader) secret(name string) (string, bool) {
	if r.keystore == nil {
		return "", false
	}
	v, ok := r.keystore.Get(name)
	return string(v), ok && len(v) > 0
}

// file is the file a setting names, nil when it is not set.
func (r reader) file(key string, kind infile.Kind) *File {
	v, ok := r.value(key)
	if !ok {
		return nil
	}
	return &File{Path: r.resolve(v), Value: v, Setting: key, Kind: kind}
}

// resolve makes a path from a setting usable: a relative path starts at the config
// directory, as in Elasticsearch.
func (r reader) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(r.dir, p)
}

// password resolves a password as Elasticsearch does: the secure setting in the
// keystore, else the legacy plaintext one (name without "secure_") in the settings.
func (r reader) password(prefix, secureName string) Secret {
	s := Secret{Secure: prefix + secureName, Legacy: prefix + strings.Replace(secureName, "secure_", "", 1)}
	secure, inKeystore := r.secret(s.Secure)
	legacy, inSettings := r.value(s.Legacy)
	switch {
	case inKeystore:
		s.Value, s.From = secure, "the password in elasticsearch.keystore's "+s.Secure
	case inSettings:
		s.Value, s.From = legacy, "the password in elasticsearch.yml's "+s.Legacy
	}
	s.Conflict, s.InKeystore = inKeystore && inSettings, inKeystore
	return s
}

// store is the keystore or truststore (kind) a layer's settings name.
func (r reader) store(prefix, kind string, password Secret) *Store {
	f := r.file(prefix+kind+".path", infile.PKCS12)
	if f == nil {
		return nil
	}
	typ, _ := r.value(prefix + kind + ".type")
	return &Store{File: *f, Type: typ, Password: password}
}

// defaultTrustFields is what trust restrictions match when x509_fields is not set.
var defaultTrustFields = []string{"subjectAltName.otherName.commonName"}

// layer reads the TLS configuration whose settings start with prefix
// ("xpack.security.http.ssl.").
func (r reader) layer(name, prefix string) Layer {
	l := Layer{Name: name, Keys: Keys{
		Enabled: prefix + "enabled", KeystorePath: prefix + "keystore.path", Key: prefix + "key", Certificate: prefix + "certificate",
		CAs: prefix + "certificate_authorities", TruststorePath: prefix + "truststore.path",
		VerificationMode: prefix + "verification_mode", ClientAuth: prefix + "client_authentication",
		TrustRestrictions: prefix + "trust_restrictions.path", TrustFields: prefix + "trust_restrictions.x509_fields",
	}}
	for k := range r.settings {
		if strings.HasPrefix(k, prefix) {
			l.Configured = true
			break
		}
	}
	on, _ := r.value(l.Keys.Enabled)
	l.Enabled = on == "true"

	keystorePassword := r.password(prefix, "keystore.secure_password")
	truststorePassword := r.password(prefix, "truststore.secure_password")
	l.KeyPassphrase = r.password(prefix, "secure_key_passphrase")
	l.Passwords = []Secret{keystorePassword, r.password(prefix, "keystore.secure_key_password"), truststorePassword, l.KeyPassphrase}
	l.Keystore = r.store(prefix, "keystore", keystorePassword)
	l.Truststore = r.store(prefix, "truststore", truststorePassword)
	l.Key = r.file(l.Keys.Key, infile.Key)
	l.Certificate = r.file(l.Keys.Certificate, infile.PEM)
	for _, p := range r.settings.List(l.Keys.CAs) {
		l.CAs = append(l.CAs, File{Path: r.resolve(p), Value: p, Setting: l.Keys.CAs, Kind: infile.PEM})
	}

	l.VerificationMode, _ = r.value(l.Keys.VerificationMode)
	l.ClientAuth, _ = r.value(l.Keys.ClientAuth)
	l.TrustRestrictions = r.file(l.Keys.TrustRestrictions, infile.Settings)
	if l.TrustFields = r.settings.List(l.Keys.TrustFields); len(l.TrustFields) == 0 {
		l.TrustFields = defaultTrustFields
	}
	if name != "" {
		l.Hosts = r.hosts(name)
	}
	return l
}

// hosts lists the names and addresses a layer binds or publishes: its own
// <layer>.host and <layer>.publish_host, and network.host unless <layer>.host
// overrides it.
func (r reader) hosts(layer string) []Host {
	keys := []string{layer + ".host", layer + ".publish_host"}
	if _, set := r.value(layer + ".host"); !set {
		keys = append(keys, "network.host")
	}
	var out []Host
	for _, k := range keys {
		for _, h := range r.settings.List(k) {
			out = append(out, Host{Name: strings.Trim(h, "[]"), Setting: k})
		}
	}
	return out
}

// otherPrefixes lists the prefixes ("xpack.security.authc.realms.ldap.ldap1.ssl.") of
// every TLS configuration besides the two layers', sorted.
func (r reader) otherPrefixes() []string {
	layers := map[string]bool{esconfig.SSLPrefix(esconfig.Transport): true, esconfig.SSLPrefix(esconfig.HTTP): true}
	found := map[string]bool{}
	for k := range r.settings {
		if i := strings.Index(k, ".ssl."); i >= 0 && !layers[k[:i+len(".ssl.")]] {
			found[k[:i+len(".ssl.")]] = true
		}
	}
	var out []string
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
