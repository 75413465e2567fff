package esconfig

import "strings"

// IsPlaintextSecret reports whether key is a setting that holds a password,
// passphrase or secret in elasticsearch.yml itself rather than in the keystore.
func IsPlaintextSecret(key string) bool {
	last := key[strings.LastIndex(key, ".")+1:]
	if strings.HasPrefix(last, "secure_") {
		return false
	}
	return last == "password" || strings.HasSuffix(last, "_password") ||
		strings.Contains(last, "secret") || strings.Contains(last, "passphrase")
}

// SecureName is the keystore setting that replaces a plaintext one, as Elasticsearch
// names them: keystore.password becomes keystore.secure_password, key_passphrase
// secure_key_passphrase. bootstrap.password and *secret* settings keep their names in
// the keystore.
func SecureName(key string) string {
	i := strings.LastIndex(key, ".")
	last := key[i+1:]
	if key == "bootstrap.password" || strings.Contains(last, "secret") {
		return key
	}
	return key[:i+1] + "secure_" + last
}
