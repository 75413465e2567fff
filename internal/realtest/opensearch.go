package realtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Product is what a Distribution runs.
type Product string

const (
	Elasticsearch Product = "elasticsearch"
	OpenSearch    Product = "opensearch"
)

// command is the product's name as its bin/ scripts and config file spell it.
func (p Product) command() string {
	if p == "" {
		return string(Elasticsearch)
	}
	return string(p)
}

// product is d.Product, Elasticsearch when unset.
func (d *Distribution) product() Product { return Product(d.Product.command()) }

// IsOpenSearch reports whether the distribution is OpenSearch.
func (d *Distribution) IsOpenSearch() bool { return d.Product == OpenSearch }

// securityAdminTimeout bounds one securityadmin.sh run: a JVM, a TLS connection, and
// on a refusal its own retries.
const securityAdminTimeout = 3 * time.Minute

// RequireOpenSearch returns the OpenSearch distribution of version that
// scripts/fetch-opensearch left in the cache RequireElasticsearch uses
// ($ESCERT_CACHE, else /var/cache/escert-elasticsearch as root, else
// os.UserCacheDir()/escert-elasticsearch) as opensearch-<version>, with the security
// plugin installed (config/opensearch-security/*.yml,
// plugins/opensearch-security/tools/securityadmin.sh), and the JDK it runs on: 17
// for 2.x (the Java SecurityManager), Temurin 25 for 3.x (21+). Without one it skips
// the test naming the script, or fails it when ESCERT_REQUIRE_TOOLS=1.
//
// The nodes run as the same account as Elasticsearch's (ESUser when the tests run as
// root: OpenSearch refuses root too).
func RequireOpenSearch(t testing.TB, version string) *Distribution {
	t.Helper()
	home := filepath.Join(esCacheDir(), "opensearch-"+version)
	_, err := os.Stat(filepath.Join(home, ".escert-complete"))
	if err == nil {
		_, err = os.Stat(filepath.Join(home, "plugins", "opensearch-security", "tools", "securityadmin.sh"))
	}
	if err != nil {
		Missing(t, fmt.Sprintf("realtest: no OpenSearch %s with its security plugin in %s (fetch it with scripts/fetch-opensearch %s)", version, esCacheDir(), version))
	}
	java, err := openSearchJavaHome(version)
	if err != nil {
		t.Fatalf("realtest: OpenSearch %s: %v", version, err)
	}
	return &Distribution{Product: OpenSearch, Version: version, Home: home, JavaHome: java}
}

// openSearchJavaHome picks the JDK an OpenSearch version runs on: 2.x needs the Java
// SecurityManager, which JDK 24 removed (JDK 17); 3.x needs 21+ (Temurin 25).
func openSearchJavaHome(version string) (string, error) {
	major, _ := strconv.Atoi(strings.Split(version, ".")[0])
	return jdk(major < 3)
}

// openSearchEnv is esEnv for OpenSearch: bin/opensearch-env reads
// OPENSEARCH_JAVA_HOME (before JAVA_HOME), OPENSEARCH_PATH_CONF, OPENSEARCH_TMPDIR,
// and appends OPENSEARCH_JAVA_OPTS to jvm.options (so the small heap wins over its
// 1g). securityadmin.sh also reads OPENSEARCH_JAVA_HOME first.
func (d *Distribution) openSearchEnv(configDir, tmpDir string) []string {
	env := []string{"OPENSEARCH_JAVA_HOME=" + d.JavaHome, "OPENSEARCH_JAVA_OPTS=-Xms512m -Xmx512m"}
	if configDir != "" {
		env = append(env, "OPENSEARCH_PATH_CONF="+configDir)
	}
	if tmpDir != "" {
		env = append(env, "OPENSEARCH_TMPDIR="+tmpDir)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENSEARCH_") && !strings.HasPrefix(kv, "JAVA_") && !strings.HasPrefix(kv, "KEYSTORE_PASSWORD=") {
			env = append(env, kv)
		}
	}
	return env
}

// logsToNodeDirs makes an OpenSearch node's jvm.options write where the node may.
func (n *Node) logsToNodeDirs() {
	t := n.c.t
	t.Helper()
	// bin/opensearch-env runs the JVM in OPENSEARCH_HOME, where jvm.options' relative
	// paths (-XX:HeapDumpPath=data, -XX:ErrorFile=logs/hs_err_pid%p.log, the GC log
	// logs/gc.log) are not the node account's to write, and a GC log file the JVM
	// cannot open stops it ("Invalid -Xlog option"): they go to the node's own data/
	// and logs/.
	jvm := filepath.Join(n.Config, "jvm.options")
	data, err := os.ReadFile(jvm)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.ReplaceAll(line, "=logs/", "="+filepath.Join(n.Dir, "logs")+"/")
		if strings.HasSuffix(line, "-XX:HeapDumpPath=data") {
			line = strings.TrimSuffix(line, "data") + filepath.Join(n.Dir, "data")
		}
		lines[i] = line
	}
	if err := os.WriteFile(jvm, []byte(strings.Join(lines, "\n")), 0o660); err != nil {
		t.Fatal(err)
	}
}

// SecurityAdmin runs the distribution's plugins/opensearch-security/tools/securityadmin.sh
// with args in dir (relative paths in args resolve there), as the test's own user
// (root in CI: the tool only reads its files and connects to the node; it needs
// no account of its own), on the distribution's JDK. It returns the tool's output and
// its exit code. The script sends the JVM's stderr to /dev/null: all it says is on
// stdout.
func (d *Distribution) SecurityAdmin(t testing.TB, dir string, args ...string) (string, int) {
	t.Helper()
	if !d.IsOpenSearch() {
		t.Fatalf("realtest: SecurityAdmin needs an OpenSearch distribution, not %s %s", d.product(), d.Version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), securityAdminTimeout)
	defer cancel()
	script := filepath.Join(d.Home, "plugins", "opensearch-security", "tools", "securityadmin.sh")
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = d.openSearchEnv("", "")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("realtest: securityadmin.sh %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("realtest: securityadmin.sh %s: still running after %v:\n%s", strings.Join(args, " "), securityAdminTimeout, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// SecurityAdmin runs Distribution.SecurityAdmin in the node's config directory, so
// args can name the node's files relative to it (-cd opensearch-security, -cert
// certs/admin.pem), with -h and -p naming the node's HTTP address (securityadmin
// talks to the REST port) unless args name them.
func (n *Node) SecurityAdmin(args ...string) (string, int) {
	n.c.t.Helper()
	hasHost, hasPort := false, false
	for _, a := range args {
		hasHost = hasHost || a == "-h" || a == "--hostname"
		hasPort = hasPort || a == "-p" || a == "--port"
	}
	if !hasHost {
		args = append(args, "-h", "127.0.0.1")
	}
	if !hasPort {
		args = append(args, "-p", strconv.Itoa(n.HTTPPort))
	}
	return n.c.Dist.SecurityAdmin(n.c.t, n.Config, args...)
}

// NewCertClient returns a client trusting only the PEM certificates in caFile that
// authenticates with the client certificate and PKCS#8 key in certFile and keyFile,
// and sends no password: OpenSearch's admin_dn certificate is how its super-admin APIs
// (_plugins/_security/api/ssl/certs, …/reloadcerts) are called.
func NewCertClient(t testing.TB, caFile, certFile, keyFile string) *Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("realtest: %s holds no PEM certificate", caFile)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	return &Client{http: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
			DisableKeepAlives: true,
		},
	}}
}
