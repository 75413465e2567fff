package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The refusals a bundle alone can show, before any request: each one line, its exit
// code, no password repeated and no file written. Those that need a cluster (wrong
// bootstrap password, yellow, unreachable, set elsewhere) run against real nodes in
// internal/e2e.
func TestPasswordsRefusesBadInputBeforeAnyRequest(t *testing.T) {
	b := clientBundle(t)
	noBootstrap := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(noBootstrap, os.DirFS(b)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(noBootstrap, "elastic-bootstrap-password")); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(broken, os.DirFS(b)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, broken, "built-in-passwords", "elastic=s3cret-value\nkibana system=other\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no --bundle", []string{"passwords"}, ExitUsage, "--bundle"},
		{"a user that is not built in", []string{"passwords", "--bundle", b, "--users", "kibana"}, ExitUsage, `"kibana": not a built-in user`},
		{"an http URL", []string{"passwords", "--bundle", b, "--url", "http://node1:9200"}, ExitUsage, "give an https:// URL"},
		{"a URL with a password", []string{"passwords", "--bundle", b, "--url", "https://elastic:s3cret-value@node1:9200"}, ExitUsage, "must not carry a user or password"},
		{"no bootstrap password file", []string{"passwords", "--bundle", noBootstrap}, ExitInput, "no elastic-bootstrap-password"},
		{"a broken passwords file", []string{"passwords", "--bundle", broken}, ExitInput, "built-in-passwords: line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := escert(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want %d and one line saying %q", r.code, r.stderr, tc.code, tc.says)
			}
			if strings.Contains(r.stderr+r.stdout, "s3cret-value") {
				t.Fatalf("a password was repeated: %s", r.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(b, "built-in-passwords")); err == nil {
		t.Fatal("a refused run wrote built-in-passwords")
	}
}

func TestCheckURLNeedsTheHTTPCA(t *testing.T) {
	r := escert(t, nil, "check", "--url", "https://node1:9200")
	if r.code != 3 || !strings.Contains(r.stderr, "--bundle DIR or --ca FILE") {
		t.Fatalf("exit %d, %q; want 3 (UNKNOWN) asking for the CA", r.code, r.stderr)
	}
}
