package nodetls

import (
	"crypto/rand"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
)

func parse(t *testing.T, yml string) esconfig.Settings {
	t.Helper()
	s, err := esconfig.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keystore(t *testing.T, secrets map[string]string) *eskeystore.Keystore {
	t.Helper()
	ks, err := eskeystore.New(eskeystore.DefaultVersion, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range secrets {
		if err := ks.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

func TestReadModelsBothLayersWhetherConfiguredOrNot(t *testing.T) {
	node := Read("/etc/es", parse(t, "cluster.name: prod\n"), nil)
	if len(node.Layers) != 2 || node.Layers[0].Name != esconfig.Transport || node.Layers[1].Name != esconfig.HTTP || len(node.Other) != 0 {
		t.Fatalf("layers %+v, other %+v", node.Layers, node.Other)
	}
	for _, l := range node.Layers {
		if l.Configured || l.Enabled || l.Keystore != nil || l.Key != nil {
			t.Errorf("%s: %+v", l.Name, l)
		}
		if want := esconfig.SSLPrefix(l.Name) + "keystore.path"; l.Keys.KeystorePath != want {
			t.Errorf("%s: keystore setting %q, want %q", l.Name, l.Keys.KeystorePath, want)
		}
	}
	if got := node.Layer(esconfig.HTTP).Name; got != esconfig.HTTP {
		t.Errorf("Layer(http) = %q", got)
	}
}

func TestReadResolvesFilesAgainstTheConfigDirectory(t *testing.T) {
	dir := filepath.Join("/etc", "elasticsearch")
	node := Read(dir, parse(t, `
xpack.security.transport.ssl:
  enabled: true
  keystore.path: certs/transport.p12
  keystore.type: PKCS12
  truststore.path: /opt/trust/../trust/transport.p12
  verification_mode: certificate
  client_authentication: optional
  trust_restrictions.path: certs/trust.yml
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/http.key
xpack.security.http.ssl.certificate: certs/http.crt
xpack.security.http.ssl.certificate_authorities: [ "certs/ca.crt", /opt/ca.crt ]
`), nil)
	tr, http := node.Layer(esconfig.Transport), node.Layer(esconfig.HTTP)
	if !tr.Configured || !tr.Enabled || tr.Keystore == nil || tr.Truststore == nil || tr.TrustRestrictions == nil {
		t.Fatalf("transport: %+v", tr)
	}
	files := []struct {
		name    string
		got     File
		path    string
		setting string
	}{
		{"keystore", tr.Keystore.File, filepath.Join(dir, "certs/transport.p12"), "xpack.security.transport.ssl.keystore.path"},
		{"absolute truststore, cleaned", tr.Truststore.File, "/opt/trust/transport.p12", "xpack.security.transport.ssl.truststore.path"},
		{"trust restrictions", *tr.TrustRestrictions, filepath.Join(dir, "certs/trust.yml"), "xpack.security.transport.ssl.trust_restrictions.path"},
		{"PEM key", *http.Key, filepath.Join(dir, "certs/http.key"), "xpack.security.http.ssl.key"},
		{"PEM certificate", *http.Certificate, filepath.Join(dir, "certs/http.crt"), "xpack.security.http.ssl.certificate"},
		{"first CA", http.CAs[0], filepath.Join(dir, "certs/ca.crt"), "xpack.security.http.ssl.certificate_authorities"},
		{"second CA", http.CAs[1], "/opt/ca.crt", "xpack.security.http.ssl.certificate_authorities"},
	}
	for _, f := range files {
		if f.got.Path != f.path || f.got.Setting != f.setting {
			t.Errorf("%s: %s [%s], want %s [%s]", f.name, f.got.Path, f.got.Setting, f.path, f.setting)
		}
	}
	if tr.Keystore.Type != "PKCS12" || tr.VerificationMode != "certificate" || tr.ClientAuth != "optional" {
		t.Errorf("transport settings: type %q, mode %q, client auth %q", tr.Keystore.Type, tr.VerificationMode, tr.ClientAuth)
	}
	if !reflect.DeepEqual(tr.TrustFields, []string{"subjectAltName.otherName.commonName"}) {
		t.Errorf("default trust fields: %v", tr.TrustFields)
	}
	if http.Keystore != nil || http.Truststore != nil || len(http.CAs) != 2 {
		t.Errorf("http: %+v", http)
	}
}

func TestReadTakesPasswordsFromTheKeystoreBeforeTheSettings(t *testing.T) {
	const prefix = "xpack.security.http.ssl."
	yml := "xpack.security.http.ssl.keystore.path: http.p12\n"
	cases := []struct {
		name        string
		yml         string
		secrets     map[string]string
		value, from string
		conflict    bool
		inKeystore  bool
	}{
		{"none", yml, nil, "", "", false, false},
		{"keystore", yml, map[string]string{prefix + "keystore.secure_password": "s3cret"}, "s3cret",
			"the password in elasticsearch.keystore's " + prefix + "keystore.secure_password", false, true},
		{"legacy setting", yml + prefix + "keystore.password: legacy\n", nil, "legacy",
			"the password in elasticsearch.yml's " + prefix + "keystore.password", false, false},
		{"both: the keystore wins, Elasticsearch refuses", yml + prefix + "keystore.password: legacy\n", map[string]string{prefix + "keystore.secure_password": "s3cret"}, "s3cret",
			"the password in elasticsearch.keystore's " + prefix + "keystore.secure_password", true, true},
		{"an empty keystore entry is no password", yml, map[string]string{prefix + "keystore.secure_password": ""}, "", "", false, false},
		{"an empty keystore entry leaves the legacy setting", yml + prefix + "keystore.password: legacy\n", map[string]string{prefix + "keystore.secure_password": ""}, "legacy",
			"the password in elasticsearch.yml's " + prefix + "keystore.password", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := Read("/etc/es", parse(t, tc.yml), keystore(t, tc.secrets)).Layer(esconfig.HTTP)
			pw := l.Keystore.Password
			if pw.Value != tc.value || pw.From != tc.from || pw.Conflict != tc.conflict || pw.InKeystore != tc.inKeystore {
				t.Errorf("password %+v, want value %q from %q, conflict %v, in the keystore %v", pw, tc.value, tc.from, tc.conflict, tc.inKeystore)
			}
			if pw.Secure != prefix+"keystore.secure_password" || pw.Legacy != prefix+"keystore.password" {
				t.Errorf("setting names %q, %q", pw.Secure, pw.Legacy)
			}
			if l.Passwords[0] != pw {
				t.Errorf("Passwords[0] = %+v, want the keystore's", l.Passwords[0])
			}
		})
	}
}

func TestReadFindsTheOtherTLSConfigurations(t *testing.T) {
	node := Read("/etc/es", parse(t, `
xpack.security.transport.ssl.enabled: true
xpack.security.authc.realms.ldap.ldap1.ssl.certificate_authorities: [ldap-ca.crt]
xpack.monitoring.exporters.cloud.ssl.verification_mode: none
`), nil)
	var prefixes []string
	for _, l := range node.Other {
		if l.Name != "" {
			t.Errorf("other configuration named %q", l.Name)
		}
		prefixes = append(prefixes, l.Keys.CAs)
	}
	want := []string{"xpack.monitoring.exporters.cloud.ssl.certificate_authorities", "xpack.security.authc.realms.ldap.ldap1.ssl.certificate_authorities"}
	if !reflect.DeepEqual(prefixes, want) {
		t.Errorf("other configurations %v, want %v", prefixes, want)
	}
	if ldap := node.Other[1]; len(ldap.CAs) != 1 || ldap.CAs[0].Path != "/etc/es/ldap-ca.crt" || ldap.Hosts != nil {
		t.Errorf("ldap: %+v", ldap)
	}
}

func TestReadListsTheHostsALayerIsReachedBy(t *testing.T) {
	cases := []struct {
		name, yml string
		layer     string
		want      []Host
	}{
		{"network.host serves both layers", "network.host: [es1.example.com, \"[::1]\"]\n", esconfig.HTTP,
			[]Host{{"es1.example.com", "network.host"}, {"::1", "network.host"}}},
		{"http.host overrides network.host", "network.host: es1\nhttp.host: 10.0.0.1\nhttp.publish_host: es.example.com\n", esconfig.HTTP,
			[]Host{{"10.0.0.1", "http.host"}, {"es.example.com", "http.publish_host"}}},
		{"transport.host is the transport layer's", "network.host: es1\nhttp.host: 10.0.0.1\n", esconfig.Transport,
			[]Host{{"es1", "network.host"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Read("/etc/es", parse(t, tc.yml), nil).Layer(tc.layer).Hosts; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hosts %v, want %v", got, tc.want)
			}
		})
	}
}
