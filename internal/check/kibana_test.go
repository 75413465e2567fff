package check_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/check"
)

// escertKibana is the kibana.yml escert client-config writes, without its comments:
// what passes every Kibana check.
const escertKibana = `elasticsearch.hosts: ["https://node1.escert.test:9200"]
elasticsearch.ssl.certificateAuthorities: ["/etc/kibana/certs/http-ca.crt"]
elasticsearch.ssl.verificationMode: full
elasticsearch.username: kibana_system
xpack.security.encryptionKey: "iS94jAp9wNfAkbjRZshhUbDStic5mHOo"
xpack.encryptedSavedObjects.encryptionKey: "Rr8L3jbHAbT6RJKDnx4uZU2NHvuQvXPq"
xpack.reporting.encryptionKey: "dqPFgG1uQgWeKriSsQrly3i59ocwegJC"
xpack.security.session.idleTimeout: "1h"
xpack.security.session.lifespan: "30d"
`

func TestKibanaFindings(t *testing.T) {
	cases := []struct {
		name     string
		from, to string // replaced in escertKibana
		want     []string
	}{
		{name: "escert's kibana.yml is clean"},
		{name: "plain HTTP to Elasticsearch", from: "https://node1", to: "http://node1",
			want: []string{"problem:kibana-plain-http"}},
		{name: "certificate not verified", from: "verificationMode: full", to: "verificationMode: none",
			want: []string{"problem:verification-none"}},
		{name: "password in the file", from: "username: kibana_system\n", to: "username: kibana_system\nelasticsearch.password: changeme\n",
			want: []string{"problem:plaintext-secret"}},
		{name: "password from the keystore by reference", from: "username: kibana_system\n", to: "username: kibana_system\nelasticsearch.password: ${KIBANA_PASSWORD}\n"},
		{name: "signs in as the superuser", from: "username: kibana_system", to: "username: elastic",
			want: []string{"problem:kibana-superuser"}},
		{name: "short encryption key", from: `"iS94jAp9wNfAkbjRZshhUbDStic5mHOo"`, to: `"short"`,
			want: []string{"problem:kibana-encryption-key"}},
		{name: "encryption key missing", from: "xpack.reporting.encryptionKey: \"dqPFgG1uQgWeKriSsQrly3i59ocwegJC\"\n", to: "",
			want: []string{"warning:kibana-encryption-key"}},
		{name: "no session timeouts", from: "xpack.security.session.idleTimeout: \"1h\"\nxpack.security.session.lifespan: \"30d\"\n", to: "",
			want: []string{"warning:kibana-session-timeout"}},
		{name: "problems come before warnings", from: "xpack.security.session.lifespan: \"30d\"\n", to: "elasticsearch.password: changeme\n",
			want: []string{"problem:plaintext-secret", "warning:kibana-session-timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yml := escertKibana
			if tc.from != "" {
				if !strings.Contains(yml, tc.from) {
					t.Fatalf("%q is not in the kibana.yml", tc.from)
				}
				yml = strings.Replace(yml, tc.from, tc.to, 1)
			}
			path := filepath.Join(t.TempDir(), "kibana.yml")
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := check.Kibana(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %v, want %v:\n%s", ids(got), tc.want, dump(got))
			}
			for _, f := range got {
				if f.File != "kibana.yml" || f.Setting == "" || f.Message == "" || f.Fix == "" {
					t.Errorf("%s: file %q, setting %q, message or fix empty", f.ID, f.File, f.Setting)
				}
				if strings.Contains(f.Message+f.Fix, "changeme") {
					t.Errorf("%s carries the password: %s", f.ID, f.Message)
				}
			}
		})
	}
}

func TestKibanaUnusableFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "kibana.yml")
	if err := os.WriteFile(bad, []byte("elasticsearch.hosts: [unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.yml"), bad} {
		if _, err := check.Kibana(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file", path, err)
		}
	}
}
