package esconfig

import (
	"path/filepath"
	"strings"
)

// The two TLS layers of an Elasticsearch node, as they appear in setting names.
const (
	Transport = "transport"
	HTTP      = "http"
)

// SSLPrefix is the prefix of a layer's TLS settings: "xpack.security.transport.ssl.".
// Every setting of a layer is SSLPrefix(layer) + its name ("keystore.path", ...).
func SSLPrefix(layer string) string { return "xpack.security." + layer + ".ssl." }

// secretExt are the extensions of files that hold keys: PEM keys, PKCS#12 and Java
// keystores (JKS, BouncyCastle FIPS's BCFKS) and the elasticsearch.keystore.
var secretExt = map[string]bool{".key": true, ".p12": true, ".pfx": true, ".pkcs12": true, ".jks": true, ".bcfks": true, ".keystore": true}

// IsSecretFile reports whether a file's name says it holds key material, by extension:
// the one list install, check and renew use to decide a file must be private.
func IsSecretFile(name string) bool { return secretExt[strings.ToLower(filepath.Ext(name))] }

// IsPKCS12File reports whether a keystore path names a PKCS#12 file (Elasticsearch
// infers the keystore type from these extensions).
func IsPKCS12File(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".p12", ".pfx", ".pkcs12":
		return true
	}
	return false
}

// StoreType is the type of a keystore or truststore as Elasticsearch takes it: the
// type setting when set, else inferred from the path's extension (PKCS12, BCFKS, and
// JKS for anything else), as its KeyStoreUtil.inferStoreType does.
func StoreType(path, typeSetting string) string {
	switch {
	case typeSetting != "":
		return strings.ToUpper(typeSetting)
	case IsPKCS12File(path):
		return "PKCS12"
	case strings.EqualFold(filepath.Ext(path), ".bcfks"):
		return "BCFKS"
	}
	return "JKS"
}
