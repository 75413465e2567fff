package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/escert/escert/internal/ossecurity"
	"github.com/escert/escert/internal/realtest"
)

// The Elasticsearch versions escert is tested against: the newest 8.x and the newest
// 9.x that Central serves and that run here (both on Temurin 25), and 8.17, the last
// version before keystore format 7, for the format table only (on JDK 17).
const (
	es8   = "8.19.21"
	es9   = "9.5.4"
	es817 = "8.17.4"
)

// escertBin is the binary under test, built once by TestMain like `make build`, in
// binDir, where the FIPS binaries go too.
var escertBin, binDir string

// buildEscert builds cmd/escert into path with extra environment and build flags.
func buildEscert(path string, env string, flags ...string) error {
	args := append([]string{"build", "-trimpath", "-o", path}, flags...)
	build := exec.Command("go", append(args, "github.com/escert/escert/cmd/escert")...)
	build.Env = append(os.Environ(), strings.Fields(env)...)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s (%s): %v\n%s", filepath.Base(path), env, err, out)
	}
	return nil
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "escert-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The nodes' account runs the binary too (an archive install's owner does).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	escertBin = filepath.Join(dir, "escert")
	if err := buildEscert(escertBin, "CGO_ENABLED=0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the escert binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the escert binary with args, stdin and extra environment, without a
// controlling terminal (as from cron), and returns what it did.
func run(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	return runAs(t, nil, stdin, env, args...)
}

// runAs is run as another account (nil: the test's own).
func runAs(t *testing.T, account *syscall.Credential, stdin string, env []string, args ...string) result {
	t.Helper()
	return runBin(t, escertBin, account, stdin, env, args...)
}

// runBin is runAs with another escert binary (a FIPS build).
func runBin(t *testing.T, bin string, account *syscall.Credential, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: account}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("escert %s timed out", strings.Join(args, " "))
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run escert: %v", err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// escert runs the binary and fails the test unless it exits 0.
func escert(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, "", nil, args...)
	if r.code != 0 {
		t.Fatalf("escert %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// ownerFlag is install's --owner: the elasticsearch user when root (as on a real
// node), else the files keep the test user, who then runs the nodes.
func ownerFlag() string {
	if os.Geteuid() == 0 {
		return realtest.ESUser
	}
	return "-"
}

// instances writes an instances file of n nodes (node1..nodeN), each reachable on
// 127.0.0.1 and localhost and named under escert.test (the domain the Vault roles
// and step-ca allow), and returns its path.
func instances(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("instances:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: node%d\n    dns: [node%d.escert.test]\n    ip: [127.0.0.1]\n", i, i)
	}
	path := filepath.Join(dir, "instances.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bootstrap runs escert bootstrap for n nodes of cluster and returns the output
// directory.
func bootstrap(t *testing.T, cluster string, n int, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	args := append([]string{"bootstrap", "--instances", instances(t, dir, n), "--out", out, "--cluster-name", cluster, "--quiet"}, extra...)
	escert(t, args...)
	return out
}

// install runs escert install of a node's bundle into the node's config directory
// as its operator would: root on a package layout; on an archive layout the
// account that owns it, from a copy of the bundle that account owns.
func install(t *testing.T, c *realtest.Cluster, out string, n *realtest.Node, extra ...string) result {
	t.Helper()
	bundle := filepath.Join(out, "nodes", n.Name)
	if n.Layout() == realtest.PackageLayout {
		return escert(t, append([]string{"install", "--bundle", bundle, "--es-config", n.Config, "--owner", ownerFlag()}, extra...)...)
	}
	copied := filepath.Join(n.Dir, "bundle")
	if err := os.RemoveAll(copied); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(copied, os.DirFS(bundle)); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(copied, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, map[bool]fs.FileMode{true: 0o700, false: 0o600}[d.IsDir()])
	}); err != nil {
		t.Fatal(err)
	}
	c.GiveTo(copied)
	r := runAs(t, c.Account(), "", nil, append([]string{"install", "--bundle", copied, "--es-config", n.Config, "--owner", "-"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("escert install as the archive's owner: %s", r)
	}
	return r
}

// bootstrapPassword is the elastic user's initial password from the bundle.
func bootstrapPassword(t *testing.T, out string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "elastic-bootstrap-password"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// elasticClient trusts only the bundle's published HTTP CA and logs in as elastic,
// with its password from the bundle's built-in-passwords once escert passwords has
// set one, else the bootstrap password; for an OpenSearch bundle, as admin.
func elasticClient(t *testing.T, out string) *realtest.Client {
	t.Helper()
	if pw := builtInPasswords(t, out)[ossecurity.Admin]; pw != "" {
		return realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), ossecurity.Admin, pw)
	}
	password := bootstrapPassword(t, out)
	if pw := builtInPasswords(t, out)["elastic"]; pw != "" {
		password = pw
	}
	return realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), "elastic", password)
}

// builtInPasswords reads the bundle's built-in-passwords without escert's parser: the
// user=password lines a script would read. Empty when there is no such file.
func builtInPasswords(t *testing.T, out string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "built-in-passwords"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if user, password, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			entries[user] = password
		}
	}
	return entries
}

// keystoreVersion is the format version in a keystore file's header (an int32 after
// the codec magic and name), read without escert's own decoder.
func keystoreVersion(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const offset = 4 + 1 + len("elasticsearch.keystore")
	if len(data) < offset+4 {
		t.Fatalf("%s: %d bytes, too short for a keystore header", path, len(data))
	}
	return int(binary.BigEndian.Uint32(data[offset:]))
}
