package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/escert/escert/internal/eskeystore"
)

var fixedNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

type result struct {
	code           int
	stdout, stderr string
}

// escert runs the command tree in process with a fixed clock and the given environment.
func escert(t *testing.T, environ map[string]string, args ...string) result {
	t.Helper()
	return escertAt(t, func() time.Time { return fixedNow }, environ, args...)
}

// escertAt is escert with the given clock: a test against a live CA, which judges
// lifetimes by its own clock, passes time.Now.
func escertAt(t *testing.T, now func() time.Time, environ map[string]string, args ...string) result {
	t.Helper()
	e := &env{rand: rand.Reader, now: now, getenv: func(k string) string { return environ[k] }}
	var stdout, stderr bytes.Buffer
	code := run(e, args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

const threeNodes = `instances:
  - name: node1
    dns: [node1.example.com]
    ip: [192.0.2.11]
  - name: node2
    ip: 192.0.2.12
  - name: node3
    cn: [node3.cluster.local]
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

func TestBootstrapWritesTheBundleAndNamesThePasswordFileNotThePassword(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	r := escert(t, nil, "bootstrap", "--instances", in, "--out", out)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	password, err := os.ReadFile(filepath.Join(out, "elastic-bootstrap-password"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(password))) {
		t.Error("the bootstrap password was printed")
	}
	if !strings.Contains(r.stdout, "elastic-bootstrap-password") {
		t.Errorf("stdout does not name the password file:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "warning: CA keys are written unencrypted") {
		t.Errorf("no warning about unencrypted CA keys:\n%s", r.stderr)
	}
	for _, f := range []string{"ca/transport-ca.key", "ca/http-ca.crt", "nodes/node3/certs/transport.p12", "nodes/node2/elasticsearch.yml", "clients/http-ca.sha256", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}

func TestBootstrapJSONIsTheManifest(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	r := escert(t, nil, "bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-o", "json", "--quiet")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var m struct {
		Instances []struct{ Name string } `json:"instances"`
		CAs       []struct{ File string } `json:"cas"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if len(m.Instances) != 3 || len(m.CAs) != 2 {
		t.Errorf("manifest has %d instances and %d CAs", len(m.Instances), len(m.CAs))
	}
	if strings.Contains(r.stderr, "[certs]") {
		t.Errorf("--quiet still printed progress: %s", r.stderr)
	}
}

func TestBadInputExitsWithOneLineAndWritesNothing(t *testing.T) {
	cases := []struct {
		name      string
		instances string
		args      []string
		code      int
		want      string
	}{
		{"invalid IP", "instances:\n  - name: node1\n    ip: [300.1.1.1]\n", nil, ExitInput,
			`instances.yml:3: instance "node1": field ip: "300.1.1.1" is not an IP address`},
		{"invalid DNS name", "instances:\n  - name: node1\n    dns: [bad_name.example.com]\n", nil, ExitInput,
			`instance "node1": field dns: "bad_name.example.com" is not a valid DNS name`},
		{"duplicate filename", "instances:\n  - name: a\n    filename: n\n  - name: b\n    filename: N\n", nil, ExitInput,
			`instance "b": field filename: duplicate filename "N"`},
		{"unknown field", "instances:\n  - name: node1\n    ips: [192.0.2.1]\n", nil, ExitInput,
			`instance "node1": field ips: unknown field`},
		{"missing instances file", "", []string{"--instances", "does-not-exist.yml"}, ExitInput, "does-not-exist.yml: no such file or directory"},
		{"RSA too small", threeNodes, []string{"--key-type", "rsa", "--key-size", "1024"}, ExitUsage, "RSA-1024 is not allowed"},
		{"bad format", threeNodes, []string{"--format", "jks"}, ExitUsage, `--format "jks": use p12 or pem`},
		{"unknown flag", threeNodes, []string{"--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{"bad es version", threeNodes, []string{"--es-version", "banana"}, ExitUsage, "--es-version"},
		{"empty CA pass file", threeNodes, []string{"--ca-pass-file", "EMPTY"}, ExitInput, "the file is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := writeFile(t, dir, "instances.yml", tc.instances)
			writeFile(t, dir, "EMPTY", "")
			args := []string{"bootstrap", "--instances", in, "--out", filepath.Join(dir, "out")}
			for _, a := range tc.args {
				if a == "EMPTY" {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			if len(tc.args) > 1 && tc.args[0] == "--instances" {
				args[2] = filepath.Join(dir, tc.args[1])
				args = append(args[:5], tc.args[2:]...)
			}
			r := escert(t, nil, args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr = %q, want one line containing %q", r.stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("output directory was created")
			}
		})
	}
}

func TestMissingFlagsAreAUsageError(t *testing.T) {
	r := escert(t, nil, "bootstrap")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "missing --instances and --out") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r := escert(t, nil, "frobnicate"); r.code != ExitUsage {
		t.Errorf("unknown command: exit %d", r.code)
	}
}

func TestExistingOutputIsRefusedUntouchedUnlessForced(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	keep := writeFile(t, out, "precious.key", "do not lose me")
	r := escert(t, nil, "bootstrap", "--instances", in, "--out", out)
	if r.code != ExitExists || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := listTree(t, out); len(got) != 1 {
		t.Fatalf("output changed: %v", got)
	}
	r = escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--force")
	if r.code != ExitOK {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	backup := out + ".bak-20261127T090000Z"
	if data, err := os.ReadFile(filepath.Join(backup, filepath.Base(keep))); err != nil || string(data) != "do not lose me" {
		t.Fatalf("backup lost the old content: %v", err)
	}
}

func TestCACreateThenBootstrapAndCertIssueFromTheOfflineCAs(t *testing.T) {
	dir := t.TempDir()
	pass := writeFile(t, dir, "ca.pass", "correct horse battery staple\n")
	caDir := filepath.Join(dir, "ca")
	if r := escert(t, nil, "ca", "create", "--out", caDir, "--ca-pass-file", pass); r.code != ExitOK {
		t.Fatalf("ca create: exit %d: %s", r.code, r.stderr)
	}
	key, _ := os.ReadFile(filepath.Join(caDir, "http-ca.key"))
	if !bytes.Contains(key, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Fatal("CA key with a passphrase is not encrypted")
	}
	in := writeFile(t, dir, "instances.yml", threeNodes)

	r := escert(t, nil, "bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "--ca-dir", caDir)
	if r.code != ExitInput || !strings.Contains(r.stderr, "http-ca.key") && !strings.Contains(r.stderr, "transport-ca.key") || !strings.Contains(r.stderr, "ESCERT_CA_PASSWORD") {
		t.Fatalf("without the passphrase: exit %d, stderr %q", r.code, r.stderr)
	}
	env := map[string]string{"ESCERT_CA_PASSWORD": "correct horse battery staple"}
	r = escert(t, env, "bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "--ca-dir", caDir)
	if r.code != ExitOK {
		t.Fatalf("bootstrap --ca-dir: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "ca")); err == nil {
		t.Error("bootstrap --ca-dir copied the CA keys into the bundle")
	}

	node4 := filepath.Join(dir, "node4")
	r = escert(t, env, "cert", "--name", "node4", "--dns", "node4.example.com", "--ip", "192.0.2.14", "--ca-dir", caDir, "--out", node4)
	if r.code != ExitOK {
		t.Fatalf("cert: exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(node4, "nodes", "node4", "elasticsearch.keystore"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := eskeystore.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.Get("bootstrap.password"); ok {
		t.Error("a node added later got a bootstrap.password")
	}
}

func TestCADirWithMismatchedKeyIsInvalidInput(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if r := escert(t, nil, "ca", "create", "--out", d); r.code != ExitOK {
			t.Fatal(r.stderr)
		}
	}
	other, _ := os.ReadFile(filepath.Join(b, "http-ca.key"))
	os.WriteFile(filepath.Join(a, "http-ca.key"), other, 0o600)
	r := escert(t, nil, "cert", "--name", "node4", "--ca-dir", a, "--out", filepath.Join(dir, "out"))
	if r.code != ExitInput || !strings.Contains(r.stderr, "http-ca.key: does not match the CA certificate") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCertRefusesBadFlagValuesNamingTheFlag(t *testing.T) {
	dir := t.TempDir()
	escert(t, nil, "ca", "create", "--out", filepath.Join(dir, "ca"))
	r := escert(t, nil, "cert", "--name", "n", "--ip", "not-an-ip", "--ca-dir", filepath.Join(dir, "ca"), "--out", filepath.Join(dir, "out"))
	if r.code != ExitInput || !strings.Contains(r.stderr, `field --ip: "not-an-ip" is not an IP address`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestInspectShowsSettingNamesNeverValues(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	ksPath := filepath.Join(out, "nodes", "node1", "elasticsearch.keystore")
	data, _ := os.ReadFile(ksPath)
	ks, _ := eskeystore.Decode(data, nil)
	for _, format := range []string{"text", "json"} {
		r := escert(t, nil, "inspect", "-o", format, ksPath, filepath.Join(out, "nodes", "node1", "certs", "transport.p12"), filepath.Join(out, "ca", "http-ca.key"))
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d: %s", format, r.code, r.stderr)
		}
		for _, name := range ks.Names() {
			value, _ := ks.Get(name)
			if !strings.Contains(r.stdout, name) || strings.Contains(r.stdout, string(value)) {
				t.Errorf("%s: want name %s shown and its value hidden", format, name)
			}
		}
		if strings.Contains(r.stdout, "PRIVATE KEY-----") {
			t.Errorf("%s: key material printed", format)
		}
		if !strings.Contains(r.stdout, "node1.node.elasticsearch") {
			t.Errorf("%s: transport otherName not shown:\n%s", format, r.stdout)
		}
	}
	wrong := writeFile(t, dir, "wrong.pass", "nope")
	r := escert(t, nil, "inspect", "--pass-file", wrong, filepath.Join(out, "nodes", "node1", "certs", "http.p12"))
	if r.code != ExitInput || !strings.Contains(r.stderr, "wrong PKCS#12 password") {
		t.Errorf("wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestEveryCommandHelpHasExamplesAndExitCodes(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.Name() != "help" && c.Name() != "completion" && c.Parent() != nil && c.Parent().Name() != "completion" {
			if !strings.Contains(c.Example, "EXIT CODES") || !strings.Contains(c.Example, "escert ") {
				t.Errorf("%s: help lacks examples or an EXIT CODES section", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot())
}

func TestVersionReportsCryptoMode(t *testing.T) {
	r := escert(t, nil, "version", "-o", "json")
	var v struct {
		Crypto struct{ Name string } `json:"crypto"`
	}
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &v) != nil || v.Crypto.Name != "off" {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestCertTakesTheClusterNameFromTheCA(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--cluster-name", "prod"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	node4 := filepath.Join(dir, "node4")
	if r := escert(t, nil, "cert", "--name", "node4", "--ca-dir", filepath.Join(out, "ca"), "--out", node4); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	r := escert(t, nil, "inspect", "-o", "json", filepath.Join(node4, "nodes", "node4", "certs", "transport.p12"))
	if r.code != ExitOK || !strings.Contains(r.stdout, `"node4.node.prod"`) {
		t.Fatalf("node4's transport certificate does not carry node4.node.prod: %s %s", r.stdout, r.stderr)
	}
	trust, _ := os.ReadFile(filepath.Join(node4, "nodes", "node4", "certs", "transport-trust.yml"))
	if !strings.Contains(string(trust), `"*.node.prod"`) {
		t.Errorf("trust restrictions: %s", trust)
	}
	r = escert(t, nil, "cert", "--name", "node5", "--cluster-name", "other", "--ca-dir", filepath.Join(out, "ca"), "--out", filepath.Join(dir, "node5"))
	if r.code != ExitOK || !strings.Contains(r.stderr, `differs from the CA's cluster "prod"`) {
		t.Errorf("mismatched --cluster-name: exit %d, stderr %q", r.code, r.stderr)
	}
}
