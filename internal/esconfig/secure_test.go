package esconfig

import "testing"

func TestSecureNamesFollowElasticsearch(t *testing.T) {
	for _, tc := range []struct {
		key       string
		plaintext bool
		secure    string
	}{
		{"xpack.security.http.ssl.keystore.password", true, "xpack.security.http.ssl.keystore.secure_password"},
		{"xpack.security.transport.ssl.key_passphrase", true, "xpack.security.transport.ssl.secure_key_passphrase"},
		{"xpack.security.http.ssl.keystore.key_password", true, "xpack.security.http.ssl.keystore.secure_key_password"},
		{"xpack.security.http.ssl.keystore.secure_password", false, ""},
		{"xpack.security.authc.realms.oidc.oidc1.rp.client_secret", true, "xpack.security.authc.realms.oidc.oidc1.rp.client_secret"},
		{"bootstrap.password", true, "bootstrap.password"},
		{"xpack.security.http.ssl.keystore.path", false, ""},
	} {
		if got := IsPlaintextSecret(tc.key); got != tc.plaintext {
			t.Errorf("IsPlaintextSecret(%s) = %v", tc.key, got)
		}
		if tc.plaintext {
			if got := SecureName(tc.key); got != tc.secure {
				t.Errorf("SecureName(%s) = %s, want %s", tc.key, got, tc.secure)
			}
		}
	}
}
