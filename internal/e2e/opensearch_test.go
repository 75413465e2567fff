package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/clientconfig"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/ossecurity"
	"github.com/escert/escert/internal/realtest"
)

// The OpenSearch versions the tests start: the newest 2.x whose security plugin is on
// Maven Central, on Java 17, a 3.x on Java 25, and the one earlier 2.x Central has a
// plugin for, whose nodes reload certificates only through the API (Makefile
// OS_VERSIONS).
const (
	os2    = "2.19.4"
	os3    = "3.4.0"
	os2API = "2.11.1"
)

// openSearchInstances names node2 and node3 by DNs with the characters nodes_dn
// mismatches come from (attribute order, DC components, escaped commas), and a client
// whose certificate must not be the admin's.
const openSearchInstances = `instances:
  - name: node1
    dns: [node1.escert.test]
    ip: [127.0.0.1]
  - name: CN=node2,OU=search,DC=escert,DC=test
    filename: node2
    dns: [node2.escert.test]
    ip: [127.0.0.1]
  - name: 'CN=node\,3,O=Escert\, Inc.'
    filename: node3
    dns: [node3.escert.test]
    ip: [127.0.0.1]
  - name: auditor
    type: client
`

// TestOpenSearchCluster bootstraps and installs a 3-node OpenSearch cluster with
// escert, as its operator would, and checks what the security plugin makes of it:
// TLS on both layers, the generated passwords and no demo ones, securityadmin.sh with
// escert's admin certificate and with no other, and a node outside nodes_dn refused.
func TestOpenSearchCluster(t *testing.T) {
	for _, version := range []string{os2, os3} {
		t.Run(version, func(t *testing.T) {
			openSearchLifecycle(t, realtest.RequireOpenSearch(t, version))
		})
	}
}

func openSearchLifecycle(t *testing.T, dist *realtest.Distribution) {
	dir := t.TempDir()
	instancesFile := filepath.Join(dir, "instances.yml")
	if err := os.WriteFile(instancesFile, []byte(openSearchInstances), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	summary := escert(t, "bootstrap", "--target", "opensearch", "--os-version", dist.Version, "--instances", instancesFile, "--out", out, "--cluster-name", clusterName).stdout
	c := realtest.NewCluster(t, dist, clusterName, 3)
	for _, n := range c.Nodes {
		install(t, c, out, n)
	}
	passwords := builtInPasswords(t, out)
	cl := realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), ossecurity.Admin, passwords[ossecurity.Admin])
	start := time.Now()
	c.Start(cl)
	t.Logf("%d OpenSearch %s nodes green in %v", len(c.Nodes), dist.Version, time.Since(start).Round(time.Second))

	t.Run("the generated passwords sign in over verified HTTPS, the demo ones and plain HTTP do not", func(t *testing.T) {
		openSearchLogins(t, c, out, passwords)
	})
	t.Run("the demo material is nowhere", func(t *testing.T) { noDemoMaterial(t, c) })
	t.Run("check is clean on every node", func(t *testing.T) {
		for _, n := range c.Nodes {
			checkClean(t, n)
		}
	})
	t.Run("probe gives each node's transport DN as nodes_dn lists it", func(t *testing.T) {
		probeSecurityDNs(t, c, out)
	})
	t.Run("securityadmin.sh runs with escert's admin certificate only", func(t *testing.T) {
		securityAdmin(t, c, out, summary)
	})
	t.Run("a node from the same CA outside nodes_dn is refused", func(t *testing.T) {
		outsideNodesDN(t, c, cl, out)
	})
	if t.Failed() {
		return
	}
	t.Run("renew swaps certificates on a live node without a failed request", func(t *testing.T) { openSearchRenew(t, c, out) })
	if t.Failed() {
		return
	}
	t.Run("CA rotation one node at a time without downtime", func(t *testing.T) { rotateCAs(t, c, out, openSearchFiles) })
}

// openSearchLogins: admin and kibanaserver authenticate with the passwords in the
// bundle, and as the users the plugin's demo shipped (admin:admin,
// kibanaserver:kibanaserver) they are refused; HTTP without TLS gets no answer.
func openSearchLogins(t *testing.T, c *realtest.Cluster, out string, passwords map[string]string) {
	caFile := filepath.Join(out, "clients", "http-ca.crt")
	for _, n := range c.Nodes {
		for _, user := range ossecurity.Users {
			var info struct {
				User string `json:"user_name"`
			}
			if err := realtest.NewClient(t, caFile, user, passwords[user]).Get(n, "_plugins/_security/authinfo", &info); err != nil || info.User != user {
				t.Errorf("%s: %s with the generated password: %v (signed in as %q)", n.Name, user, err, info.User)
			}
			if err := realtest.NewClient(t, caFile, user, user).Get(n, "_plugins/_security/authinfo", nil); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("%s: %s with the demo password %q: %v, want 401", n.Name, user, user, err)
			}
		}
		if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + n.HTTPAddr() + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s answers plain HTTP with %s", n.Name, resp.Status)
		}
	}
}

// noDemoMaterial: no node's config directory holds the demo certificates or a demo
// hash (read as bytes, not through escert's parser).
func noDemoMaterial(t *testing.T, c *realtest.Cluster) {
	for _, n := range c.Nodes {
		for _, name := range ossecurity.DemoFiles {
			if _, err := os.Stat(filepath.Join(n.Config, name)); err == nil {
				t.Errorf("%s has the demo file %s", n.Name, name)
			}
		}
		data, err := os.ReadFile(filepath.Join(n.Config, ossecurity.Dir, ossecurity.InternalUsersFile))
		if err != nil {
			t.Fatal(err)
		}
		for hash, user := range ossecurity.DemoHashes {
			if strings.Contains(string(data), hash) {
				t.Errorf("%s's internal_users.yml holds the demo hash of %s", n.Name, user)
			}
		}
	}
}

// probeSecurityDNs: probe --target opensearch on each node's transport port reports
// the DN the plugin matched against nodes_dn. The cluster is green on exact entries,
// so the DN must be one of them verbatim; node3's escaped commas and node2's DC
// components are where a wrong form would show.
func probeSecurityDNs(t *testing.T, c *realtest.Cluster, out string) {
	data, err := os.ReadFile(filepath.Join(c.Nodes[0].Config, "opensearch.yml"))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := esconfig.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	nodesDN := settings.List("plugins.security.nodes_dn")
	certs := filepath.Join(c.Nodes[0].Config, "certs")
	for _, n := range c.Nodes {
		r := run(t, "", nil, "probe", "--target", "opensearch", n.TransportAddr(), "--ca", transportCAs(t, out), "--no-verify-name",
			"--cert", filepath.Join(certs, "transport.crt"), "--key", filepath.Join(certs, "transport.key"), "-o", "json")
		var results []struct {
			Status     string `json:"status"`
			SecurityDN string `json:"security_dn"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 1 {
			t.Fatalf("%s: probe -o json: %v\n%s", n.Name, err, r)
		}
		if r.code != 0 || results[0].Status != "ok" || !slices.Contains(nodesDN, results[0].SecurityDN) {
			t.Errorf("%s: probe exit %d, status %s, security_dn %q; want ok and one of nodes_dn %q", n.Name, r.code, results[0].Status, results[0].SecurityDN, nodesDN)
		}
	}
}

// securityAdmin runs the securityadmin.sh line bootstrap printed, pointed at node1,
// and the same line with another certificate of the HTTP CA, which must fail.
func securityAdmin(t *testing.T, c *realtest.Cluster, out, summary string) {
	n1 := c.Nodes[0]
	printed := clientconfig.SecurityAdminCommand(out, "/etc/opensearch", clusterName, "NODE_HOST")
	if !strings.Contains(summary, printed) {
		t.Fatalf("bootstrap's summary does not give the securityadmin.sh line %q:\n%s", printed, summary)
	}
	args := strings.Fields(clientconfig.SecurityAdminCommand(out, n1.Config, clusterName, "127.0.0.1"))[1:]
	args[len(args)-1] = strconv.Itoa(n1.HTTPPort) // the printed line says 9200
	msg, code := n1.SecurityAdmin(args...)
	if code != 0 || !strings.Contains(msg, "Done with success") {
		t.Fatalf("securityadmin.sh %s: exit %d:\n%s", strings.Join(args, " "), code, msg)
	}
	other := strings.Join(args, " ")
	other = strings.Replace(other, filepath.Join(out, "admin", "admin.crt"), filepath.Join(out, "clients", "auditor", "client.crt"), 1)
	other = strings.Replace(other, filepath.Join(out, "admin", "admin.key"), filepath.Join(out, "clients", "auditor", "client.key"), 1)
	if msg, code := n1.SecurityAdmin(strings.Fields(other)...); code == 0 || strings.Contains(msg, "Done with success") {
		t.Errorf("securityadmin.sh with the auditor's client certificate succeeded:\n%s", msg)
	}
}

// openSearchRenew renews node2's certificates while a client polls the cluster: the
// node hot-reloads them (certificates_hot_reload) and serves the new serials on both
// ports, and no poll fails.
func openSearchRenew(t *testing.T, c *realtest.Cluster, out string) {
	n2 := c.Nodes[1]
	stop := watchHealth(t, c, out)
	defer stop()
	before := fileHashes(t, n2, openSearchFiles)
	start := time.Now()
	escert(t, "renew", "--force", "--es-config", n2.Config, "--ca-dir", filepath.Join(out, "ca"))
	waitServed(t, c, out, n2, changedFiles(t, n2, before))
	t.Logf("node2 served both renewed certificates %v after renew started", time.Since(start).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second) // keep polling past the swap
}

// openSearchFiles are the files an OpenSearch node bundle's settings name.
var openSearchFiles = []string{"transport.crt", "transport.key", "transport-ca.crt", "http.crt", "http.key", "http-ca.crt"}

// waitServed waits until node n serves what changed under its certs/: the leaf
// serial of a changed transport.crt or http.crt, on that port. A change of CA files
// alone shows on no port: the plugin's watcher polls every 5 seconds, so two polls
// are waited for, then the next step's handshakes tell.
func waitServed(t *testing.T, c *realtest.Cluster, out string, n *realtest.Node, changed []string) {
	t.Helper()
	leafChanged := false
	for _, f := range changed {
		layer, ok := strings.CutSuffix(f, ".crt")
		if !ok || (layer != "http" && layer != "transport") {
			continue
		}
		leafChanged = true
		want := leafSerialOf(t, filepath.Join(n.Config, "certs", f))
		deadline := time.Now().Add(reloadTimeout)
		for {
			var r result
			if layer == "http" {
				r = run(t, "", nil, "probe", n.HTTPAddr(), "--ca", filepath.Join(out, "clients", "http-ca.crt"), "--warn-days", "0", "-o", "json")
			} else {
				r = probeTransport(t, c.Nodes[0], n, transportCAs(t, out))
				if n == c.Nodes[0] {
					r = probeTransport(t, c.Nodes[1], n, transportCAs(t, out))
				}
			}
			if r.code == 0 && probeSerial(t, r) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve its new %s certificate (serial %s) %v after it changed: %s", n.Name, layer, want, reloadTimeout, r)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !leafChanged {
		time.Sleep(11 * time.Second)
	}
}

// leafSerialOf is the serial of the first certificate in a PEM file.
func leafSerialOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ca.ParseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return normalSerial(certs[0].SerialNumber.Text(16))
}

// outsideNodesDN: a fourth node with a transport certificate from the cluster's own
// transport CA (escert cert --ca-dir) is not in the running nodes' nodes_dn, and the
// cluster does not take it in.
func outsideNodesDN(t *testing.T, c *realtest.Cluster, cl *realtest.Client, out string) {
	n4 := c.AddNode("node4")
	defer c.Remove(n4)
	out4 := filepath.Join(t.TempDir(), "node4")
	escert(t, "cert", "--target", "opensearch", "--name", "node4", "--dns", "node4.escert.test", "--ip", "127.0.0.1",
		"--ca-dir", filepath.Join(out, "ca"), "--out", out4, "--cluster-name", clusterName, "--quiet")
	install(t, c, out4, n4)
	n1 := c.Nodes[0]
	mark := n1.LogLines()
	n4.Start()
	line := n1.WaitLogAfter(mark, 2*time.Minute, "Node presenting certificate with SSL Principal {CN=node4} could not securely connect", "nodes_dn")
	if line == "" {
		t.Fatalf("node1 did not refuse node4 for its DN within 2 minutes")
	}
	t.Logf("node1: %s", line)
	var health realtest.Health
	if err := cl.Get(n1, "_cluster/health", &health); err != nil {
		t.Fatal(err)
	}
	if health.Nodes != 3 {
		t.Fatalf("the cluster took in node4, whose DN is not in nodes_dn: %d nodes", health.Nodes)
	}
}

// TestOpenSearchBefore219ReloadsThroughTheAPI: a 2.11 node has no file watcher, so
// the curl lines renew and ca rotate begin print (the reloadcerts API, as the admin
// certificate), run as printed, are what make it serve the renewed certificates and
// trust the new CA; without them it keeps the old ones.
func TestOpenSearchBefore219ReloadsThroughTheAPI(t *testing.T) {
	dist := realtest.RequireOpenSearch(t, os2API)
	dir := t.TempDir()
	instancesFile := filepath.Join(dir, "instances.yml")
	if err := os.WriteFile(instancesFile, []byte("instances:\n  - name: node1\n    dns: [node1.escert.test]\n    ip: [127.0.0.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	escert(t, "bootstrap", "--target", "opensearch", "--os-version", dist.Version, "--instances", instancesFile, "--out", out, "--cluster-name", clusterName, "--quiet")
	c := realtest.NewCluster(t, dist, clusterName, 1)
	n := c.Nodes[0]
	install(t, c, out, n)
	cl := realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), ossecurity.Admin, builtInPasswords(t, out)[ossecurity.Admin])
	c.Start(cl)
	checkClean(t, n)
	caDir := filepath.Join(out, "ca")
	served := func() (transport, http string) {
		t.Helper()
		return probeSerial(t, probeTransport(t, n, n, transportCAs(t, out))),
			probeSerial(t, run(t, "", nil, "probe", n.HTTPAddr(), "--ca", filepath.Join(out, "clients", "http-ca.crt"), "--warn-days", "0", "-o", "json"))
	}
	oldTransport, oldHTTP := served()

	r := escert(t, "renew", "--force", "--es-config", n.Config, "--ca-dir", caDir)
	time.Sleep(11 * time.Second) // two polls of a watcher, had 2.11 one
	if transport, http := served(); transport != oldTransport || http != oldHTTP {
		t.Fatalf("2.11 took up the renewed files by itself (transport %s, http %s), so the reload API is not what this tests", transport, http)
	}
	reloadAsPrinted(t, r.stderr, out, n, 2)
	transport, http := served()
	if want := leafSerialOf(t, filepath.Join(n.Config, "certs", "transport.crt")); transport != want {
		t.Errorf("after the reload, transport serves serial %s, want the renewed %s", transport, want)
	}
	if want := leafSerialOf(t, filepath.Join(n.Config, "certs", "http.crt")); http != want {
		t.Errorf("after the reload, HTTP serves serial %s, want the renewed %s", http, want)
	}
	c.WaitGreen(cl, 1)

	// A certificate from the next transport CA is refused until the node, told by
	// begin's lines, reloads the CA file that now holds both.
	r = escert(t, "ca", "rotate", "begin", "--ca-dir", caDir, "--es-config", n.Config, "--clients", filepath.Join(out, "clients"))
	cl = realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), ossecurity.Admin, builtInPasswords(t, out)[ossecurity.Admin]) // old + next HTTP CA
	nextOut := filepath.Join(dir, "next")
	escert(t, "cert", "--target", "opensearch", "--os-version", dist.Version, "--name", "node9", "--ip", "127.0.0.1",
		"--ca-dir", filepath.Join(caDir, "next"), "--out", nextOut, "--cluster-name", clusterName, "--quiet")
	nextCerts := filepath.Join(nextOut, "nodes", "node9", "certs")
	probeNext := func() result {
		return run(t, "", nil, "probe", "--target", "opensearch", n.TransportAddr(), "--ca", transportCAs(t, out), "--no-verify-name", "--warn-days", "0",
			"--cert", filepath.Join(nextCerts, "transport.crt"), "--key", filepath.Join(nextCerts, "transport.key"), "-o", "json")
	}
	if p := probeNext(); p.code != 2 || !strings.Contains(p.stdout, "client-cert-rejected") {
		t.Fatalf("before the reload, a certificate of the next CA: %s; want client-cert-rejected", p)
	}
	reloadAsPrinted(t, r.stderr, out, n, 2)
	if p := probeNext(); p.code != 0 {
		t.Errorf("after the reload, a certificate of the next CA is still refused: %s", p)
	}
	c.WaitGreen(cl, 1)

	// issue's certificates come from another issuer, which the API refuses to load,
	// as escert says: the node takes them at its restart.
	r = escert(t, "ca", "rotate", "issue", "--ca-dir", caDir, "--es-config", n.Config)
	if !strings.Contains(r.stderr, "restart this node now") || strings.Contains(r.stderr, "  curl ") {
		t.Errorf("ca rotate issue on 2.11 did not say to restart the node, or offered the API:\n%s", r)
	}
	// Without --fail, so that curl shows the plugin's answer.
	msg, err := runReload(out, n, strings.Replace(clientconfig.ReloadCertsCommand("BUNDLE", "transport", "NODE_HOST"), "--fail ", "", 1))
	if err != nil || !strings.Contains(msg, "New Certs do not have valid Issuer DN") {
		t.Errorf("the reload API did not refuse a certificate from the new CA as 2.11 does (%v): %s", err, msg)
	}
	n.Stop()
	n.Start()
	c.WaitGreen(cl, 1)
	if transport, _ := served(); transport != leafSerialOf(t, filepath.Join(n.Config, "certs", "transport.crt")) {
		t.Errorf("after the restart, transport serves serial %s, not the new CA's certificate", transport)
	}
}

// reloadAsPrinted runs the want curl lines escert printed for node n (reloadcerts),
// each of which must succeed.
func reloadAsPrinted(t *testing.T, stderr, out string, n *realtest.Node, want int) {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(stderr, "\n") {
		if cmd, ok := strings.CutPrefix(line, "  curl "); ok {
			lines = append(lines, "curl "+cmd)
		}
	}
	if len(lines) != want {
		t.Fatalf("escert printed %d reloadcerts lines, want %d:\n%s", len(lines), want, stderr)
	}
	for _, line := range lines {
		if msg, err := runReload(out, n, line); err != nil || !strings.Contains(msg, "updated") {
			t.Fatalf("%s: %v\n%s", line, err, msg)
		}
	}
}

// runReload runs a reloadcerts curl line with sh, BUNDLE as the bootstrap's out and
// NODE_HOST:9200 as node n's HTTP address, and returns what curl printed.
func runReload(out string, n *realtest.Node, line string) (string, error) {
	line = strings.ReplaceAll(strings.ReplaceAll(line, "NODE_HOST:9200", n.HTTPAddr()), "BUNDLE/", out+"/")
	b, err := exec.Command("sh", "-c", strings.Replace(line, "curl ", "curl -sS ", 1)).CombinedOutput()
	return string(b), err
}

// TestCheckFlagsANodeOnTheDemoConfiguration runs the security plugin's own
// install_demo_configuration.sh, as the OpenSearch docs tell newcomers to, on a copy
// of the distribution, starts a node on what it wrote, and has escert check that
// node's config directory: the demo certificates (whose keys ship with the plugin),
// the flag that lets the plugin use them and the demo users' hashes are problems.
func TestCheckFlagsANodeOnTheDemoConfiguration(t *testing.T) {
	dist := realtest.RequireOpenSearch(t, os2)
	home := filepath.Join(t.TempDir(), "opensearch")
	if err := os.CopyFS(home, os.DirFS(dist.Home)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Dir(filepath.Dir(home)), filepath.Dir(home), home} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	adminPassword := "Escert-Demo-Pw-2026!x"
	demo := exec.Command("bash", filepath.Join(home, "plugins", "opensearch-security", "tools", "install_demo_configuration.sh"), "-y", "-i", "-s")
	demo.Env = append(os.Environ(), "OPENSEARCH_JAVA_HOME="+dist.JavaHome, "OPENSEARCH_INITIAL_ADMIN_PASSWORD="+adminPassword)
	if out, err := demo.CombinedOutput(); err != nil || !strings.Contains(string(out), "### Success") {
		t.Fatalf("install_demo_configuration.sh: %v\n%s", err, out)
	}
	c := realtest.NewCluster(t, &realtest.Distribution{Product: realtest.OpenSearch, Version: dist.Version, Home: home, JavaHome: dist.JavaHome}, clusterName, 1)
	n := c.Nodes[0]
	// The demo root signs the node's certificate; the client trusts only it.
	c.Start(realtest.NewClient(t, filepath.Join(n.Config, "root-ca.pem"), ossecurity.Admin, adminPassword))

	r := run(t, "", nil, "check", "--es-config", n.Config, "-o", "json")
	var report struct {
		Findings []struct {
			ID, File string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || r.code != 2 {
		t.Fatalf("check of the demo node: exit %d (want 2), %v:\n%s", r.code, err, r)
	}
	found := map[string]bool{}
	for _, f := range report.Findings {
		found[f.ID+" "+f.File] = true
	}
	for _, want := range []string{
		"demo-certificates esnode.pem", "demo-certificates kirk-key.pem", "demo-certificates root-ca.pem",
		"demo-certificates opensearch.yml", "demo-passwords opensearch-security/internal_users.yml", "nodes-dn-missing opensearch.yml",
	} {
		if !found[want] {
			t.Errorf("check did not report %q:\n%s", want, r.stdout)
		}
	}
}
