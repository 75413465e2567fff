package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/clientconfig"
)

// clientBundle bootstraps threeNodes plus Kibana and returns the bundle directory.
func clientBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes+"  - name: kibana\n    type: kibana\n    dns: [kibana.example.com]\n")
	out := filepath.Join(dir, "bundle")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "--quiet"); r.code != ExitOK {
		t.Fatalf("bootstrap: exit %d: %s", r.code, r.stderr)
	}
	return out
}

func TestClientConfigWritesEachFileWithItsMode(t *testing.T) {
	b := clientBundle(t)
	out := filepath.Join(t.TempDir(), "settings")
	r := escert(t, nil, "client-config", "--bundle", b, "--out", out)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := map[string]os.FileMode{
		"kibana.yml": 0o600, "beats-output.yml": 0o644, "logstash-output.conf": 0o644, "curl.sh": 0o644,
		"http-ca.crt": 0o644, // curl.sh needs it beside itself outside the bundle
	}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", name, info.Mode().Perm(), mode)
		}
		if !strings.Contains(r.stdout, filepath.Join(out, name)) {
			t.Errorf("stdout does not name %s:\n%s", name, r.stdout)
		}
	}
	kibana, _ := os.ReadFile(filepath.Join(out, "kibana.yml"))
	if !strings.Contains(string(kibana), `elasticsearch.hosts: ["https://node1.example.com:9200", "https://192.0.2.12:9200"]`) {
		t.Errorf("kibana.yml hosts are not node1's DNS name and node2's IP:\n%s", kibana)
	}
	if !strings.Contains(r.stderr, `node "node3"`) {
		t.Errorf("no warning that node3 (otherName only) is left out:\n%s", r.stderr)
	}
	// The bundle's own clients/ directory is the default, written there with --force
	// whether or not the bootstrap already wrote client settings.
	r = escert(t, nil, "client-config", "--bundle", b, "--es-hosts", "https://node1.example.com:9200", "--force")
	if r.code != ExitOK {
		t.Fatalf("default --out: exit %d: %s", r.code, r.stderr)
	}
	beats, err := os.ReadFile(filepath.Join(b, "clients", "beats-output.yml"))
	if err != nil || !strings.Contains(string(beats), `output.elasticsearch.hosts: ["https://node1.example.com:9200"]`) {
		t.Errorf("clients/beats-output.yml: %v\n%s", err, beats)
	}
}

func TestClientConfigRefusesPlainHTTP(t *testing.T) {
	b := clientBundle(t)
	out := filepath.Join(t.TempDir(), "settings")
	for _, hosts := range []string{"http://node1.example.com:9200", "https://node1.example.com:9200,http://node2.example.com:9200"} {
		r := escert(t, nil, "client-config", "--bundle", b, "--es-hosts", hosts, "--out", out)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != ExitUsage || len(lines) != 1 || !strings.Contains(lines[0], "http:// is refused") || !strings.Contains(lines[0], "clear text") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line saying why http is refused", hosts, r.code, r.stderr, ExitUsage)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the output directory was created")
	}
}

func TestClientConfigRefusesExistingFilesUnlessForcedAndKeepsKibanaKeys(t *testing.T) {
	b := clientBundle(t)
	out := filepath.Join(t.TempDir(), "settings")
	if r := escert(t, nil, "client-config", "--bundle", b, "--out", out); r.code != ExitOK {
		t.Fatalf("first run: exit %d: %s", r.code, r.stderr)
	}
	first, _ := os.ReadFile(filepath.Join(out, "kibana.yml"))
	r := escert(t, nil, "client-config", "--bundle", b, "--out", out, "--es-hosts", "https://node1.example.com:9200")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != ExitExists || len(lines) != 1 || !strings.Contains(lines[0], "--force") {
		t.Fatalf("second run: exit %d, stderr %q; want exit %d naming --force", r.code, r.stderr, ExitExists)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "kibana.yml")); string(again) != string(first) {
		t.Fatal("a refused run changed kibana.yml")
	}
	r = escert(t, nil, "client-config", "--bundle", b, "--out", out, "--es-hosts", "https://node1.example.com:9200", "--force")
	if r.code != ExitOK {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	forced, _ := os.ReadFile(filepath.Join(out, "kibana.yml"))
	before, _ := clientconfig.KibanaKeys(first)
	after, _ := clientconfig.KibanaKeys(forced)
	for _, k := range clientconfig.KibanaKeySettings {
		if before[k] == "" || before[k] != after[k] {
			t.Errorf("--force changed %s", k)
		}
	}
	if string(forced) == string(first) || !strings.Contains(r.stderr, "[kibana] kept") {
		t.Errorf("--force did not rewrite the hosts or did not say it kept the keys: %s", r.stderr)
	}
}

func TestClientConfigNeedsABundle(t *testing.T) {
	dir := t.TempDir()
	r := escert(t, nil, "client-config", "--bundle", filepath.Join(dir, "missing"))
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != ExitInput || len(lines) != 1 || !strings.Contains(lines[0], "no manifest.json") {
		t.Errorf("missing bundle: exit %d, stderr %q", r.code, r.stderr)
	}
	// A manifest with a CA that is not the bundle's.
	b := clientBundle(t)
	os.WriteFile(filepath.Join(b, "clients", "http-ca.crt"), mustRead(t, filepath.Join(b, "ca", "transport-ca.crt")), 0o644)
	r = escert(t, nil, "client-config", "--bundle", b, "--out", filepath.Join(dir, "out"))
	if r.code != ExitInput || !strings.Contains(r.stderr, "http_ca_sha256") {
		t.Errorf("mismatched CA: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := escert(t, nil, "client-config"); r.code != ExitUsage || !strings.Contains(r.stderr, "missing --bundle") {
		t.Errorf("no --bundle: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestClientConfigWritesUnderTheLockOfTheOutputDirectory: client-config takes the
// lock every escert writer takes, so a run that holds the output directory keeps it
// out, and nothing is written.
func TestClientConfigWritesUnderTheLockOfTheOutputDirectory(t *testing.T) {
	b := clientBundle(t)
	out := filepath.Join(t.TempDir(), "settings")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	unlock, err := atomicfs.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	r := escert(t, nil, "client-config", "--bundle", b, "--out", out)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code == ExitOK || !strings.Contains(lines[len(lines)-1], "another escert run") {
		t.Fatalf("exit %d, stderr %q; want a refusal naming the other run", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 || entries[0].Name() != atomicfs.LockFile {
		t.Errorf("the output directory holds %v, want only the lock", entries)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
