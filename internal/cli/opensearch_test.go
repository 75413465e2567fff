package cli

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/treestate"
)

func TestOpenSearchFlagsRefuseWhatTheTargetCannotUse(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown target", []string{"--target", "solr"}, "--target"},
		{"PKCS#12 for OpenSearch", []string{"--target", "opensearch", "--format", "p12"}, "PEM"},
		{"a keystore version for OpenSearch", []string{"--target", "opensearch", "--es-version", "9.5"}, "--es-version"},
		{"an OpenSearch version for Elasticsearch", []string{"--os-version", "2.19"}, "--target opensearch"},
		{"an OpenSearch without PKCS#8-only keys", []string{"--target", "opensearch", "--os-version", "2.5"}, "2.9"},
		// internal_users.yml needs bcrypt, which FIPS 140 does not approve.
		{"FIPS mode", []string{"--target", "opensearch", "--fips"}, "FIPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			r := escert(t, nil, append([]string{"bootstrap", "--instances", in, "--out", out, "-q"}, tc.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line naming %s", r.code, r.stderr, ExitUsage, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

// openSearchConfig is a config directory as OpenSearch's packages ship it, as far as
// escert reads it: opensearch.yml and the security plugin's directory.
func openSearchConfig(t *testing.T, dir string) string {
	t.Helper()
	config := filepath.Join(dir, "os-config")
	if err := os.MkdirAll(filepath.Join(config, "opensearch-security"), 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, config, "opensearch.yml", "cluster.name: search\n")
	writeFile(t, filepath.Join(config, "opensearch-security"), "internal_users.yml", "_meta:\n  type: \"internalusers\"\n  config_version: 2\nadmin:\n  hash: \"$2a$12$VcCDgh2NDk07JGN0rjGbM.Ad41qVR/YFJcgHp0UGns5JDymv..TOG\"\n")
	return config
}

func TestInstallRefusesABundleForTheOtherEngineAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	for _, target := range []string{"elasticsearch", "opensearch"} {
		if r := escert(t, nil, "bootstrap", "--target", target, "--instances", in, "--out", filepath.Join(dir, target), "-q"); r.code != ExitOK {
			t.Fatal(r.stderr)
		}
	}
	esConfig := filepath.Join(dir, "es-config")
	os.Mkdir(esConfig, 0o750)
	writeFile(t, esConfig, "elasticsearch.yml", "cluster.name: search\n")
	osConfig := openSearchConfig(t, dir)
	for _, tc := range []struct{ bundle, config, want string }{
		{filepath.Join(dir, "opensearch", "nodes", "node1"), esConfig, "bootstrap with --target elasticsearch"},
		{filepath.Join(dir, "elasticsearch", "nodes", "node1"), osConfig, "bootstrap with --target opensearch"},
	} {
		before := treestate.Of(t, tc.config, atomicfs.LockFile)
		r := escert(t, nil, "install", "--bundle", tc.bundle, "--es-config", tc.config, "--owner", "-")
		if r.code != ExitInput || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("install %s into %s: exit %d, stderr %q; want %d and one line saying %q", tc.bundle, tc.config, r.code, r.stderr, ExitInput, tc.want)
		}
		if !maps.Equal(treestate.Of(t, tc.config, atomicfs.LockFile), before) {
			t.Errorf("the refused install changed %s", tc.config)
		}
	}
	// escert passwords sets Elasticsearch's built-in users, which OpenSearch has not.
	r := escert(t, nil, "passwords", "--bundle", filepath.Join(dir, "opensearch"), "--url", "https://127.0.0.1:1")
	if r.code != ExitInput || !strings.Contains(r.stderr, "an OpenSearch bundle") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("passwords on an OpenSearch bundle: exit %d, stderr %q", r.code, r.stderr)
	}
	r = escert(t, nil, "check", "--es-config", osConfig, "--target", "elasticsearch")
	if r.code != ExitInput || !strings.Contains(r.stderr, "OpenSearch's") {
		t.Errorf("check --target elasticsearch of an OpenSearch directory: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestInstallOfAnOpenSearchBundleReplacesTheDemoUsersAndChecksClean(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", threeNodes)
	if r := escert(t, nil, "bootstrap", "--target", "opensearch", "--instances", in, "--out", filepath.Join(dir, "out"), "-q"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	config := openSearchConfig(t, dir)
	if r := escert(t, nil, "check", "--es-config", config); r.code != 2 || !strings.Contains(r.stdout, "demo-passwords") {
		t.Errorf("check before install: exit %d, want 2 with demo-passwords:\n%s", r.code, r.stdout)
	}
	r := escert(t, nil, "install", "--bundle", filepath.Join(dir, "out", "nodes", "node1"), "--es-config", config, "--owner", "-")
	if r.code != ExitOK || !strings.Contains(r.stdout, "internal_users.yml: replaced the plugin's demo users") {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := escert(t, nil, "check", "--es-config", config); r.code != ExitOK {
		t.Errorf("check after install: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := escert(t, nil, "install", "--bundle", filepath.Join(dir, "out", "nodes", "node1"), "--es-config", config, "--owner", "-"); !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("a second install changed something:\n%s", r.stdout)
	}
}

// renew says how the node takes up the new files, from the node's own settings: 2.19's
// watcher, the reloadcerts API of earlier versions (the curl line per renewed layer),
// or a restart when neither is on.
func TestRenewOfAnOpenSearchNodeSaysHowItsVersionReloads(t *testing.T) {
	cases := []struct {
		name, version string
		edit          func(yml string) string
		want          []string
	}{
		{"2.19 watches its files", "2.19", nil, []string{"OpenSearch reloads the new files within 5 s"}},
		{"2.18 reloads through the API", "2.18", nil, []string{
			"when the admin certificate asks (plugins.security.ssl_cert_reload_enabled)",
			"  curl --fail --cacert BUNDLE/clients/http-ca.crt --cert BUNDLE/admin/admin.crt --key BUNDLE/admin/admin.key -X PUT https://NODE_HOST:9200/_plugins/_security/api/ssl/transport/reloadcerts\n",
			"  curl --fail --cacert BUNDLE/clients/http-ca.crt --cert BUNDLE/admin/admin.crt --key BUNDLE/admin/admin.key -X PUT https://NODE_HOST:9200/_plugins/_security/api/ssl/http/reloadcerts\n",
		}},
		{"2.18 with reload off needs a restart", "2.18", func(yml string) string {
			return strings.Replace(yml, "plugins.security.ssl_cert_reload_enabled: true", "plugins.security.ssl_cert_reload_enabled: false", 1)
		}, []string{"restart the node to load them: neither plugins.security.ssl.certificates_hot_reload.enabled (2.19+) nor plugins.security.ssl_cert_reload_enabled is true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := writeFile(t, dir, "instances.yml", threeNodes)
			out := filepath.Join(dir, "out")
			if r := escert(t, nil, "bootstrap", "--target", "opensearch", "--os-version", tc.version, "--instances", in, "--out", out, "-q"); r.code != ExitOK {
				t.Fatal(r.stderr)
			}
			config := openSearchConfig(t, dir)
			if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != ExitOK {
				t.Fatal(r.stderr)
			}
			if tc.edit != nil {
				yml := filepath.Join(config, "opensearch.yml")
				data, err := os.ReadFile(yml)
				if err != nil {
					t.Fatal(err)
				}
				edited := tc.edit(string(data))
				if edited == string(data) {
					t.Fatal("the edit changed nothing")
				}
				writeFile(t, config, "opensearch.yml", edited)
			}
			r := escert(t, nil, "renew", "--force", "--es-config", config, "--ca-dir", filepath.Join(out, "ca"))
			if r.code != ExitOK {
				t.Fatalf("renew: exit %d: %s", r.code, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("renew's message lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}
