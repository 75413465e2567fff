package esconfig

import "testing"

func TestSecretAndPKCS12FilesAreKnownByExtensionWhateverTheCase(t *testing.T) {
	tests := []struct {
		name           string
		secret, pkcs12 bool
	}{
		{"certs/transport.p12", true, true},
		{"HTTP.PFX", true, true},
		{"node.pkcs12", true, true},
		{"node.key", true, false},
		{"truststore.jks", true, false},
		{"fips.bcfks", true, false},
		{"elasticsearch.keystore", true, false},
		{"certs/http-ca.crt", false, false},
		{"elasticsearch.yml", false, false},
	}
	for _, tt := range tests {
		if got := IsSecretFile(tt.name); got != tt.secret {
			t.Errorf("IsSecretFile(%q) = %v, want %v", tt.name, got, tt.secret)
		}
		if got := IsPKCS12File(tt.name); got != tt.pkcs12 {
			t.Errorf("IsPKCS12File(%q) = %v, want %v", tt.name, got, tt.pkcs12)
		}
	}
}

func TestSSLPrefixNamesTheLayersSettings(t *testing.T) {
	if got := SSLPrefix(Transport) + "keystore.path"; got != "xpack.security.transport.ssl.keystore.path" {
		t.Fatal(got)
	}
}
