// Package nodetls is the model of a node's TLS layers as Elasticsearch reads them from
// its settings: for the transport and HTTP layers (and every other TLS configuration
// of the node: realms, monitoring exporters, remote clusters), whether TLS is on,
// where the node's key and certificate are (a PKCS#12 keystore, or a PEM key and
// certificate), what it trusts (certificate_authorities, a truststore, or the
// keystore's own trusted entries), the passwords that open them (the secure setting
// in the keystore, else the legacy plaintext setting), how it verifies its peers, and
// the names it is reached by. Relative paths start at the config directory.
//
// check, renew, needs-renewal, CA rotation and install's validation of a node bundle
// (its settings block read as a config directory's) read a node through this one
// model, load its material with the functions here, and judge a chain's usages by
// the layer's rules here. The setting names are Elasticsearch's and live in
// elasticsearch.go alone: another product's settings (OpenSearch's
// plugins.security.ssl.transport.*) would be a second reader producing the same model.
package nodetls

import "github.com/escert/escert/internal/infile"

// Node is a node's TLS, as its settings configure it.
type Node struct {
	// Layers are the transport and the HTTP layer, in that order, configured or not.
	Layers []Layer
	// Other are the node's other TLS configurations (LDAP realms, monitoring
	// exporters, remote clusters, reindex...), in the order of their settings'
	// prefixes. Their Name is empty.
	Other []Layer
}

// Layer is the node's layer named name (esconfig.Transport or esconfig.HTTP).
func (n Node) Layer(name string) Layer {
	for _, l := range n.Layers {
		if l.Name == name {
			return l
		}
	}
	return Layer{}
}

// Layer is one TLS configuration. A field is nil (or empty) when its setting is not set.
type Layer struct {
	// Name is the layer, esconfig.Transport or esconfig.HTTP; empty for another
	// TLS configuration.
	Name string
	// Keys name the layer's settings, for messages and fixes, set or not.
	Keys Keys
	// Configured: at least one of the layer's settings is set.
	Configured bool
	// Enabled: TLS is on.
	Enabled bool

	// The node's own key and certificate: a keystore, or a PEM key and certificate
	// (setting both is a conflict Elasticsearch refuses to start with).
	Keystore         *Store
	Key, Certificate *File
	// KeyPassphrase decrypts Key.
	KeyPassphrase Secret

	// What the layer trusts: certificate_authorities, or a truststore, or else the
	// keystore's trusted entries (setting both is a conflict).
	CAs        []File
	Truststore *Store

	// Passwords are every password setting of the layer, whether the file it opens
	// is configured or not, for judging where they are kept.
	Passwords []Secret

	// VerificationMode and ClientAuth are the settings as written; empty means
	// Elasticsearch's defaults, full and required.
	VerificationMode string
	ClientAuth       string

	// TrustRestrictions is the file restricting which peer certificates the layer
	// accepts, and Fields the certificate names it matches (the default when unset).
	TrustRestrictions *File
	TrustFields       []string

	// Hosts are the names and addresses the layer binds or publishes, as written
	// (IPv6 brackets removed): a certificate of the layer must name them.
	Hosts []Host
}

// Keys are the names of a layer's settings.
type Keys struct {
	Enabled, KeystorePath, Key, Certificate, CAs, TruststorePath string
	VerificationMode, ClientAuth, TrustRestrictions, TrustFields string
}

// File is a file a setting names.
type File struct {
	// Path is where it is: the setting's value, relative to the config directory
	// unless absolute.
	Path string
	// Value is the setting's value as written.
	Value string
	// Setting names it.
	Setting string
	// Kind is what it holds, which bounds its size.
	Kind infile.Kind
}

// Store is a keystore or truststore.
type Store struct {
	File
	// Type is the store type as set (PKCS12, JKS, BCFKS); empty when Elasticsearch
	// infers it from the extension.
	Type string
	// Password opens it.
	Password Secret
}

// Secret is a password and where Elasticsearch takes it from: the secure setting in
// the keystore, else the legacy setting in the settings file. Its value never goes
// into a message.
type Secret struct {
	Value string
	// Secure and Legacy are the setting's names in the keystore and in the settings.
	Secure, Legacy string
	// From says where Value came from, for messages ("the password in
	// elasticsearch.keystore's xpack.security.http.ssl.keystore.secure_password"), and
	// is empty when neither is set.
	From string
	// Conflict: both are set, which Elasticsearch refuses to start with.
	Conflict bool
	// InKeystore: Value is the keystore's secure setting, not the legacy one; install
	// holds a bundle to it, since a bundle brings its passwords in its keystore only.
	InKeystore bool
}

// Host is a name or address from a setting.
type Host struct{ Name, Setting string }
