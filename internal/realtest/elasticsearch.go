package realtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Elasticsearch timeouts. A node of the integ-test distribution starts in 30 to 40
// seconds on two cores when it starts alone; three starting together share the cores.
const (
	clusterStartTimeout = 4 * time.Minute
	nodeStopTimeout     = 30 * time.Second
)

// ESUser is the account Elasticsearch runs as when the tests run as root:
// Elasticsearch refuses to run as root, and the packages create this user.
const ESUser = "elasticsearch"

// Distribution is an unpacked Elasticsearch integ-test distribution (the server, the
// transport module, x-pack security and bin/elasticsearch-keystore), or an OpenSearch
// one with its security plugin (RequireOpenSearch), and the JDK it runs on.
type Distribution struct {
	// Product is what the distribution runs; "" is Elasticsearch.
	Product  Product
	Version  string // e.g. 9.5.4
	Home     string // ES_HOME (OPENSEARCH_HOME)
	JavaHome string // ES_JAVA_HOME (OPENSEARCH_JAVA_HOME)
	// FIPS is the FIPS 140 generation ("140-2", "140-3") of a distribution that
	// scripts/prepare-fips-elasticsearch set up to run on a FIPS JVM, "" otherwise.
	FIPS string
	// cliJavaOpts are the FIPS JVM's options for Elasticsearch's own CLI JVMs (the
	// launcher, elasticsearch-keystore), which jvm.options does not reach.
	cliJavaOpts string
}

// RequireElasticsearch returns the distribution of version that
// scripts/fetch-elasticsearch left in its cache ($ESCERT_CACHE, else
// /var/cache/escert-elasticsearch as root, else os.UserCacheDir()/escert-elasticsearch),
// holding the plugin of scripts/build-es-test-analysis, with the JDK that version runs on. Without one it skips the test naming the script,
// or fails it when ESCERT_REQUIRE_TOOLS=1.
func RequireElasticsearch(t testing.TB, version string) *Distribution {
	t.Helper()
	home := filepath.Join(esCacheDir(), "elasticsearch-"+version)
	if _, err := os.Stat(filepath.Join(home, ".escert-complete")); err != nil {
		Missing(t, fmt.Sprintf("realtest: no Elasticsearch %s in %s (fetch it with scripts/fetch-elasticsearch %s)", version, esCacheDir(), version))
	}
	// Without the analysis components of the .security index, no password can be set.
	if _, err := os.Stat(filepath.Join(home, "plugins", "escert-test-analysis", ".escert-test-analysis")); err != nil {
		Missing(t, fmt.Sprintf("realtest: Elasticsearch %s in %s has no escert-test-analysis plugin (build it with scripts/build-es-test-analysis %s)", version, esCacheDir(), version))
	}
	java, err := javaHomeFor(version)
	if err != nil {
		t.Fatalf("realtest: Elasticsearch %s: %v", version, err)
	}
	return &Distribution{Product: Elasticsearch, Version: version, Home: home, JavaHome: java}
}

// RequireFIPSElasticsearch is RequireElasticsearch for the distribution of version
// that scripts/prepare-fips-elasticsearch set up for FIPS 140 generation ("140-2",
// "140-3"): BouncyCastle's FIPS providers in lib/, and config/jvm.options.d/fips.options,
// which every node's config directory copies, naming the security properties and the
// BCFKS trust store. The CLI JVMs get the same options (Distribution.cliJavaOpts).
func RequireFIPSElasticsearch(t testing.TB, version, generation string) *Distribution {
	t.Helper()
	home := filepath.Join(esCacheDir(), "elasticsearch-"+version+"-fips"+generation)
	opts, err := os.ReadFile(filepath.Join(home, "fips", "cli-java-opts"))
	if _, serr := os.Stat(filepath.Join(home, ".escert-complete")); serr != nil || err != nil {
		Missing(t, fmt.Sprintf("realtest: no FIPS %s Elasticsearch %s in %s (prepare it with scripts/prepare-fips-elasticsearch %s %s)", generation, version, esCacheDir(), version, generation))
	}
	java, err := javaHomeFor(version)
	if err != nil {
		t.Fatalf("realtest: Elasticsearch %s: %v", version, err)
	}
	return &Distribution{Product: Elasticsearch, Version: version, Home: home, JavaHome: java, FIPS: generation, cliJavaOpts: strings.TrimSpace(string(opts))}
}

// esCacheDir is where scripts/fetch-elasticsearch unpacks distributions.
func esCacheDir() string {
	if dir := os.Getenv("ESCERT_CACHE"); dir != "" {
		return dir
	}
	if os.Geteuid() == 0 {
		return "/var/cache/escert-elasticsearch"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "escert-elasticsearch")
	}
	return filepath.Join(cache, "escert-elasticsearch")
}

// javaHomeFor picks the JDK a version runs on. Up to 8.17 Elasticsearch uses the Java
// SecurityManager, which JDK 24 removed: those run on JDK 17. 8.18 and 9.x replaced it
// with entitlements and need 21 or later: they run on Temurin 25. ESCERT_JAVA17_HOME
// and ESCERT_JAVA25_HOME override the machine's paths.
func javaHomeFor(version string) (string, error) {
	parts := strings.Split(version, ".")
	major, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return jdk(major < 8 || major == 8 && minor < 18)
}

// jdk is the machine's JDK 17 (java17) or Temurin 25; ESCERT_JAVA17_HOME and
// ESCERT_JAVA25_HOME override their paths.
func jdk(java17 bool) (string, error) {
	envVar, path := "ESCERT_JAVA25_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"
	if java17 {
		envVar, path = "ESCERT_JAVA17_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"
	}
	if v := os.Getenv(envVar); v != "" {
		path = v
	}
	if _, err := os.Stat(filepath.Join(path, "bin", "java")); err != nil {
		return "", fmt.Errorf("no JDK at %s (set %s)", path, envVar)
	}
	return path, nil
}

// esAccount is who the nodes and Elasticsearch's own tools run as: the elasticsearch
// user when the tests run as root, else the test process's own user (nil).
func esAccount(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(ESUser)
	if err != nil {
		t.Fatalf("realtest: Elasticsearch refuses to run as root and there is no %s user: useradd --system %s", ESUser, ESUser)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// esEnv is the environment of a node or tool working on configDir.
func (d *Distribution) esEnv(configDir, tmpDir string) []string {
	if d.IsOpenSearch() {
		return d.openSearchEnv(configDir, tmpDir)
	}
	env := []string{"ES_JAVA_HOME=" + d.JavaHome, "ES_PATH_CONF=" + configDir, "ES_JAVA_OPTS=-Xms512m -Xmx512m"}
	if d.cliJavaOpts != "" {
		env = append(env, "CLI_JAVA_OPTS="+d.cliJavaOpts)
	}
	if tmpDir != "" {
		env = append(env, "ES_TMPDIR="+tmpDir)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ES_") && !strings.HasPrefix(kv, "JAVA_") && !strings.HasPrefix(kv, "CLI_JAVA_OPTS=") {
			env = append(env, kv)
		}
	}
	return env
}

// Keystore runs the distribution's bin/elasticsearch-keystore on configDir's
// keystore, as the test's own user (on a package install an administrator runs it
// as root), with stdin as its input (passwords and values are read from there, never
// from argv). It returns the tool's output and its exit code.
func (d *Distribution) Keystore(t testing.TB, configDir, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(d.Home, "bin", d.product().command()+"-keystore"), args...)
	cmd.Env = d.esEnv(configDir, "")
	cmd.Dir = configDir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("realtest: %s-keystore %s: %v", d.product().command(), strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// Cluster is a set of Elasticsearch nodes on loopback that share one distribution.
// Each node has its own config, data, log and tmp directories under one t.TempDir,
// its config directory laid out as the packages lay out /etc/elasticsearch
// (PackageLayout) unless the test says otherwise. The test fills each config
// directory (escert install), then starts the nodes.
type Cluster struct {
	Name  string
	Dist  *Distribution
	Nodes []*Node
	// KeystorePassword is what the nodes' launcher reads from standard input to open
	// a password-protected elasticsearch.keystore, as an operator types it.
	KeystorePassword string

	t    testing.TB
	root string
	cred *syscall.Credential
}

// Node is one node of a Cluster.
type Node struct {
	Name          string
	Dir           string // the node's directory: config/, data/, logs/, tmp/
	Config        string // ES_PATH_CONF (OPENSEARCH_PATH_CONF)
	HTTPPort      int
	TransportPort int

	c      *Cluster
	layout Layout
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// NewCluster lays out n nodes named node1..nodeN of a cluster that forms from them
// (cluster.initial_master_nodes, for OpenSearch cluster.initial_cluster_manager_nodes).
// Each config directory starts as a copy of the distribution's config/ with the node's
// settings appended to elasticsearch.yml (opensearch.yml); nothing about security is
// set: that is escert's job. Nodes are stopped by t.Cleanup, and when the test failed
// the tail of every node's log is attached.
func NewCluster(t testing.TB, dist *Distribution, name string, n int) *Cluster {
	t.Helper()
	c := &Cluster{Name: name, Dist: dist, t: t, root: t.TempDir(), cred: esAccount(t)}
	// The nodes' account must reach their directories below the test's temp dir.
	for _, dir := range []string{filepath.Dir(c.root), c.root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var initial []string
	for i := 1; i <= n; i++ {
		initial = append(initial, fmt.Sprintf("node%d", i))
	}
	ports := make([][2]int, n)
	for i := range ports {
		ports[i] = [2]int{c.freePort(), c.freePort()}
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", p[1]))
	}
	for i, p := range ports {
		c.Nodes = append(c.Nodes, c.layOut(initial[i], p[0], p[1], seeds, initial))
	}
	t.Cleanup(c.cleanup)
	return c
}

// AddNode lays out one more node that joins the running cluster through the others'
// transport ports. Start it with Node.Start.
func (c *Cluster) AddNode(name string) *Node {
	c.t.Helper()
	var seeds []string
	for _, n := range c.Nodes {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", n.TransportPort))
	}
	n := c.layOut(name, c.freePort(), c.freePort(), seeds, nil)
	c.Nodes = append(c.Nodes, n)
	return n
}

func (c *Cluster) freePort() int {
	c.t.Helper()
	p, err := freePort()
	if err != nil {
		c.t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return port
}

// layOut creates a node's directories and its config directory.
func (c *Cluster) layOut(name string, httpPort, transportPort int, seeds, initial []string) *Node {
	t := c.t
	t.Helper()
	dir := filepath.Join(c.root, name)
	n := &Node{Name: name, Dir: dir, Config: filepath.Join(dir, "config"), HTTPPort: httpPort, TransportPort: transportPort, c: c}
	for _, sub := range []string{"data", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			t.Fatal(err)
		}
		c.chown(filepath.Join(dir, sub), true)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(n.Config, os.DirFS(filepath.Join(c.Dist.Home, "config"))); err != nil {
		t.Fatalf("realtest: copy the distribution's config: %v", err)
	}
	quote := func(items []string) string {
		q := make([]string, len(items))
		for i, s := range items {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	settings := fmt.Sprintf(`
# Test node settings (realtest.Cluster)
cluster.name: %s
node.name: %s
network.host: 127.0.0.1
http.port: %d
transport.port: %d
path.data: %s
path.logs: %s
discovery.seed_hosts: %s
cluster.routing.allocation.disk.threshold_enabled: false
`, c.Name, name, httpPort, transportPort, filepath.Join(dir, "data"), filepath.Join(dir, "logs"), quote(seeds))
	if c.Dist.IsOpenSearch() {
		if initial != nil {
			settings += "cluster.initial_cluster_manager_nodes: " + quote(initial) + "\n"
		}
		n.appendSettings(settings)
		n.logsToNodeDirs()
		n.SetLayout(PackageLayout)
		return n
	}
	settings += "xpack.security.autoconfiguration.enabled: false\n"
	if initial != nil {
		settings += "cluster.initial_master_nodes: " + quote(initial) + "\n"
	}
	if c.Dist.FIPS != "" {
		// As Elastic's own FIPS test clusters: FIPS mode is a subscription feature.
		settings += "xpack.license.self_generated.type: trial\n"
	}
	n.appendSettings(settings)
	n.SetLayout(PackageLayout)
	return n
}

// appendSettings appends settings to the node's elasticsearch.yml (opensearch.yml).
func (n *Node) appendSettings(settings string) {
	t := n.c.t
	t.Helper()
	f, err := os.OpenFile(n.ConfigFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(settings); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// ConfigFile is the node's elasticsearch.yml (opensearch.yml).
func (n *Node) ConfigFile() string {
	return filepath.Join(n.Config, n.c.Dist.product().command()+".yml")
}

// chown gives path to the nodes' account: the user itself (owner) or root with the
// account's group, as the packages own /etc/elasticsearch.
func (c *Cluster) chown(path string, owner bool) {
	c.t.Helper()
	if c.cred == nil {
		return
	}
	uid := 0
	if owner {
		uid = int(c.cred.Uid)
	}
	if err := os.Lchown(path, uid, int(c.cred.Gid)); err != nil {
		c.t.Fatal(err)
	}
}

// Layout is who owns a node's config directory, and how.
type Layout int

const (
	// PackageLayout is /etc/elasticsearch as the deb and rpm packages make it:
	// root:elasticsearch, the directory 2750 (the node cannot write it), the files
	// 0660.
	PackageLayout Layout = iota
	// ArchiveLayout is config/ of an archive that the elasticsearch user unpacked:
	// that user owns all of it and may write it.
	ArchiveLayout
)

// SetLayout gives the config directory a layout. escert's own subdirectories (certs/,
// the backups) keep their modes.
func (n *Node) SetLayout(l Layout) {
	t := n.c.t
	t.Helper()
	n.layout = l
	err := filepath.WalkDir(n.Config, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n.c.chown(path, l == ArchiveLayout)
		if l == ArchiveLayout {
			return nil
		}
		if path == n.Config {
			return os.Chmod(path, fs.ModeSetgid|0o750)
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".escert") &&
			(filepath.Dir(path) == n.Config || filepath.Dir(path) == filepath.Join(n.Config, "jvm.options.d")) {
			return os.Chmod(path, 0o660)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("realtest: lay out %s: %v", n.Config, err)
	}
}

// Layout is the node's config directory layout.
func (n *Node) Layout() Layout { return n.layout }

// Account is who the nodes run as: the elasticsearch user when the tests run as
// root, else nil (the test's own user).
func (c *Cluster) Account() *syscall.Credential { return c.cred }

// GiveTo makes the nodes' account own path and everything below it, as files that
// account made would be.
func (c *Cluster) GiveTo(path string) {
	c.t.Helper()
	if c.cred == nil {
		return
	}
	err := filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid))
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// Keystore runs the distribution's elasticsearch-keystore on the node's keystore, as
// Distribution.Keystore, then gives the files the package layout again (the tool
// writes its files as its user, 0660).
func (n *Node) Keystore(stdin string, args ...string) (string, int) {
	n.c.t.Helper()
	out, code := n.c.Dist.Keystore(n.c.t, n.Config, stdin, args...)
	n.SetLayout(n.layout)
	return out, code
}

// HTTPAddr and TransportAddr are the node's loopback addresses.
func (n *Node) HTTPAddr() string      { return fmt.Sprintf("127.0.0.1:%d", n.HTTPPort) }
func (n *Node) TransportAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.TransportPort) }

// Start starts the node (bin/elasticsearch or bin/opensearch in the foreground, as
// the nodes' account, in its own process group) and returns at once; wait for it with
// Cluster.WaitGreen or Node.WaitExit.
func (n *Node) Start() {
	t := n.c.t
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			t.Fatalf("realtest: %s is already running", n.Name)
		}
	}
	console, err := os.OpenFile(filepath.Join(n.Dir, "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(n.c.Dist.Home, "bin", n.c.Dist.product().command()))
	cmd.Env = n.c.Dist.esEnv(n.Config, filepath.Join(n.Dir, "tmp"))
	if n.c.KeystorePassword != "" {
		cmd.Stdin = strings.NewReader(n.c.KeystorePassword + "\n")
	}
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: n.c.cred}
	if err := cmd.Start(); err != nil {
		console.Close()
		t.Fatalf("realtest: start %s: %v", n.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		console.Close()
		close(exited)
	}()
	n.cmd, n.exited = cmd, exited
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	started, ended := n.state()
	return started && !ended
}

// Exited reports whether the node was started and its process has ended.
func (n *Node) Exited() bool {
	started, ended := n.state()
	return started && ended
}

func (n *Node) state() (started, ended bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false, false
	}
	select {
	case <-n.exited:
		return true, true
	default:
		return true, false
	}
}

// WaitExit waits up to timeout for the node's process to end and returns its exit
// code, or -1 when it is still running.
func (n *Node) WaitExit(timeout time.Duration) int {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return -1
	}
	// An ended process first: with timeout 0 a select over both would pick at random.
	select {
	case <-exited:
		return cmd.ProcessState.ExitCode()
	default:
	}
	select {
	case <-exited:
		return cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// Stop ends the node: SIGTERM to its process group, SIGKILL after nodeStopTimeout.
func (n *Node) Stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(nodeStopTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// Log is everything the node printed: its console output, which carries the server
// log and the launcher's errors (a refused keystore, a bad setting).
func (n *Node) Log() string {
	data, _ := os.ReadFile(filepath.Join(n.Dir, "console.log"))
	return string(data)
}

// LogLines is how many lines the node has logged so far: a mark for WaitLogAfter.
func (n *Node) LogLines() int { return strings.Count(n.Log(), "\n") }

// WaitLog waits up to timeout for a line of the node's log that contains every one
// of parts, and returns it ("" when none came).
func (n *Node) WaitLog(timeout time.Duration, parts ...string) string {
	return n.WaitLogAfter(0, timeout, parts...)
}

// WaitLogAfter is WaitLog for the lines after the first mark ones.
func (n *Node) WaitLogAfter(mark int, timeout time.Duration, parts ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		lines := strings.Split(n.Log(), "\n")
		for _, line := range lines[min(mark, len(lines)):] {
			if containsAll(line, parts) {
				return line
			}
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func (c *Cluster) cleanup() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Stop() }()
	}
	wg.Wait()
	if c.t.Failed() {
		for _, n := range c.Nodes {
			lines := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			c.t.Logf("realtest: last lines of %s's log (%s):\n%s", n.Name, filepath.Join(n.Dir, "console.log"), strings.Join(lines, "\n"))
		}
	}
}

// Client is an HTTPS client of the cluster that trusts only CAFile and
// authenticates as User with Password (or, from NewCertClient, with a client
// certificate and no password).
type Client struct {
	User, Password string
	http           *http.Client
}

// NewClient returns a client trusting only the PEM certificates in caFile.
func NewClient(t testing.TB, caFile, user, password string) *Client {
	t.Helper()
	cl, err := ClientFor(caFile, user, password)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	return cl
}

// ClientFor is NewClient for code that cannot fail a test (a goroutine).
func ClientFor(caFile, user, password string) (*Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &Client{User: user, Password: password, http: &http.Client{
		Timeout: 30 * time.Second,
		// A new connection for every request, so every request is a fresh handshake
		// against what the node serves now.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true},
	}}, nil
}

// Get sends GET https://<node>/<path> and decodes the JSON answer into out (when not
// nil). A status other than 200 is an error carrying the body.
func (cl *Client) Get(n *Node, path string, out any) error {
	return cl.Do(n, http.MethodGet, path, "", out)
}

// Do sends method https://<node>/<path> with a JSON body (none when empty) and decodes
// the JSON answer into out (when not nil). A status other than 200 is an error
// carrying the body.
func (cl *Client) Do(n *Node, method, path, body string, out any) error {
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+n.HTTPAddr()+"/"+strings.TrimPrefix(path, "/"), reader)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.User != "" || cl.Password != "" {
		req.SetBasicAuth(cl.User, cl.Password)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s on %s: %s: %s", method, path, n.Name, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s on %s: %w", method, path, n.Name, err)
		}
	}
	return nil
}

// Health is the part of _cluster/health the tests look at.
type Health struct {
	Status   string `json:"status"`
	Nodes    int    `json:"number_of_nodes"`
	TimedOut bool   `json:"timed_out"`
}

// Start starts every node that is not running, all at once, and waits until the
// cluster is green with all its nodes.
func (c *Cluster) Start(cl *Client) {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			n.Start()
		}
	}
	c.WaitGreen(cl, len(c.Nodes))
}

// WaitGreen waits until every node of the cluster answers that it is green with
// exactly want nodes (a node joins before its HTTP port is open). It fails the test
// when a node's process exits or clusterStartTimeout passes.
func (c *Cluster) WaitGreen(cl *Client, want int) Health {
	c.t.Helper()
	deadline := time.Now().Add(clusterStartTimeout)
	var h Health
	for _, n := range c.Nodes {
		for {
			if n.Exited() {
				c.t.Fatalf("realtest: %s exited with code %d while the cluster was starting", n.Name, n.WaitExit(0))
			}
			h = Health{}
			// languid: also every queued cluster task, such as 9.x creating the .security
			// index for its built-in roles right after the election. A node asked while
			// that index initializes answers 503 to a wrong password, not 401.
			err := cl.Get(n, fmt.Sprintf("_cluster/health?wait_for_status=green&wait_for_nodes=%d&wait_for_no_initializing_shards=true&wait_for_events=languid&timeout=5s", want), &h)
			if err == nil && h.Status == "green" && h.Nodes == want && !h.TimedOut {
				break
			}
			if err == nil {
				err = fmt.Errorf("status %s with %d node(s)", h.Status, h.Nodes)
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("realtest: cluster %s not green with %d nodes on %s after %v: %v", c.Name, want, n.Name, clusterStartTimeout, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return h
}

// Remove stops node n and drops it from the cluster, so WaitGreen counts without it.
func (c *Cluster) Remove(n *Node) {
	n.Stop()
	for i, m := range c.Nodes {
		if m == n {
			c.Nodes = append(c.Nodes[:i], c.Nodes[i+1:]...)
			return
		}
	}
}
