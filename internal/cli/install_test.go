package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/treestate"
)

func installFixture(t *testing.T, yml string) (bundleDir, config string) {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", filepath.Join(dir, "out"), "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config = filepath.Join(dir, "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", yml)
	return filepath.Join(dir, "out", "nodes", "node1"), config
}

func TestInstallDryRunPrintsADiffAndWritesNothing(t *testing.T) {
	b, config := installFixture(t, "path.data: /var/lib/elasticsearch\n")
	before := treestate.Of(t, config, atomicfs.LockFile)
	r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-", "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "+xpack.security.enabled: true") || !strings.Contains(r.stderr, "nothing was written") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if after := treestate.Of(t, config, atomicfs.LockFile); len(after) != len(before) {
		t.Errorf("dry run wrote files: %d before, %d after", len(before), len(after))
	}
}

func TestInstallTwiceSaysNothingToDo(t *testing.T) {
	b, config := installFixture(t, "path.data: /var/lib/elasticsearch\n")
	if r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-"); r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-")
	if r.code != ExitOK || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestInstallExitCodes(t *testing.T) {
	cases := []struct {
		name  string
		yml   string
		args  []string
		setup func(t *testing.T, config string) func()
		code  int
		want  string
	}{
		{"conflicting setting", "xpack.security.http.ssl.enabled: false\n", nil, nil, ExitInput, "xpack.security.http.ssl.enabled (line 1) outside escert's block"},
		{"unknown owner", "", []string{"--owner", "no-such-user-here"}, nil, ExitInput, "--owner no-such-user-here: no such user"},
		{"unknown Elasticsearch version", "", []string{"--es-version", "5.6"}, nil, ExitUsage, "--es-version: unsupported Elasticsearch version \"5.6\""},
		{"keystore newer than the given version reads", "", []string{"--es-version", "8.17"}, func(t *testing.T, config string) func() {
			if r := escert(t, nil, "keystore", "create", "--es-version", "9.0", "--path", filepath.Join(config, "elasticsearch.keystore")); r.code != 0 {
				t.Fatal(r.stderr)
			}
			return func() {}
		}, ExitInput, "keystore format 7 is newer than the given Elasticsearch version reads (format 6): is --es-version right?"},
		{"locked", "", nil, func(t *testing.T, config string) func() {
			unlock, err := atomicfs.Lock(config)
			if err != nil {
				t.Fatal(err)
			}
			return unlock
		}, ExitLocked, "another escert run"},
		{"wrong keystore password", "", []string{"--keystore-pass-file", "PASS"}, func(t *testing.T, config string) func() {
			r := escert(t, map[string]string{"ESCERT_KEYSTORE_PASSWORD": "the right password!"}, "keystore", "create", "--path", filepath.Join(config, "elasticsearch.keystore"), "-p")
			if r.code != 0 {
				t.Fatalf("keystore create -p: exit %d: %s", r.code, r.stderr)
			}
			return func() {}
		}, ExitInput, "wrong keystore password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, config := installFixture(t, tc.yml)
			if tc.setup != nil {
				defer tc.setup(t, config)()
			}
			before := treestate.Of(t, config, atomicfs.LockFile)
			args := []string{"install", "--bundle", b, "--es-config", config}
			if !strings.Contains(strings.Join(tc.args, " "), "--owner") {
				args = append(args, "--owner", "-")
			}
			for _, a := range tc.args {
				if a == "PASS" {
					a = writeFile(t, t.TempDir(), "pass", "not the password")
				}
				args = append(args, a)
			}
			r := escert(t, nil, args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want %d and one line with %q", r.code, r.stderr, tc.code, tc.want)
			}
			after := treestate.Of(t, config, atomicfs.LockFile)
			for p, v := range before {
				if after[p] != v {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}

// TestInstallRefusesABundleFileItCannotUse: a bundle file the node could not start
// with, or an endless device where a file should be, ends in one line naming the
// file, exit 3, and the config directory as it was.
func TestInstallRefusesABundleFileItCannotUse(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, bundle, config string) string // returns the file the error names
		want  string
	}{
		{"another node's transport.p12", func(t *testing.T, b, _ string) string {
			data, err := os.ReadFile(filepath.Join(b, "..", "node2", "certs", "transport.p12"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(b, "certs"), "transport.p12", string(data))
			return filepath.Join(b, "certs", "transport.p12")
		}, "does not open with the password the bundle's elasticsearch.keystore holds"},
		{"endless device as the node's keystore", func(t *testing.T, _, config string) string {
			return endless(t, filepath.Join(config, "elasticsearch.keystore"))
		}, "larger than an elasticsearch.keystore can be"},
		{"endless device as the bundle's settings block", func(t *testing.T, b, _ string) string {
			return endless(t, filepath.Join(b, "elasticsearch.yml"))
		}, "larger than a settings file can be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, config := installFixture(t, "path.data: /var/lib/elasticsearch\n")
			before := treestate.Of(t, config, atomicfs.LockFile)
			file := tc.setup(t, b, config)
			r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-")
			if r.code != ExitInput || !strings.HasPrefix(r.stderr, "escert: "+file+": ") || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want %d and one line naming %s with %q", r.code, r.stderr, ExitInput, file, tc.want)
			}
			// snapshot reads every file, and /dev/zero has no end.
			if info, err := os.Lstat(file); err == nil && info.Mode()&os.ModeSymlink != 0 {
				os.Remove(file)
			}
			after := treestate.Of(t, config, atomicfs.LockFile)
			if len(after) != len(before) {
				t.Errorf("%d files before, %d after", len(before), len(after))
			}
			for p, v := range before {
				if after[p] != v {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}

// endless puts /dev/zero at path, as a wrong path or a hostile link would.
func endless(t *testing.T, path string) string {
	t.Helper()
	os.Remove(path)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Skip(err)
	}
	return path
}

// TestInstallForceShowsAndLeavesNoPlaintextPassword: install --force takes the
// plaintext TLS passwords it comments out away from elasticsearch.yml; neither the dry
// run's diff nor any message shows them, and the one the bundle does not replace ends
// in the keystore.
func TestInstallForceShowsAndLeavesNoPlaintextPassword(t *testing.T) {
	b, config := installFixture(t, "xpack.security.http.ssl.keystore.password: replaced-store-secret\nxpack.security.http.ssl.truststore.password: moved-trust-secret\n")
	for _, args := range [][]string{{"--dry-run"}, nil} {
		r := escert(t, nil, append([]string{"install", "--bundle", b, "--es-config", config, "--owner", "-", "--force"}, args...)...)
		if r.code != ExitOK {
			t.Fatalf("install --force %v: exit %d: %s", args, r.code, r.stderr)
		}
		for _, secret := range []string{"replaced-store-secret", "moved-trust-secret"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("install --force %v printed a password:\n%s\n%s", args, r.stdout, r.stderr)
			}
		}
	}
	yml, _ := os.ReadFile(filepath.Join(config, "elasticsearch.yml"))
	if strings.Contains(string(yml), "secret") {
		t.Errorf("elasticsearch.yml still holds a password:\n%s", yml)
	}
	r := escert(t, nil, "keystore", "show", "--path", filepath.Join(config, "elasticsearch.keystore"), "xpack.security.http.ssl.truststore.secure_password")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "moved-trust-secret" {
		t.Errorf("keystore show: exit %d, %q %q; want the moved password", r.code, r.stdout, r.stderr)
	}
}

func TestInstallAndClientConfigPrintWhatTheyWroteAsJSON(t *testing.T) {
	b, config := installFixture(t, "path.data: /var/lib/elasticsearch\n")
	r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-", "-o", "json")
	var installed installResult
	if err := json.Unmarshal([]byte(r.stdout), &installed); r.code != ExitOK || err != nil {
		t.Fatalf("install -o json: exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if installed.ConfigDir != config || len(installed.Changes) == 0 || !slices.ContainsFunc(installed.Changes, func(c installChange) bool {
		return c.Path == filepath.Join(config, "elasticsearch.keystore")
	}) {
		t.Errorf("install -o json = %+v, want the keystore among the changes", installed)
	}

	out := filepath.Join(t.TempDir(), "clients")
	r = escert(t, nil, "client-config", "--bundle", filepath.Dir(filepath.Dir(b)), "--out", out, "-o", "json")
	var written clientConfigResult
	if err := json.Unmarshal([]byte(r.stdout), &written); r.code != ExitOK || err != nil {
		t.Fatalf("client-config -o json: exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(written.Hosts) == 0 || len(written.Written) == 0 || len(written.Fingerprint) != 64 {
		t.Errorf("client-config -o json = %+v, want hosts, files and the CA's SHA-256", written)
	}
}
