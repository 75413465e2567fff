package cli

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/treestate"
)

// The malformed-input contract, for every command at once: bad input gets exactly one
// line on stderr naming what is wrong, the exit code the command documents, and every
// file stays as it was.

// malformedCase is one bad input. In args and files, {ws} is the workspace.
type malformedCase struct {
	name  string
	files map[string]string // written into the workspace before the run
	args  []string
	stdin string
	code  int
	want  string // the one stderr line contains it
}

// malformedWorkspace is shared by every case: a bootstrap (CA keys encrypted), a node
// config directory with node1 installed, and a fresh one.
type malformedWorkspace struct{ dir string }

const malformedCAPass = "a CA passphrase"

func newMalformedWorkspace(t *testing.T) malformedWorkspace {
	t.Helper()
	ws := malformedWorkspace{t.TempDir()}
	writeFile(t, ws.dir, "instances.yml", "instances:\n  - name: node1\n    dns: [node1.example.com]\n  - name: node2\n    dns: [node2.example.com]\n")
	if err := os.MkdirAll(filepath.Join(ws.dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"fresh", "ks"} {
		if err := os.MkdirAll(filepath.Join(ws.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, ws.dir, "config/elasticsearch.yml", "cluster.name: escert-test\n")
	writeFile(t, ws.dir, "fresh/elasticsearch.yml", "cluster.name: escert-test\n")
	writeFile(t, ws.dir, "ks.pass", "a keystore password\n")
	for _, args := range [][]string{
		{"bootstrap", "--instances", ws.path("instances.yml"), "--out", ws.path("out"), "--cluster-name", "escert-test", "-q"},
		{"install", "--bundle", ws.path("out/nodes/node1"), "--es-config", ws.path("config"), "--owner", "-"},
		{"keystore", "create", "--path", ws.path("ks/elasticsearch.keystore")},
		{"ca", "create", "--out", ws.path("other-ca"), "--single-ca", "-q"},
	} {
		if r := escertAt(t, time.Now, map[string]string{"ESCERT_CA_PASSWORD": malformedCAPass}, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args[:2], r.code, r.stderr)
		}
	}
	return ws
}

// prepare writes a case's files. Contents in braces are taken from the workspace
// ({ca}: a CA certificate, {node1-transport}: another node's p12, {truncated-http}:
// half of a p12...). Three names are directives: ".copy-of" copies a directory there
// first, ".without" then removes a file of it, ".link-NAME" makes NAME a symlink.
func (ws malformedWorkspace) prepare(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	read := func(rel string) []byte {
		data, err := os.ReadFile(ws.path(rel))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	contents := map[string]func() []byte{
		"{ca}":                 func() []byte { return read("out/ca/http-ca.crt") },
		"{transport-ca}":       func() []byte { return read("out/ca/transport-ca.crt") },
		"{other-ca}":           func() []byte { return read("other-ca/ca.crt") },
		"{other-ca-key}":       func() []byte { return read("other-ca/ca.key") },
		"{node1-transport}":    func() []byte { return read("out/nodes/node1/certs/transport.p12") },
		"{node1-http}":         func() []byte { return read("out/nodes/node1/certs/http.p12") },
		"{truncated-http}":     func() []byte { d := read("out/nodes/node2/certs/http.p12"); return d[:len(d)/2] },
		"{truncated-keystore}": func() []byte { d := read("out/nodes/node1/elasticsearch.keystore"); return d[:len(d)/2] },
		"{manifest}":           func() []byte { return read("out/manifest.json") },
	}
	for name, content := range files {
		if filepath.Base(name) == ".copy-of" {
			if err := os.CopyFS(filepath.Join(dir, filepath.Dir(name)), os.DirFS(ws.expand(content))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(name)
		switch {
		case base == ".copy-of":
		case base == ".without":
			if err := os.Remove(filepath.Join(filepath.Dir(p), content)); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(base, ".link-"):
			if err := os.Symlink(content, filepath.Join(filepath.Dir(p), strings.TrimPrefix(base, ".link-"))); err != nil {
				t.Fatal(err)
			}
		default:
			data := []byte(ws.expand(content))
			if f, ok := contents[content]; ok {
				data = f()
			}
			os.Remove(p) // a file of a copied directory may be read-only
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (ws malformedWorkspace) path(rel string) string { return filepath.Join(ws.dir, rel) }

func (ws malformedWorkspace) expand(s string) string { return strings.ReplaceAll(s, "{ws}", ws.dir) }

func TestMalformedInputGetsOneLineItsExitCodeAndChangesNothing(t *testing.T) {
	ws := newMalformedWorkspace(t)
	cases := malformedCases()
	if len(cases) < 100 {
		t.Fatalf("%d malformed inputs, want at least 100", len(cases))
	}
	seen := map[string]bool{}
	for i, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			caseDir := ws.path(fmt.Sprintf("case%03d", i))
			ws.prepare(t, caseDir, tc.files)
			args := make([]string, len(tc.args))
			for j, a := range tc.args {
				args[j] = strings.ReplaceAll(ws.expand(a), "{case}", caseDir)
			}
			before := treestate.Of(t, ws.dir, atomicfs.LockFile)
			e := &env{rand: rand.Reader, now: time.Now, stdin: strings.NewReader(tc.stdin), getenv: func(k string) string {
				if k == "ESCERT_CA_PASSWORD" {
					return malformedCAPass
				}
				return ""
			}}
			var stdout, stderr bytes.Buffer
			r := result{code: run(e, args, &stdout, &stderr), stdout: stdout.String(), stderr: stderr.String()}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != tc.code || len(lines) != 1 || !strings.Contains(lines[0], strings.ReplaceAll(ws.expand(tc.want), "{case}", caseDir)) {
				t.Errorf("escert %s\nexit %d, stderr:\n%s\nwant exit %d and one line containing %q", strings.Join(args, " "), r.code, r.stderr, tc.code, ws.expand(tc.want))
			}
			assertDocumented(t, args, r.code)
			// The lock every writer shares is created on first use and stays: deleting a
			// lock file another run may be waiting on would break the lock.
			if changes := treestate.Changes(before, treestate.Of(t, ws.dir, atomicfs.LockFile)); len(changes) > 0 {
				t.Errorf("files changed: %v", changes)
			}
		})
	}
}

// Frequently used bad files.
const (
	garbage    = "this is not what escert expects\n"
	pemGarbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
	keyGarbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
)

func malformedCases() []malformedCase {
	var cases []malformedCase
	add := func(c ...malformedCase) { cases = append(cases, c...) }

	// The instances file: bootstrap reads it; each refusal names file, line or instance,
	// and field.
	bootstrap := func(name, yml string, code int, want string) malformedCase {
		return malformedCase{name: "instances/" + name, files: map[string]string{"i.yml": yml},
			args: []string{"bootstrap", "--instances", "{case}/i.yml", "--out", "{case}/out"}, code: code, want: want}
	}
	add(
		bootstrap("empty file", "", ExitInput, "i.yml"),
		bootstrap("not yaml", "instances: [\n", ExitInput, "i.yml"),
		bootstrap("tab indentation", "instances:\n\t- name: node1\n", ExitInput, "i.yml"),
		bootstrap("no instances key", "nodes:\n  - name: node1\n", ExitInput, "i.yml"),
		bootstrap("instances not a list", "instances: node1\n", ExitInput, "i.yml"),
		bootstrap("empty list", "instances: []\n", ExitInput, "i.yml"),
		bootstrap("instance not a map", "instances:\n  - node1\n", ExitInput, "i.yml"),
		bootstrap("missing name", "instances:\n  - dns: [a.example.com]\n", ExitInput, "name"),
		bootstrap("empty name", "instances:\n  - name: \"\"\n", ExitInput, "name"),
		bootstrap("unknown field", "instances:\n  - name: node1\n    ips: [192.0.2.1]\n", ExitInput, "field ips"),
		bootstrap("invalid IP", "instances:\n  - name: node1\n    ip: [300.1.1.1]\n", ExitInput, "300.1.1.1"),
		bootstrap("IP with port", "instances:\n  - name: node1\n    ip: [192.0.2.1:9300]\n", ExitInput, "192.0.2.1:9300"),
		bootstrap("invalid DNS name", "instances:\n  - name: node1\n    dns: [bad_name.example.com]\n", ExitInput, "bad_name.example.com"),
		bootstrap("DNS name with space", "instances:\n  - name: node1\n    dns: [\"a b.example.com\"]\n", ExitInput, "field dns"),
		bootstrap("DNS label too long", "instances:\n  - name: node1\n    dns: ["+strings.Repeat("a", 64)+".example.com]\n", ExitInput, "field dns"),
		bootstrap("URL as DNS name", "instances:\n  - name: node1\n    dns: [\"https://node1.example.com\"]\n", ExitInput, "field dns"),
		bootstrap("duplicate name", "instances:\n  - name: node1\n  - name: node1\n", ExitInput, "node1"),
		bootstrap("duplicate filename", "instances:\n  - name: a\n    filename: n\n  - name: b\n    filename: N\n", ExitInput, "field filename"),
		bootstrap("filename with slash", "instances:\n  - name: node1\n    filename: ../node1\n", ExitInput, "field filename"),
		bootstrap("unknown type", "instances:\n  - name: node1\n    type: solr\n", ExitInput, "field type"),
		bootstrap("DN without CN", "instances:\n  - name: \"OU=IT,O=Example\"\n", ExitInput, "no CN"),
		bootstrap("DN unknown attribute", "instances:\n  - name: \"CN=node1,XX=IT\"\n", ExitInput, "XX"),
		bootstrap("DN bad country", "instances:\n  - name: \"CN=node1,C=USA\"\n", ExitInput, "USA"),
		bootstrap("DN empty value", "instances:\n  - name: \"CN=node1,OU=\"\n", ExitInput, "distinguished name"),
		bootstrap("second YAML document", "instances:\n  - name: node1\n---\ninstances:\n  - name: node2\n", ExitInput, "i.yml"),
		bootstrap("client_auth on a node", "instances:\n  - name: node1\n    client_auth: true\n", ExitInput, "client_auth"),
		bootstrap("dns not a string", "instances:\n  - name: node1\n    dns: [{a: b}]\n", ExitInput, "i.yml"),
		bootstrap("too many SANs", "instances:\n  - name: node1\n    dns: ["+manyNames(5000)+"]\n", ExitInput, "field dns"),
		bootstrap("binary file", "\x00\x01\x02\xff\xfe", ExitInput, "i.yml"),
		malformedCase{name: "instances/dev zero", args: []string{"bootstrap", "--instances", "/dev/zero", "--out", "{case}/out"}, code: ExitInput, want: "/dev/zero: larger than an instances file can be"},
		malformedCase{name: "instances/missing", args: []string{"bootstrap", "--instances", "{case}/nope.yml", "--out", "{case}/out"}, code: ExitInput, want: "nope.yml"},
		malformedCase{name: "instances/a directory", args: []string{"bootstrap", "--instances", "{ws}/out", "--out", "{case}/out"}, code: ExitInput, want: "{ws}/out"},
		malformedCase{name: "cert/bad DNS flag", args: []string{"cert", "--name", "node9", "--dns", "bad_name", "--ca-dir", "{ws}/out/ca", "--out", "{case}/out"}, code: ExitInput, want: "bad_name"},
		malformedCase{name: "cert/bad IP flag", args: []string{"cert", "--name", "node9", "--ip", "1.2.3", "--ca-dir", "{ws}/out/ca", "--out", "{case}/out"}, code: ExitInput, want: "1.2.3"},
	)

	// Flags: usage errors, exit 2 (or the command's own contract).
	ok := "{ws}/instances.yml"
	flag := func(name string, code int, want string, args ...string) malformedCase {
		return malformedCase{name: "flags/" + name, args: args, code: code, want: want}
	}
	add(
		flag("unknown flag", ExitUsage, "unknown flag: --bogus", "bootstrap", "--instances", ok, "--out", "{case}/o", "--bogus"),
		flag("missing out", ExitUsage, "missing --out", "bootstrap", "--instances", ok),
		flag("bad format", ExitUsage, "jks", "bootstrap", "--instances", ok, "--out", "{case}/o", "--format", "jks"),
		flag("bad key type", ExitUsage, "dsa", "bootstrap", "--instances", ok, "--out", "{case}/o", "--key-type", "dsa"),
		flag("RSA too small", ExitUsage, "RSA-1024", "bootstrap", "--instances", ok, "--out", "{case}/o", "--key-type", "rsa", "--key-size", "1024"),
		flag("bad curve", ExitUsage, "P-192", "bootstrap", "--instances", ok, "--out", "{case}/o", "--curve", "P-192"),
		flag("zero days", ExitUsage, "--days", "bootstrap", "--instances", ok, "--out", "{case}/o", "--days", "0"),
		flag("negative CA days", ExitUsage, "--ca-days", "bootstrap", "--instances", ok, "--out", "{case}/o", "--ca-days", "-1"),
		flag("bad es version", ExitUsage, "--es-version", "bootstrap", "--instances", ok, "--out", "{case}/o", "--es-version", "banana"),
		flag("bad cluster name", ExitUsage, "--cluster-name", "bootstrap", "--instances", ok, "--out", "{case}/o", "--cluster-name", "a b/c"),
		flag("bad issuer", ExitUsage, "--issuer", "bootstrap", "--instances", ok, "--out", "{case}/o", "--issuer", "acme"),
		flag("bootstrap -o xml", ExitUsage, "xml", "bootstrap", "--instances", ok, "--out", "{case}/o", "-o", "xml"),
		flag("version -o xml", ExitUsage, "xml", "version", "-o", "xml"),
		flag("version argument", ExitUsage, "takes no arguments", "version", "extra"),
		flag("check -o xml", 3, "xml", "check", "--es-config", "{ws}/config", "-o", "xml"),
		flag("needs-renewal -o xml", exitNeedsRenewalError, "xml", "needs-renewal", "--es-config", "{ws}/config", "-o", "xml"),
		flag("probe -o xml", probeUnknown, "xml", "probe", "localhost", "-o", "xml"),
		flag("probe no host", probeUnknown, "HOST", "probe"),
		flag("probe zero timeout", probeUnknown, "--timeout", "probe", "localhost", "--timeout", "0s"),
		flag("probe unknown target", probeUnknown, "--target \"solr\": use elasticsearch or opensearch", "probe", "localhost", "--target", "solr"),
		flag("probe cert without key", probeUnknown, "--cert and --key", "probe", "localhost", "--cert", "{ws}/out/nodes/node1/certs/http-ca.crt"),
		flag("unknown command", ExitUsage, "unknown command", "frobnicate"),
		flag("ca create missing out", ExitUsage, "see escert ca create --help", "ca", "create"),
		flag("ca rotate begin missing ca-dir", ExitUsage, "see escert ca rotate begin --help", "ca", "rotate", "begin"),
		flag("ca rotate bad layer", ExitUsage, "--layer", "ca", "rotate", "begin", "--ca-dir", "{ws}/out/ca", "--es-config", "{ws}/config", "--layer", "both"),
		flag("install missing bundle", ExitUsage, "missing --bundle", "install", "--es-config", "{ws}/fresh"),
		flag("renew -o xml", ExitUsage, "xml", "renew", "--es-config", "{ws}/config", "--ca-dir", "{ws}/out/ca", "-o", "xml"),
		flag("inspect no file", ExitUsage, "at least 1", "inspect"),
		flag("keystore unknown flag", ksUsage, "unknown flag", "keystore", "list", "--bogus"),
		flag("keystore add no setting", ksUsage, "", "keystore", "add", "--path", "{ws}/ks/elasticsearch.keystore"),
	)

	// Password files, for every command that reads one.
	for _, p := range []struct{ label, content, file, want string }{
		{"empty", "", "{case}/p", "the file is empty"},
		{"newline only", "\n", "{case}/p", "the file is empty"},
		{"missing", "", "{case}/none", "{case}/none"},
		{"dev zero", "", "/dev/zero", "larger than a password file can be"},
		{"directory", "", "{ws}/out", "{ws}/out"},
	} {
		files := map[string]string{}
		if p.file == "{case}/p" {
			files["p"] = p.content
		}
		add(
			malformedCase{name: "password/bootstrap ca-pass-file " + p.label, files: files, code: ExitInput, want: p.want,
				args: []string{"bootstrap", "--instances", ok, "--out", "{case}/o", "--ca-pass-file", p.file}},
			malformedCase{name: "password/bootstrap keystore-pass-file " + p.label, files: files, code: ExitInput, want: p.want,
				args: []string{"bootstrap", "--instances", ok, "--out", "{case}/o", "--keystore-pass-file", p.file}},
			malformedCase{name: "password/cert ca-pass-file " + p.label, files: files, code: ExitInput, want: p.want,
				args: []string{"cert", "--name", "node9", "--ca-dir", "{ws}/out/ca", "--out", "{case}/o", "--ca-pass-file", p.file}},
			malformedCase{name: "password/install keystore-pass-file " + p.label, files: files, code: ExitInput, want: p.want,
				args: []string{"install", "--bundle", "{ws}/out/nodes/node2", "--es-config", "{ws}/fresh", "--owner", "-", "--keystore-pass-file", p.file}},
		)
	}
	add(
		malformedCase{name: "password/wrong CA passphrase", files: map[string]string{"p": "not the passphrase\n"}, code: ExitInput, want: "passphrase",
			args: []string{"cert", "--name", "node9", "--ca-dir", "{ws}/out/ca", "--out", "{case}/o", "--ca-pass-file", "{case}/p"}},
		malformedCase{name: "password/FIPS CA passphrase too short", files: map[string]string{"p": "short\n"}, code: ExitUsage, want: "14",
			args: []string{"bootstrap", "--instances", ok, "--out", "{case}/o", "--fips", "--ca-pass-file", "{case}/p"}},
	)

	// CA directories, for cert (and renew below).
	ca := func(name string, files map[string]string, want string) malformedCase {
		return malformedCase{name: "ca-dir/" + name, files: files, code: ExitInput, want: want,
			args: []string{"cert", "--name", "node9", "--ca-dir", "{case}/ca", "--out", "{case}/o"}}
	}
	add(
		malformedCase{name: "ca-dir/missing", code: ExitInput, want: "{case}/nope",
			args: []string{"cert", "--name", "node9", "--ca-dir", "{case}/nope", "--out", "{case}/o"}},
		ca("empty", map[string]string{"ca/README": "nothing here\n"}, "{case}/ca"),
		ca("garbage certificate", map[string]string{"ca/ca.crt": garbage, "ca/ca.key": keyGarbage}, "ca.crt"),
		ca("garbage PEM certificate", map[string]string{"ca/ca.crt": pemGarbage, "ca/ca.key": keyGarbage}, "ca.crt"),
		ca("certificate without key", map[string]string{"ca/ca.crt": "{ca}"}, "ca.key"),
		ca("key garbage", map[string]string{"ca/ca.crt": "{ca}", "ca/ca.key": keyGarbage}, "ca.key"),
		ca("key is a certificate", map[string]string{"ca/ca.crt": "{ca}", "ca/ca.key": "{ca}"}, "ca.key"),
		ca("only transport CA", map[string]string{"ca/transport-ca.crt": "{ca}"}, "transport-ca.key: missing"),
	)

	// Bundles given to install: each fault names the bundle file.
	node2 := "{ws}/out/nodes/node2"
	installBundle := func(name string, files map[string]string, want string) malformedCase {
		return malformedCase{name: "bundle/" + name, files: files, code: ExitInput, want: want,
			args: []string{"install", "--bundle", "{case}/b", "--es-config", "{ws}/fresh", "--owner", "-"}}
	}
	add(
		malformedCase{name: "bundle/missing directory", code: ExitInput, want: "{case}/b",
			args: []string{"install", "--bundle", "{case}/b", "--es-config", "{ws}/fresh", "--owner", "-"}},
		installBundle("empty directory", map[string]string{"b/README": "x"}, "{case}/b"),
		malformedCase{name: "bundle/es-config missing", code: ExitInput, want: "{case}/nope",
			args: []string{"install", "--bundle", node2, "--es-config", "{case}/nope", "--owner", "-"}},
		malformedCase{name: "bundle/es-config without elasticsearch.yml", files: map[string]string{"cfg/jvm.options": "-Xmx1g\n"}, code: ExitInput, want: "elasticsearch.yml",
			args: []string{"install", "--bundle", node2, "--es-config", "{case}/cfg", "--owner", "-"}},
		malformedCase{name: "bundle/elasticsearch.yml not yaml", files: map[string]string{"cfg/elasticsearch.yml": "a: [\n"}, code: ExitInput, want: "elasticsearch.yml",
			args: []string{"install", "--bundle", node2, "--es-config", "{case}/cfg", "--owner", "-"}},
		malformedCase{name: "bundle/node keystore garbage", files: map[string]string{"cfg/elasticsearch.yml": "x: 1\n", "cfg/elasticsearch.keystore": garbage}, code: ExitInput, want: "elasticsearch.keystore",
			args: []string{"install", "--bundle", node2, "--es-config", "{case}/cfg", "--owner", "-"}},
		malformedCase{name: "bundle/unknown owner", code: ExitInput, want: "no-such-user-escert",
			args: []string{"install", "--bundle", node2, "--es-config", "{ws}/fresh", "--owner", "no-such-user-escert"}},
	)
	for _, f := range []struct{ label, file, content string }{
		{"garbage transport.p12", "certs/transport.p12", garbage},
		{"empty transport.p12", "certs/transport.p12", ""},
		{"truncated http.p12", "certs/http.p12", "{truncated-http}"},
		{"other node's transport.p12", "certs/transport.p12", "{node1-transport}"},
		{"other node's http.p12", "certs/http.p12", "{node1-http}"},
		{"garbage bundle keystore", "elasticsearch.keystore", garbage},
		{"garbage transport CA", "certs/transport-ca.crt", pemGarbage},
		{"other CA as http CA", "certs/http-ca.crt", "{transport-ca}"},
		{"garbage settings block", "elasticsearch.yml", "a: [\n"},
	} {
		add(installBundle(f.label, map[string]string{"b/" + f.file: f.content, "b/.copy-of": node2}, f.file))
	}
	add(malformedCase{name: "bundle/missing transport.p12", files: map[string]string{"b/.copy-of": node2, "b/.without": "certs/transport.p12"}, code: ExitInput, want: "transport.p12",
		args: []string{"install", "--bundle", "{case}/b", "--es-config", "{ws}/fresh", "--owner", "-"}})

	// Node config directories, for check, needs-renewal and renew.
	add(
		malformedCase{name: "node/check missing dir", code: ExitInput, want: "{case}/nope", args: []string{"check", "--es-config", "{case}/nope"}},
		malformedCase{name: "node/check yml dev zero", files: map[string]string{"cfg/.link-elasticsearch.yml": "/dev/zero"}, code: ExitInput, want: "larger than a settings file can be", args: []string{"check", "--es-config", "{case}/cfg"}},
		malformedCase{name: "node/needs-renewal missing dir", code: exitNeedsRenewalError, want: "{case}/nope", args: []string{"needs-renewal", "--es-config", "{case}/nope"}},
		malformedCase{name: "node/needs-renewal garbage certificate", files: map[string]string{"cfg/elasticsearch.yml": "xpack.security.http.ssl.enabled: true\nxpack.security.http.ssl.certificate: certs/http.crt\nxpack.security.http.ssl.key: certs/http.key\n", "cfg/certs/http.crt": garbage, "cfg/certs/http.key": keyGarbage},
			// needs-renewal reads certificates only (rotate.Chains): the key is renew's.
			code: exitNeedsRenewalError, want: "http.crt: neither PEM, a DER certificate nor PKCS#7", args: []string{"needs-renewal", "--es-config", "{case}/cfg"}},
		malformedCase{name: "renew/missing config", code: ExitInput, want: "{case}/nope", args: []string{"renew", "--es-config", "{case}/nope", "--ca-dir", "{ws}/out/ca"}},
		malformedCase{name: "renew/other CA", files: map[string]string{"ca/transport-ca.crt": "{other-ca}", "ca/transport-ca.key": "{other-ca-key}", "ca/http-ca.crt": "{other-ca}", "ca/http-ca.key": "{other-ca-key}"},
			code: ExitInput, want: "not by the CA given", args: []string{"renew", "--es-config", "{ws}/config", "--ca-dir", "{case}/ca", "--force"}},
		malformedCase{name: "renew/missing CA dir", code: ExitInput, want: "{case}/nope", args: []string{"renew", "--es-config", "{ws}/config", "--ca-dir", "{case}/nope", "--force"}},
	)

	// CA rotation: a bad node or clients directory leaves no next/ behind.
	add(
		malformedCase{name: "rotate/begin typo es-config", code: ExitInput, want: "{case}/nope",
			args: []string{"ca", "rotate", "begin", "--ca-dir", "{ws}/out/ca", "--es-config", "{case}/nope"}},
		malformedCase{name: "rotate/begin bad clients", files: map[string]string{"clients/http-ca.crt": garbage}, code: ExitInput, want: "{case}/clients",
			args: []string{"ca", "rotate", "begin", "--ca-dir", "{ws}/out/ca", "--es-config", "{ws}/config", "--clients", "{case}/clients"}},
		malformedCase{name: "rotate/issue before begin", code: ExitInput, want: "begin",
			args: []string{"ca", "rotate", "issue", "--ca-dir", "{ws}/out/ca", "--es-config", "{ws}/config"}},
		malformedCase{name: "rotate/finish before begin", code: ExitInput, want: "begin",
			args: []string{"ca", "rotate", "finish", "--ca-dir", "{ws}/out/ca", "--es-config", "{ws}/config"}},
	)

	// inspect: whatever the file, one line.
	for _, f := range []struct{ label, content, want string }{
		{"garbage", garbage, "i"},
		{"empty", "", "i"},
		{"PEM garbage", pemGarbage, "i"},
		{"key garbage", keyGarbage, "i"},
		{"truncated keystore", "{truncated-keystore}", "i"},
		{"binary", "\x00\xff\x10\x20", "i"},
	} {
		add(malformedCase{name: "inspect/" + f.label, files: map[string]string{"i": f.content}, code: ExitInput, want: "{case}/i", args: []string{"inspect", "{case}/i"}})
	}
	add(
		malformedCase{name: "inspect/dev zero", code: ExitInput, want: "larger than a file escert inspects can be", args: []string{"inspect", "/dev/zero"}},
		malformedCase{name: "inspect/missing", code: ExitInput, want: "{case}/nope", args: []string{"inspect", "{case}/nope"}},
		malformedCase{name: "inspect/p12 wrong password", files: map[string]string{"p": "wrong\n"}, code: ExitInput, want: "http.p12",
			args: []string{"inspect", "{ws}/config/certs/http.p12", "--pass-file", "{case}/p"}},
	)

	// probe: bad client credentials and CA files (Nagios UNKNOWN).
	add(
		malformedCase{name: "probe/ca garbage", files: map[string]string{"ca.crt": garbage}, code: probeUnknown, want: "{case}/ca.crt", args: []string{"probe", "localhost", "--ca", "{case}/ca.crt"}},
		malformedCase{name: "probe/ca dev zero", code: probeUnknown, want: "larger than a PEM file can be", args: []string{"probe", "localhost", "--ca", "/dev/zero"}},
		malformedCase{name: "probe/key garbage", files: map[string]string{"k": keyGarbage}, code: probeUnknown, want: "{case}/k",
			args: []string{"probe", "localhost", "--cert", "{ws}/out/ca/http-ca.crt", "--key", "{case}/k"}},
		malformedCase{name: "probe/p12 garbage", files: map[string]string{"c.p12": garbage}, code: probeUnknown, want: "{case}/c.p12", args: []string{"probe", "localhost", "--p12", "{case}/c.p12"}},
	)

	// The keystore commands keep elasticsearch-keystore's codes: 64 usage, 65 data.
	ks := "{ws}/ks/elasticsearch.keystore"
	add(
		malformedCase{name: "keystore/list garbage", files: map[string]string{"ks": garbage}, code: ksDataError, want: "corrupted", args: []string{"keystore", "list", "--path", "{case}/ks"}},
		malformedCase{name: "keystore/list truncated", files: map[string]string{"ks": "{truncated-keystore}"}, code: ksDataError, want: "corrupted", args: []string{"keystore", "list", "--path", "{case}/ks"}},
		malformedCase{name: "keystore/list dev zero", code: ksDataError, want: "larger than an elasticsearch.keystore can be", args: []string{"keystore", "list", "--path", "/dev/zero"}},
		malformedCase{name: "keystore/list missing", code: ksDataError, want: "{case}/nope", args: []string{"keystore", "list", "--path", "{case}/nope"}},
		malformedCase{name: "keystore/add bad setting name", stdin: "v\n", code: ksDataError, want: "does not match the allowed setting name pattern", args: []string{"keystore", "add", "--path", ks, "-x", "BAD NAME"}},
		malformedCase{name: "keystore/add existing without force", stdin: "v\n", code: ksUsage, want: "keystore.seed", args: []string{"keystore", "add", "--path", ks, "-x", "keystore.seed"}},
		malformedCase{name: "keystore/add-file missing file", code: ksIOError, want: "{case}/nope", args: []string{"keystore", "add-file", "--path", ks, "s3.client.default.credentials_file", "{case}/nope"}},
		malformedCase{name: "keystore/add-file dev zero", code: ksDataError, want: "larger than a keystore setting file can be", args: []string{"keystore", "add-file", "--path", ks, "gcs.client.default.credentials_file", "/dev/zero"}},
		malformedCase{name: "keystore/remove missing setting", code: ksConfig, want: "nope.setting", args: []string{"keystore", "remove", "--path", ks, "nope.setting"}},
		malformedCase{name: "keystore/show missing setting", code: ksConfig, want: "nope.setting", args: []string{"keystore", "show", "--path", ks, "nope.setting"}},
		malformedCase{name: "keystore/create existing without force", code: ksUsage, want: "exists", args: []string{"keystore", "create", "--path", ks}, stdin: "n\n"},
		malformedCase{name: "keystore/upgrade bad version", code: ksUsage, want: "--es-version", args: []string{"keystore", "upgrade", "--path", ks, "--es-version", "banana"}},
		malformedCase{name: "keystore/passwd stdin dev zero", code: ksDataError, want: "", args: []string{"keystore", "passwd", "--path", "/dev/zero"}},
	)

	// client-config: the bundle it reads.
	add(
		malformedCase{name: "client-config/missing bundle", code: ExitInput, want: "{case}/nope", args: []string{"client-config", "--bundle", "{case}/nope"}},
		malformedCase{name: "client-config/garbage manifest", files: map[string]string{"b/manifest.json": garbage, "b/clients/http-ca.crt": "{ca}"}, code: ExitInput, want: "manifest.json", args: []string{"client-config", "--bundle", "{case}/b"}},
		malformedCase{name: "client-config/garbage http CA", files: map[string]string{"b/manifest.json": "{manifest}", "b/clients/http-ca.crt": pemGarbage}, code: ExitInput, want: "http-ca.crt", args: []string{"client-config", "--bundle", "{case}/b"}},
		malformedCase{name: "client-config/bad host", code: ExitUsage, want: "--es-hosts", args: []string{"client-config", "--bundle", "{ws}/out", "--out", "{case}/o", "--es-hosts", "ftp://x"}},
	)
	return cases
}

// manyNames is n distinct DNS names, comma-separated, for a YAML flow list.
func manyNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%d.example.com", i)
	}
	return strings.Join(names, ",")
}
