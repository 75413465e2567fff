package nodetls

import (
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/target"
)

// OpenSearchPrefix starts the security plugin's TLS settings of a layer:
// plugins.security.ssl.transport. and plugins.security.ssl.http.
func OpenSearchPrefix(layer string) string { return "plugins.security.ssl." + layer + "." }

// ReadOpenSearch reads a node's TLS layers from opensearch.yml's security plugin
// settings, into the same model as Read: PEM files (pemcert_filepath, pemkey_filepath,
// pemtrustedcas_filepath) or a keystore (keystore_filepath, truststore_filepath),
// relative to the config directory. The transport layer is always on when the plugin
// runs; HTTP when plugins.security.ssl.http.enabled is true. The plugin takes the
// passwords from opensearch.yml itself: they are legacy settings here.
func ReadOpenSearch(configDir string, settings esconfig.Settings) Node {
	r := reader{dir: configDir, settings: settings}
	var node Node
	for _, name := range []string{esconfig.Transport, esconfig.HTTP} {
		node.Layers = append(node.Layers, r.openSearchLayer(name))
	}
	return node
}

// openSearchHostnameVerification is 2.19's spelling of the plugin's
// transport.enforce_hostname_verification.
const openSearchHostnameVerification = "transport.ssl.enforce_hostname_verification"

func (r reader) openSearchLayer(name string) Layer {
	prefix := OpenSearchPrefix(name)
	l := Layer{Name: name, Keys: Keys{
		Enabled: prefix + "enabled", KeystorePath: prefix + "keystore_filepath", Key: prefix + "pemkey_filepath",
		Certificate: prefix + "pemcert_filepath", CAs: prefix + "pemtrustedcas_filepath", TruststorePath: prefix + "truststore_filepath",
		VerificationMode: prefix + "enforce_hostname_verification", ClientAuth: prefix + "clientauth_mode",
	}}
	for k := range r.settings {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			l.Configured = true
			break
		}
	}
	on, set := r.value(l.Keys.Enabled)
	// The plugin has transport TLS on unless told otherwise; HTTPS only when asked.
	l.Enabled = on == "true" || (name == esconfig.Transport && !set && l.Configured)
	l.KeyPassphrase = r.legacy(prefix + "pemkey_password")
	keystorePassword, truststorePassword := r.legacy(prefix+"keystore_password"), r.legacy(prefix+"truststore_password")
	l.Passwords = []Secret{keystorePassword, truststorePassword, l.KeyPassphrase}
	l.Keystore = r.storeAt(l.Keys.KeystorePath, prefix+"keystore_type", keystorePassword)
	l.Truststore = r.storeAt(l.Keys.TruststorePath, prefix+"truststore_type", truststorePassword)
	l.Key = r.file(l.Keys.Key, infile.Key)
	l.Certificate = r.file(l.Keys.Certificate, infile.PEM)
	if f := r.file(l.Keys.CAs, infile.PEM); f != nil {
		l.CAs = []File{*f}
	}
	if name == esconfig.Transport {
		// enforce_hostname_verification, true by default, is verification_mode full;
		// 2.19 spells it transport.ssl.enforce_hostname_verification.
		v, set := r.value(openSearchHostnameVerification)
		if set {
			l.Keys.VerificationMode = openSearchHostnameVerification
		} else {
			v, _ = r.value(l.Keys.VerificationMode)
		}
		l.VerificationMode = "full"
		if v == "false" {
			l.VerificationMode = "certificate"
		}
	}
	l.ClientAuth, _ = r.value(l.Keys.ClientAuth)
	l.Hosts = r.hosts(name)
	return l
}

// legacy is a password the plugin reads from opensearch.yml.
func (r reader) legacy(key string) Secret {
	s := Secret{Legacy: key}
	if v, ok := r.value(key); ok {
		s.Value, s.From = v, "the password in opensearch.yml's "+key
	}
	return s
}

// storeAt is the keystore or truststore the setting key names.
func (r reader) storeAt(key, typeKey string, password Secret) *Store {
	f := r.file(key, infile.PKCS12)
	if f == nil {
		return nil
	}
	typ, _ := r.value(typeKey)
	return &Store{File: *f, Type: typ, Password: password}
}

// ReadFor reads a node of engine t: Read for Elasticsearch (keystore is its
// elasticsearch.keystore), ReadOpenSearch for OpenSearch, which keeps no secure
// settings escert reads.
func ReadFor(t target.Target, configDir string, settings esconfig.Settings, keystore *eskeystore.Keystore) Node {
	if t == target.OpenSearch {
		return ReadOpenSearch(configDir, settings)
	}
	return Read(configDir, settings, keystore)
}
