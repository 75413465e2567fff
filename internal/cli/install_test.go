package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/install"
)

// snapshot maps every file below dir to its content, to prove a run wrote nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			out[p] = info.Mode().String() + string(data)
		}
		return nil
	})
	return out
}

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
	before := snapshot(t, config)
	r := escert(t, nil, "install", "--bundle", b, "--es-config", config, "--owner", "-", "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "+xpack.security.enabled: true") || !strings.Contains(r.stderr, "nothing was written") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if after := snapshot(t, config); len(after) != len(before) {
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
			unlock, err := install.Lock(config)
			if err != nil {
				t.Fatal(err)
			}
			return unlock
		}, ExitLocked, "another escert run"},
		{"wrong keystore password", "", []string{"--keystore-pass-file", "PASS"}, func(t *testing.T, config string) func() {
			r := escert(t, map[string]string{"ESCERT_KEYSTORE_PASSWORD": "the right password!"}, "keystore", "create", "--path", filepath.Join(config, "elasticsearch.keystore"), "-p")
			if r.code != 0 {
				t.Skipf("keystore create not available yet: %s", r.stderr)
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
			before := snapshot(t, config)
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
			after := snapshot(t, config)
			for p, v := range before {
				if after[p] != v {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}
