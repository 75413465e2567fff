package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/treestate"
)

// TestInstallRefusesAnotherNodesTransportP12AsElasticsearchWould: node1's bundle with
// node2's transport.p12 in it is refused by escert install (exit 3, one line naming the
// file, the config directory untouched). The same file copied into place by hand,
// past escert, is refused by Elasticsearch too: the node does not start. With node1's
// own file put back, the same node starts green, so the file alone made the
// difference and the check catches a fault the node really has.
func TestInstallRefusesAnotherNodesTransportP12AsElasticsearchWould(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	out := bootstrap(t, clusterName, 2, "--es-version", dist.Version)
	c := realtest.NewCluster(t, dist, clusterName, 1)
	n := c.Nodes[0]
	foreign := filepath.Join(out, "nodes", "node2", "certs", "transport.p12")
	own := filepath.Join(out, "nodes", "node1", "certs", "transport.p12")

	// A copy of the bootstrap output whose node1 holds node2's transport.p12.
	bad := filepath.Join(t.TempDir(), "out")
	if err := os.CopyFS(bad, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	swapped := filepath.Join(bad, "nodes", "node1", "certs", "transport.p12")
	copyContent(t, foreign, swapped)
	before := treestate.Of(t, n.Config, atomicfs.LockFile)
	r := run(t, "", nil, "install", "--bundle", filepath.Join(bad, "nodes", "node1"), "--es-config", n.Config, "--owner", ownerFlag(), "--es-version", dist.Version)
	if r.code != 3 || !strings.HasPrefix(r.stderr, "escert: "+swapped+": ") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("install of a bundle with node2's transport.p12: want exit 3 and one line naming %s, got %s", swapped, r)
	}
	if after := treestate.Of(t, n.Config, atomicfs.LockFile); !maps.Equal(before, after) {
		t.Errorf("the refused install changed the config directory:\nbefore %v\nafter  %v", before, after)
	}

	// Past escert: node1's own bundle installed, then node2's file copied over its
	// transport.p12 (keeping the file's owner and mode, as cp does).
	install(t, c, out, n)
	copyContent(t, foreign, filepath.Join(n.Config, "certs", "transport.p12"))
	n.Start()
	code := n.WaitExit(3 * time.Minute)
	if code <= 0 {
		t.Fatalf("node1 with node2's transport.p12: exit code %d, want a refusal to start", code)
	}
	line := n.WaitLog(0, "failed to load SSL configuration [xpack.security.transport.ssl]", "transport.p12", "incorrect password")
	if line == "" {
		t.Fatalf("node1 did not say it cannot open transport.p12:\n%s", n.Log())
	}
	t.Logf("Elasticsearch (exit %d): %s", code, line)

	copyContent(t, own, filepath.Join(n.Config, "certs", "transport.p12"))
	c.Start(elasticClient(t, out))
}

// copyContent writes src's bytes over dst, which keeps dst's owner and mode when it
// exists.
func copyContent(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
