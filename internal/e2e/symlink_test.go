package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/realtest"
)

// TestInstallUpdatesSymlinkedConfigWhereItPoints: a node whose elasticsearch.yml and
// elasticsearch.keystore are symbolic links into another directory, as package
// layouts and configuration management lay them out, gets escert's block and secure
// settings in the files the links point to; the links stay links, a re-run has
// nothing to do, and the real node starts from them with security on.
func TestInstallUpdatesSymlinkedConfigWhereItPoints(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	out := bootstrap(t, clusterName, 1, "--es-version", dist.Version)
	c := realtest.NewCluster(t, dist, clusterName, 1)
	n := c.Nodes[0]

	// The managed directory is laid out as the packages lay out /etc/elasticsearch:
	// root:elasticsearch, not writable by the node.
	managed := filepath.Join(n.Dir, "managed")
	if err := os.Mkdir(managed, 0o750); err != nil {
		t.Fatal(err)
	}
	yml, keystore := filepath.Join(managed, "elasticsearch.yml"), filepath.Join(managed, "elasticsearch.keystore")
	if err := os.Rename(filepath.Join(n.Config, "elasticsearch.yml"), yml); err != nil {
		t.Fatal(err)
	}
	escert(t, "keystore", "create", "--path", keystore)
	seed := escert(t, "keystore", "show", "--path", keystore, "keystore.seed").stdout
	if account := c.Account(); account != nil {
		for _, p := range []string{managed, yml, keystore} {
			if err := os.Chown(p, 0, int(account.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	links := map[string]string{
		filepath.Join(n.Config, "elasticsearch.yml"):      "../managed/elasticsearch.yml",
		filepath.Join(n.Config, "elasticsearch.keystore"): keystore,
	}
	for link, to := range links {
		if err := os.Symlink(to, link); err != nil {
			t.Fatal(err)
		}
	}

	install(t, c, out, n, "--es-version", dist.Version)
	for link, to := range links {
		if got, err := os.Readlink(link); err != nil || got != to {
			t.Fatalf("%s is no longer a link to %s: %q, %v", link, to, got, err)
		}
	}
	if data, err := os.ReadFile(yml); err != nil || !strings.Contains(string(data), "BEGIN ESCERT SECURITY CONFIGURATION") {
		t.Fatalf("the linked elasticsearch.yml did not get escert's block (%v):\n%s", err, data)
	}
	if v := keystoreVersion(t, keystore); v != 7 {
		t.Errorf("the linked keystore is format %d, want %s's 7", v, dist.Version)
	}
	list := escert(t, "keystore", "list", "--path", keystore).stdout
	for _, name := range []string{"xpack.security.http.ssl.keystore.secure_password", "bootstrap.password"} {
		if !strings.Contains(list, name+"\n") {
			t.Errorf("the linked keystore lacks %s:\n%s", name, list)
		}
	}
	if got := escert(t, "keystore", "show", "--path", keystore, "keystore.seed").stdout; got != seed {
		t.Error("the linked keystore's keystore.seed changed: install replaced the keystore instead of merging into it")
	}
	if r := install(t, c, out, n, "--es-version", dist.Version); !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("a second install through the links changed something:\n%s", r)
	}

	cl := elasticClient(t, out)
	c.Start(cl)
	securityIsOn(t, c, cl)
}
