package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/realtest"
)

// TestKeystoreFormatsMatchElasticsearchKeystore holds escert's keystore reader and
// writer against Elasticsearch's own elasticsearch-keystore, version by version:
// the tool's new keystore has the format --es-version maps the version to, escert
// reads what the tool writes, and the tool reads what escert writes, with and
// without a password.
func TestKeystoreFormatsMatchElasticsearchKeystore(t *testing.T) {
	tests := []struct {
		version   string
		format    int
		passwords []string
	}{
		{es817, 6, []string{""}},
		{es8, 7, []string{""}},
		{es9, 7, []string{"", "a keystore password, 14+"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			dist := realtest.RequireElasticsearch(t, tt.version)
			if got, err := eskeystore.VersionFor(tt.version); err != nil || got != tt.format {
				t.Errorf("VersionFor(%s) = %d, %v; want %d", tt.version, got, err, tt.format)
			}
			for _, password := range tt.passwords {
				name := map[bool]string{true: "no password", false: "password"}[password == ""]
				t.Run(name, func(t *testing.T) { keystoreRoundTrips(t, dist, tt.format, password) })
			}
		})
	}
}

func keystoreRoundTrips(t *testing.T, dist *realtest.Distribution, format int, password string) {
	passFile := filepath.Join(t.TempDir(), "keystore-password")
	if err := os.WriteFile(passFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	var passArgs []string
	toolPrefix := "" // what the tool reads from stdin before anything else
	if password != "" {
		passArgs = []string{"--keystore-pass-file", passFile}
		toolPrefix = password + "\n"
	}

	// The tool writes, escert reads.
	toolDir := configCopy(t, dist)
	createArgs := []string{"create"}
	createInput := ""
	if password != "" {
		createArgs = append(createArgs, "-p")
		createInput = password + "\n" + password + "\n"
	}
	if msg, code := dist.Keystore(t, toolDir, createInput, createArgs...); code != 0 {
		t.Fatalf("elasticsearch-keystore create: exit %d: %s", code, msg)
	}
	toolKS := filepath.Join(toolDir, "elasticsearch.keystore")
	if v := keystoreVersion(t, toolKS); v != format {
		t.Errorf("elasticsearch-keystore %s writes format %d, want %d", dist.Version, v, format)
	}
	if password != "" {
		if msg, code := dist.Keystore(t, toolDir, toolPrefix+"from the tool\n", "add", "-x", "tool.setting"); code != 0 {
			t.Fatalf("elasticsearch-keystore add: exit %d: %s", code, msg)
		}
		if r := escert(t, append([]string{"keystore", "show", "--path", toolKS, "tool.setting"}, passArgs...)...); strings.TrimRight(r.stdout, "\n") != "from the tool" {
			t.Errorf("escert keystore show of the tool's setting = %q", r.stdout)
		}
	}
	if r := escert(t, append([]string{"keystore", "list", "--path", toolKS}, passArgs...)...); !strings.Contains(r.stdout, "keystore.seed") {
		t.Errorf("escert keystore list of the tool's keystore: %s", r)
	}

	// escert writes, the tool reads.
	escertDir := configCopy(t, dist)
	escertKS := filepath.Join(escertDir, "elasticsearch.keystore")
	create := []string{"keystore", "create", "--es-version", dist.Version, "--path", escertKS}
	if password != "" {
		create = append(create, "-p")
	}
	escert(t, append(create, passArgs...)...)
	if r := run(t, "from escert\n", nil, append([]string{"keystore", "add", "-x", "--path", escertKS, "escert.setting"}, passArgs...)...); r.code != 0 {
		t.Fatalf("escert keystore add: %s", r)
	}
	if v := keystoreVersion(t, escertKS); v != format {
		t.Errorf("escert keystore create --es-version %s wrote format %d, want %d", dist.Version, v, format)
	}
	msg, code := dist.Keystore(t, escertDir, toolPrefix, "show", "escert.setting")
	if code != 0 || !strings.HasSuffix(strings.TrimRight(msg, "\n"), "from escert") {
		t.Errorf("elasticsearch-keystore show of escert's setting: exit %d: %q", code, msg)
	}
}

// configCopy is a fresh copy of the distribution's config directory, where its tools
// find the keystore.
func configCopy(t *testing.T, dist *realtest.Distribution) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(dist.Home, "config"))); err != nil {
		t.Fatal(err)
	}
	return dir
}
