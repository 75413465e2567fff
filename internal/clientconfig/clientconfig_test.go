package clientconfig_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/golden"
	"github.com/escert/escert/internal/manifest"
)

// The fixture is a real `escert bootstrap` of testdata/bundle/instances.yml: node1 with
// a DNS name, node2 with an IP only, node3 with neither, Kibana with a server and a
// client certificate, and Beats. Only its manifest.json and clients/http-ca.crt are kept.
func fixture(t *testing.T) (*manifest.Manifest, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bundle", manifest.File))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	httpCA, err := os.ReadFile(filepath.Join("testdata", "bundle", "http-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return m, httpCA
}

// fixedRand makes the Kibana keys, and so the golden files, reproducible.
func fixedRand() *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte([]byte("escert clientconfig golden seed!")))
}

// editManifest returns m without the instances of the types in drop and with copies
// of its first instance of type dup, renamed <filename>2, <filename>3...
func editManifest(m *manifest.Manifest, drop []string, dup string, copies int) *manifest.Manifest {
	out := *m
	out.Instances = nil
	var template *manifest.InstanceInfo
	for i, inst := range m.Instances {
		if inst.Type == dup && template == nil {
			template = &m.Instances[i]
		}
		if !slices.Contains(drop, inst.Type) {
			out.Instances = append(out.Instances, inst)
		}
	}
	for i := range copies {
		c := *template
		name := template.Filename + string(rune('2'+i))
		c.Name, c.Filename, c.Dir = name, name, "clients/"+name
		out.Instances = append(out.Instances, c)
	}
	return &out
}

func generate(t *testing.T, in clientconfig.Input) *clientconfig.Result {
	t.Helper()
	if in.Rand == nil {
		in.Rand = fixedRand()
	}
	res, err := clientconfig.Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func file(t *testing.T, res *clientconfig.Result, name string) atomicfs.File {
	t.Helper()
	for _, f := range res.Files {
		if f.Path == "clients/"+name {
			return f
		}
	}
	t.Fatalf("no clients/%s among %d files", name, len(res.Files))
	return atomicfs.File{}
}

func TestFilesMatchGolden(t *testing.T) {
	m, httpCA := fixture(t)
	cases := []struct {
		name string
		in   clientconfig.Input
	}{
		// Hosts from the nodes; Kibana with server and client certificates.
		{"derived", clientconfig.Input{Manifest: m, HTTPCA: httpCA}},
		// --es-hosts, one of them an IPv6 literal; no Kibana instance in the bundle.
		{"es-hosts", clientconfig.Input{
			Manifest: editManifest(m, []string{"kibana"}, "", 0), HTTPCA: httpCA,
			Hosts: []string{"https://node1.escert.test:9200", "https://[2001:db8::1]:9243/es"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := generate(t, tc.in)
			var names []string
			for _, f := range res.Files {
				name := strings.TrimPrefix(f.Path, "clients/")
				names = append(names, name)
				golden.Check(t, filepath.Join("testdata", tc.name, name+".golden"), f.Data)
			}
			want := []string{"kibana.yml", "beats-output.yml", "logstash-output.conf", "logstash-monitoring.yml", "curl.sh"}
			if !slices.Equal(names, want) {
				t.Errorf("files %v, want %v", names, want)
			}
		})
	}
}

func TestKibanaKeysAreLongDistinctAndOnlyInTheSecretFile(t *testing.T) {
	m, httpCA := fixture(t)
	res := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA})
	kibana := file(t, res, "kibana.yml")
	if kibana.Mode != atomicfs.SecretMode {
		t.Errorf("kibana.yml mode %o, want %o: it holds the encryption keys", kibana.Mode, atomicfs.SecretMode)
	}
	settings := parseYAML(t, kibana.Data)
	seen := map[string]bool{}
	for _, name := range clientconfig.KibanaKeySettings {
		key, _ := settings[name].(string)
		if len(key) < 32 {
			t.Errorf("%s = %q: Kibana needs at least 32 characters", name, key)
		}
		if seen[key] {
			t.Errorf("%s repeats another key", name)
		}
		seen[key] = true
		for _, f := range res.Files {
			if f.Path != kibana.Path && bytes.Contains(f.Data, []byte(key)) {
				t.Errorf("%s (mode %o) contains %s", f.Path, f.Mode, name)
			}
		}
	}
	for _, f := range res.Files {
		if f.Path != kibana.Path && f.Mode != atomicfs.PublicMode {
			t.Errorf("%s: mode %o, want %o", f.Path, f.Mode, atomicfs.PublicMode)
		}
	}
	// A different random source gives different keys.
	other := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA, Rand: rand.NewChaCha8([32]byte{1})})
	if bytes.Equal(file(t, other, "kibana.yml").Data, kibana.Data) {
		t.Error("the keys do not depend on the random source")
	}
}

func TestFingerprintIsTheSHA256OfTheHTTPCA(t *testing.T) {
	m, httpCA := fixture(t)
	certs, err := ca.ParseCertificates(httpCA)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(certs[0].Raw)
	want := hex.EncodeToString(sum[:])
	res := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA})
	if res.Fingerprint != want {
		t.Errorf("Fingerprint %s, want %s", res.Fingerprint, want)
	}
	beats := parseYAML(t, file(t, res, "beats-output.yml").Data)
	if got := beats["output.elasticsearch.ssl.ca_trusted_fingerprint"]; got != want || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(want) {
		t.Errorf("beats ssl.ca_trusted_fingerprint = %v, want 64 hex characters %s", got, want)
	}
	if conf := string(file(t, res, "logstash-output.conf").Data); !strings.Contains(conf, `ca_trusted_fingerprint => "`+want+`"`) {
		t.Errorf("logstash output lacks ca_trusted_fingerprint %s:\n%s", want, conf)
	}
}

// kibanaDocumented are the kibana.yml settings escert writes, as Kibana's settings
// reference spells them.
var kibanaDocumented = []string{
	"elasticsearch.hosts",
	"elasticsearch.ssl.certificateAuthorities",
	"elasticsearch.ssl.verificationMode",
	"elasticsearch.username",
	"elasticsearch.ssl.certificate",
	"elasticsearch.ssl.key",
	"server.ssl.enabled",
	"server.ssl.certificate",
	"server.ssl.key",
	"xpack.security.encryptionKey",
	"xpack.encryptedSavedObjects.encryptionKey",
	"xpack.reporting.encryptionKey",
	"xpack.security.session.idleTimeout",
	"xpack.security.session.lifespan",
}

func TestSnippetsParseWithTheDocumentedSettingNames(t *testing.T) {
	m, httpCA := fixture(t)
	withKibana := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA})
	noKibana := generate(t, clientconfig.Input{Manifest: editManifest(m, []string{"kibana"}, "", 0), HTTPCA: httpCA})
	for _, tc := range []struct {
		name string
		res  *clientconfig.Result
		want []string
	}{
		{"kibana with server and client certificates", withKibana, kibanaDocumented},
		{"no kibana instance", noKibana, slices.DeleteFunc(slices.Clone(kibanaDocumented), func(s string) bool {
			return strings.HasPrefix(s, "server.ssl.") || s == "elasticsearch.ssl.certificate" || s == "elasticsearch.ssl.key"
		})},
	} {
		got := keys(parseYAML(t, file(t, tc.res, "kibana.yml").Data))
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: kibana.yml settings %v, want %v", tc.name, got, want)
		}
	}
	kibana := parseYAML(t, file(t, withKibana, "kibana.yml").Data)
	for setting, want := range map[string]any{
		"elasticsearch.hosts":                      []any{"https://node1.escert.test:9200", "https://192.0.2.12:9200"},
		"elasticsearch.ssl.certificateAuthorities": []any{"/etc/kibana/certs/http-ca.crt"},
		"elasticsearch.ssl.verificationMode":       "full",
		"elasticsearch.username":                   "kibana_system",
		"elasticsearch.ssl.certificate":            "/etc/kibana/certs/client.crt",
		"server.ssl.enabled":                       true,
		"server.ssl.key":                           "/etc/kibana/certs/server.key",
		"xpack.security.session.idleTimeout":       "1h",
		"xpack.security.session.lifespan":          "30d",
	} {
		if got := kibana[setting]; !equalYAML(got, want) {
			t.Errorf("kibana.yml %s = %#v, want %#v", setting, got, want)
		}
	}
	if _, ok := kibana["elasticsearch.password"]; ok {
		t.Error("kibana.yml sets elasticsearch.password: escert must not invent kibana_system's password")
	}
	beats := parseYAML(t, file(t, withKibana, "beats-output.yml").Data)
	wantBeats := []string{"monitoring.elasticsearch.hosts", "monitoring.elasticsearch.password", "monitoring.elasticsearch.protocol",
		"monitoring.elasticsearch.ssl.certificate_authorities", "monitoring.elasticsearch.ssl.verification_mode", "monitoring.elasticsearch.username",
		"monitoring.enabled", "output.elasticsearch.hosts", "output.elasticsearch.protocol", "output.elasticsearch.ssl.ca_trusted_fingerprint",
		"output.elasticsearch.ssl.certificate_authorities", "output.elasticsearch.ssl.verification_mode"}
	if got := keys(beats); !slices.Equal(got, wantBeats) {
		t.Errorf("beats settings %v, want %v", got, wantBeats)
	}
	if beats["output.elasticsearch.protocol"] != "https" || beats["output.elasticsearch.ssl.verification_mode"] != "full" {
		t.Errorf("beats protocol/verification: %v", beats)
	}
	// Each built-in user's password is a keystore reference, never a value.
	if beats["monitoring.elasticsearch.username"] != "beats_system" || beats["monitoring.elasticsearch.password"] != "${BEATS_SYSTEM_PASSWORD}" {
		t.Errorf("beats monitoring credentials: %v / %v", beats["monitoring.elasticsearch.username"], beats["monitoring.elasticsearch.password"])
	}
	ls := parseYAML(t, file(t, withKibana, "logstash-monitoring.yml").Data)
	if ls["xpack.monitoring.elasticsearch.username"] != "logstash_system" || ls["xpack.monitoring.elasticsearch.password"] != "${LOGSTASH_SYSTEM_PASSWORD}" ||
		ls["xpack.monitoring.elasticsearch.ssl.verification_mode"] != "full" {
		t.Errorf("logstash monitoring settings: %v", ls)
	}
	if !strings.Contains(string(file(t, withKibana, "kibana.yml").Data), "sed -n 's/^kibana_system=//p' built-in-passwords | bin/kibana-keystore add elasticsearch.password --stdin") {
		t.Error("kibana.yml does not give the exact kibana-keystore line")
	}
}

func TestLogstashOutputIsOneBalancedElasticsearchBlock(t *testing.T) {
	m, httpCA := fixture(t)
	conf := string(file(t, generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA}), "logstash-output.conf").Data)
	depth, opts := 0, map[string]string{}
	for line := range strings.Lines(conf) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasSuffix(line, "{"):
			depth++
		case line == "}":
			depth--
		default:
			k, v, ok := strings.Cut(line, " => ")
			if !ok || depth != 2 {
				t.Fatalf("unexpected line %q at depth %d", line, depth)
			}
			opts[k] = v
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced braces:\n%s", conf)
	}
	want := map[string]string{
		"hosts":                       `["https://node1.escert.test:9200", "https://192.0.2.12:9200"]`,
		"ssl_enabled":                 "true",
		"ssl_certificate_authorities": `["/etc/logstash/certs/http-ca.crt"]`,
		"ssl_verification_mode":       `"full"`,
	}
	for k, v := range want {
		if opts[k] != v {
			t.Errorf("%s => %s, want %s", k, opts[k], v)
		}
	}
	if len(opts) != len(want)+1 {
		t.Errorf("options %v, want %v and ca_trusted_fingerprint", opts, want)
	}
}

func TestHostsComeFromEachNodesFirstNameOrIP(t *testing.T) {
	m, httpCA := fixture(t)
	res := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA})
	want := []string{"https://node1.escert.test:9200", "https://192.0.2.12:9200"}
	if !slices.Equal(res.Hosts, want) {
		t.Errorf("hosts %v, want %v (node3 has only localhost and an otherName)", res.Hosts, want)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `node "CN=node3,OU=search,O=Example"`) {
		t.Errorf("warnings %q, want one naming node3", res.Warnings)
	}
	curl := string(file(t, res, "curl.sh").Data)
	if !strings.Contains(curl, "\nexec curl --cacert http-ca.crt -u elastic \"$@\" https://node1.escert.test:9200/\n") {
		t.Errorf("curl.sh does not run curl against the first node:\n%s", curl)
	}
}

func TestHostsFallBackToLocalhostThenFail(t *testing.T) {
	m, httpCA := fixture(t)
	only3 := *m
	only3.Instances = nil
	for _, inst := range m.Instances {
		if inst.Filename == "node3" {
			only3.Instances = append(only3.Instances, inst)
		}
	}
	res := generate(t, clientconfig.Input{Manifest: &only3, HTTPCA: httpCA})
	if !slices.Equal(res.Hosts, []string{"https://localhost:9200"}) || len(res.Warnings) != 2 {
		t.Errorf("hosts %v, warnings %q: want localhost and a warning to give --es-hosts", res.Hosts, res.Warnings)
	}
	// Without localhost in the certificate (--no-localhost), there is nothing to use.
	for i := range only3.Instances[0].Certificates {
		only3.Instances[0].Certificates[i].DNSNames, only3.Instances[0].Certificates[i].IPs = nil, nil
	}
	_, err := clientconfig.Generate(clientconfig.Input{Manifest: &only3, HTTPCA: httpCA, Rand: fixedRand()})
	if !errors.Is(err, clientconfig.ErrNoHosts) {
		t.Fatalf("err = %v, want ErrNoHosts", err)
	}
	// Given hosts are used as they are, with a warning for names no certificate carries.
	res = generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA, Hosts: []string{"https://NODE1.escert.test:9200/", "https://es.example.com:9200"}})
	if !slices.Equal(res.Hosts, []string{"https://node1.escert.test:9200", "https://es.example.com:9200"}) {
		t.Errorf("hosts %v", res.Hosts)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "es.example.com") {
		t.Errorf("warnings %q, want one for es.example.com", res.Warnings)
	}
}

func TestParseHostsRefusesWhatClientsWouldMisuse(t *testing.T) {
	cases := []struct {
		in   string
		want string // error substring; empty: accepted
		norm string
	}{
		{"https://node1.example.com:9200", "", "https://node1.example.com:9200"},
		{"HTTPS://Node1.Example.com:9200/", "", "https://node1.example.com:9200"},
		{"https://[::1]:9200", "", "https://[::1]:9200"},
		{"https://proxy.example.com:443/es/", "", "https://proxy.example.com:443/es/"},
		{"http://node1.example.com:9200", "http:// is refused: it would send the clients' passwords and every document in clear text", ""},
		{"node1.example.com:9200", "not an https:// URL", ""},
		{"https://node1.example.com", "give the port", ""},
		{"https://elastic:secret@node1.example.com:9200", "credentials do not belong in a URL", ""},
		{"https://node1.example.com:9200/?pretty", "query or fragment", ""},
		{"https://:9200", "no host name", ""},
		{"https://node1.example.com:92x0", "is not a URL", ""},
	}
	for _, tc := range cases {
		got, err := clientconfig.ParseHosts([]string{tc.in})
		switch {
		case tc.want == "" && (err != nil || len(got) != 1 || got[0] != tc.norm):
			t.Errorf("%s: %v, %v; want %s", tc.in, got, err, tc.norm)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want %q", tc.in, err, tc.want)
		}
	}
	got, err := clientconfig.ParseHosts([]string{"https://a.example:9200", " https://a.example:9200/ ", "https://b.example:9200"})
	if err != nil || !slices.Equal(got, []string{"https://a.example:9200", "https://b.example:9200"}) {
		t.Errorf("duplicates: %v, %v", got, err)
	}
	if _, err := clientconfig.ParseHosts([]string{" "}); err == nil {
		t.Error("an empty list was accepted")
	}
}

func TestAMixedUpBundleIsRefused(t *testing.T) {
	m, httpCA := fixture(t)
	otherCA := *m
	otherCA.HTTPCAFingerprint = strings.Repeat("ab", 32)
	for name, in := range map[string]clientconfig.Input{
		"CA not the manifest's": {Manifest: &otherCA, HTTPCA: httpCA},
		"no instances":          {Manifest: &manifest.Manifest{}, HTTPCA: httpCA},
		"CA not PEM":            {Manifest: m, HTTPCA: []byte("not a certificate")},
	} {
		in.Rand = fixedRand()
		if _, err := clientconfig.Generate(in); !errors.Is(err, clientconfig.ErrBundle) {
			t.Errorf("%s: err = %v, want ErrBundle", name, err)
		}
	}
}

func TestRegeneratingKeepsTheKibanaKeys(t *testing.T) {
	m, httpCA := fixture(t)
	first := file(t, generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA}), "kibana.yml")
	keys, err := clientconfig.KibanaKeys(first.Data)
	if err != nil || len(keys) != 3 {
		t.Fatalf("KibanaKeys = %v, %v", keys, err)
	}
	res := generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA, Rand: rand.NewChaCha8([32]byte{2}), KibanaKeys: keys})
	if got := file(t, res, "kibana.yml"); !bytes.Equal(got.Data, first.Data) || len(res.Kept) != 3 {
		t.Errorf("regenerated kibana.yml differs (kept %v)", res.Kept)
	}
	// Nested YAML counts too; a key Kibana would refuse (too short) is replaced.
	nested, err := clientconfig.KibanaKeys([]byte("xpack:\n  security:\n    encryptionKey: " + strings.Repeat("k", 40) + "\n  reporting.encryptionKey: short\n"))
	if err != nil || nested["xpack.security.encryptionKey"] != strings.Repeat("k", 40) {
		t.Fatalf("nested: %v, %v", nested, err)
	}
	res = generate(t, clientconfig.Input{Manifest: m, HTTPCA: httpCA, KibanaKeys: nested})
	if !slices.Equal(res.Kept, []string{"xpack.security.encryptionKey"}) {
		t.Errorf("kept %v, want only the 40-character session key", res.Kept)
	}
}

func TestSeveralKibanasGetOneFileEachWithTheSameKeys(t *testing.T) {
	m, httpCA := fixture(t)
	res := generate(t, clientconfig.Input{Manifest: editManifest(m, nil, "kibana", 1), HTTPCA: httpCA})
	a, b := parseYAML(t, file(t, res, "kibana-kibana.yml").Data), parseYAML(t, file(t, res, "kibana-kibana2.yml").Data)
	for _, k := range clientconfig.KibanaKeySettings {
		if a[k] != b[k] {
			t.Errorf("%s differs between the Kibana instances: they must share it", k)
		}
	}
	if a["server.ssl.certificate"] != "/etc/kibana/certs/server.crt" || b["server.ssl.certificate"] != "/etc/kibana/certs/server.crt" {
		t.Errorf("server certificates: %v, %v", a["server.ssl.certificate"], b["server.ssl.certificate"])
	}
}

func parseYAML(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, data)
	}
	return m
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func equalYAML(got, want any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return bytes.Equal(g, w)
}
