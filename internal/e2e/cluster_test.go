package e2e

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/escert/escert/internal/realtest"
)

// clusterName is the cluster.name of every test cluster, and so the suffix of the
// transport trust restrictions' node names.
const clusterName = "escert-e2e"

// reloadTimeout bounds the wait for a node to pick up changed TLS files: Elasticsearch
// polls them every 5 s (resource.reload.interval.high); the margin covers a loaded
// machine.
const reloadTimeout = 45 * time.Second

// TestClusterLifecycle runs one chain of scenarios on one 3-node cluster of each
// version, the way an operator lives with a cluster: bootstrap and install, the
// first start, logins, check and probe, the keystore the node upgraded, nodes that
// must be refused, a renewal under load and a CA rotation, each step on the same
// live nodes.
func TestClusterLifecycle(t *testing.T) {
	for _, version := range []string{es9, es8} {
		t.Run(version, func(t *testing.T) {
			lifecycle(t, realtest.RequireElasticsearch(t, version))
		})
	}
}

func lifecycle(t *testing.T, dist *realtest.Distribution) {
	out := bootstrap(t, clusterName, 3)
	c := realtest.NewCluster(t, dist, clusterName, 3)
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	// node1's keystore is the one the distribution's own tool creates, as on a
	// package install; escert merges its settings into it.
	if msg, code := n1.Keystore("", "create"); code != 0 {
		t.Fatalf("elasticsearch-keystore create: exit %d: %s", code, msg)
	}
	install(t, c, out, n1)

	// node2 has no keystore and, as the packages lay out /etc/elasticsearch, cannot
	// write its config directory. Created in the bundle's format 6 (install cannot
	// tell the version from this layout), the node cannot upgrade it to its own
	// format 7 and refuses to start; with --es-version, install writes format 7.
	install(t, c, out, n2)
	if v := keystoreVersion(t, filepath.Join(n2.Config, "elasticsearch.keystore")); v != 6 {
		t.Fatalf("node2's new keystore is format %d, want the bundle's 6", v)
	}
	n2.Start()
	if code := n2.WaitExit(3 * time.Minute); code != 78 {
		t.Fatalf("node2 with a format-6 keystore in a read-only config directory: exit %d, want 78 (EX_CONFIG)", code)
	}
	if line := n2.WaitLog(0, "unable to create temporary keystore", "elasticsearch-keystore upgrade"); line == "" {
		t.Fatalf("node2 did not say why it refused the keystore:\n%s", n2.Log())
	}
	if r := install(t, c, out, n2, "--es-version", dist.Version); !strings.Contains(r.stdout, "upgraded from format 6 to 7") {
		t.Fatalf("install --es-version %s did not upgrade the keystore:\n%s", dist.Version, r)
	}

	// node3 is an archive install: the elasticsearch user owns config/ and runs
	// escert itself. install, not knowing the version, creates the keystore in the
	// bundle's format 6 and says what that means; the node, owning the file, upgrades
	// it to 7 at its first start.
	n3.SetLayout(realtest.ArchiveLayout)
	if r := install(t, c, out, n3); !strings.Contains(r.stderr, "give --es-version") {
		t.Errorf("install of a new keystore without a version did not warn:\n%s", r)
	}

	cl := elasticClient(t, out)
	start := time.Now()
	c.Start(cl)
	t.Logf("%d nodes of %s green in %v", len(c.Nodes), dist.Version, time.Since(start).Round(time.Second))
	if v := keystoreVersion(t, filepath.Join(n3.Config, "elasticsearch.keystore")); v != 7 {
		t.Errorf("node3's keystore is format %d after its first start, want 7 (upgraded by the node)", v)
	}

	t.Run("security and TLS on both layers", func(t *testing.T) { securityIsOn(t, c, cl) })
	t.Run("elastic logs in from curl.sh, Go, Node and Python", func(t *testing.T) { logins(t, c, out) })
	t.Run("check is clean and probe matches _ssl/certificates", func(t *testing.T) { checkAndProbe(t, c, cl, out) })
	t.Run("escert works on keystores the node upgraded", func(t *testing.T) { afterFirstStart(t, c, []*realtest.Node{n1, n3}, out) })
	t.Run("Elasticsearch refuses nodes without the transport trust", func(t *testing.T) { refusals(t, c, cl, out) })
	t.Run("built-in users get passwords and the live check goes clean", func(t *testing.T) { builtInUsers(t, c, cl, out) })
	if t.Failed() {
		return
	}
	t.Run("renew under load swaps certificates without a failed request", func(t *testing.T) { renewUnderLoad(t, c, cl, out) })
	if t.Failed() {
		return
	}
	t.Run("CA rotation one node at a time without downtime", func(t *testing.T) { rotateCAs(t, c, out, p12Files) })
}

// securityIsOn checks what every node runs with: security and TLS on both layers.
func securityIsOn(t *testing.T, c *realtest.Cluster, cl *realtest.Client) {
	var nodes struct {
		Nodes map[string]struct {
			Name     string          `json:"name"`
			Settings json.RawMessage `json:"settings"`
		} `json:"nodes"`
	}
	if err := cl.Get(c.Nodes[0], "_nodes/settings?flat_settings=true&filter_path=nodes.*.name,nodes.*.settings", &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes.Nodes) != len(c.Nodes) {
		t.Fatalf("_nodes lists %d nodes, want %d", len(nodes.Nodes), len(c.Nodes))
	}
	// _nodes/settings filters the TLS layers' other settings out; that client
	// authentication is required and the trust restrictions apply is shown by the
	// nodes Elasticsearch refuses (refusals).
	want := map[string]string{
		"xpack.security.enabled":               "true",
		"xpack.security.transport.ssl.enabled": "true",
		"xpack.security.http.ssl.enabled":      "true",
	}
	for _, n := range nodes.Nodes {
		var settings map[string]any
		if err := json.Unmarshal(n.Settings, &settings); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if fmt.Sprint(settings[k]) != v {
				t.Errorf("%s: %s = %v, want %s", n.Name, k, settings[k], v)
			}
		}
	}
}

// logins: the elastic user, with the bootstrap password from the bundle, through
// every client the bundle serves, each trusting only clients/http-ca.crt.
func logins(t *testing.T, c *realtest.Cluster, out string) {
	password := bootstrapPassword(t, out)
	caFile := filepath.Join(out, "clients", "http-ca.crt")
	cl := realtest.NewClient(t, caFile, "elastic", password)
	for _, n := range c.Nodes {
		var who struct {
			Username string `json:"username"`
		}
		if err := cl.Get(n, "_security/_authenticate", &who); err != nil || who.Username != "elastic" {
			t.Errorf("Go client on %s: %v (user %q)", n.Name, err, who.Username)
		}
	}
	n := c.Nodes[0]
	for name, get := range map[string]func(testing.TB, string, string, string, string) (string, error){
		"Node":          realtest.NodeHTTPSGet,
		"Python strict": realtest.PythonHTTPSGet,
	} {
		for _, host := range []string{"localhost", "127.0.0.1"} {
			url := fmt.Sprintf("https://%s:%d/_security/_authenticate", host, n.HTTPPort)
			body, err := get(t, url, caFile, "elastic", password)
			if err != nil || !strings.Contains(body, `"username":"elastic"`) {
				t.Errorf("%s client, %s: %v %s", name, url, err, body)
			}
		}
	}

	// curl.sh as written for the live node by client-config. curl asks for the
	// password; without a terminal it reads it from stdin. The integ-test
	// distribution has no handler for GET / (it lives in a module that zip leaves
	// out), so an authenticated request gets 405 where a wrong password gets 401.
	escert(t, "client-config", "--bundle", out, "--es-hosts", fmt.Sprintf("https://localhost:%d", n.HTTPPort), "--force")
	for _, tc := range []struct {
		password, want string
	}{{password, "405"}, {"not-the-password", "401"}} {
		status := curlScript(t, filepath.Join(out, "clients", "curl.sh"), tc.password)
		if status != tc.want {
			t.Errorf("curl.sh with the %s password: HTTP %s, want %s", map[bool]string{true: "bootstrap", false: "wrong"}[tc.password == password], status, tc.want)
		}
	}
}

// checkAndProbe: escert check judges every live node's config directory clean, the
// node refuses TLS below 1.2, and escert probe sees on both ports what the node says
// it serves.
func checkAndProbe(t *testing.T, c *realtest.Cluster, cl *realtest.Client, out string) {
	for _, n := range c.Nodes {
		checkClean(t, n)
		refusesOldTLS(t, n)
		served := servedCertificates(t, cl, n)
		probed := probeSerial(t, run(t, "", nil, "probe", n.HTTPAddr(), "--ca", filepath.Join(out, "clients", "http-ca.crt"), "-o", "json"))
		if probed != served["http"] {
			t.Errorf("%s HTTP: probe saw serial %s, _ssl/certificates says %s", n.Name, probed, served["http"])
		}
		r := probeTransport(t, n, n, transportCAs(t, out))
		if r.code != 0 {
			t.Errorf("%s transport probe: %s", n.Name, r)
		}
		if probed := probeSerial(t, r); probed != served["transport"] {
			t.Errorf("%s transport: probe saw serial %s, _ssl/certificates says %s", n.Name, probed, served["transport"])
		}
	}
}

// checkClean: escert check finds nothing on a node laid out as the packages do. On
// an archive layout the one finding is the truth about it: the node's user owns its
// config and could rewrite it.
func checkClean(t *testing.T, n *realtest.Node) {
	t.Helper()
	checkCleanBy(t, escertBin, n)
}

// checkCleanBy is checkClean with another escert binary and extra flags (a keystore
// password).
func checkCleanBy(t *testing.T, bin string, n *realtest.Node, extra ...string) {
	t.Helper()
	r := runBin(t, bin, nil, "", nil, append([]string{"check", "--es-config", n.Config, "-o", "json"}, extra...)...)
	var report struct {
		Findings []struct {
			ID string `json:"id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("check %s -o json: %v\n%s", n.Name, err, r)
	}
	var ids []string
	for _, f := range report.Findings {
		ids = append(ids, f.ID)
	}
	want := []string(nil)
	if n.Layout() == realtest.ArchiveLayout {
		want = []string{"writable-by-elasticsearch"}
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("check %s found %v, want %v:\n%s", n.Name, ids, want, r)
	}
}

// afterFirstStart: on nodes whose keystore the node itself upgraded (or whose tool
// made it), every escert command that reads the keystore still works.
func afterFirstStart(t *testing.T, c *realtest.Cluster, nodes []*realtest.Node, out string) {
	for _, n := range nodes {
		ks := filepath.Join(n.Config, "elasticsearch.keystore")
		if r := escert(t, "keystore", "list", "--path", ks); !strings.Contains(r.stdout, "xpack.security.transport.ssl.keystore.secure_password") {
			t.Errorf("%s: keystore list: %s", n.Name, r)
		}
		if r := run(t, "", nil, "needs-renewal", "--es-config", n.Config); r.code != 1 {
			t.Errorf("%s: needs-renewal on fresh certificates: %s, want exit 1 (not yet)", n.Name, r)
		}
		if r := escert(t, "renew", "--es-config", n.Config, "--ca-dir", filepath.Join(out, "ca")); !strings.Contains(r.stdout+r.stderr, "not due") {
			t.Errorf("%s: renew of fresh certificates: %s", n.Name, r)
		}
		checkClean(t, n)
		if r := install(t, c, out, n); !strings.Contains(r.stdout, "nothing to do") {
			t.Errorf("%s: a second install changed something:\n%s", n.Name, r)
		}
	}
}

// renewUnderLoad: while a client polls _cluster/health every 250 ms (a new TLS
// connection each time, to a different node each time), renew --force on node2 swaps
// both of its certificates; the node reloads them (its log says so), serves them on
// both ports and lists them in _ssl/certificates, and no poll fails and no node
// leaves.
func renewUnderLoad(t *testing.T, c *realtest.Cluster, cl *realtest.Client, out string) {
	n2 := c.Nodes[1]
	before := servedCertificates(t, cl, n2)
	stop := watchHealth(t, c, out)
	defer stop()
	mark := n2.LogLines()
	start := time.Now()
	escert(t, "renew", "--force", "--es-config", n2.Config, "--ca-dir", filepath.Join(out, "ca"))
	waitReloaded(t, n2, mark, p12Files...)
	t.Logf("node2 reloaded both certificates %v after renew started", time.Since(start).Round(100*time.Millisecond))
	now := servedCertificates(t, cl, n2)
	for _, layer := range []string{"http", "transport"} {
		if now[layer] == before[layer] {
			t.Errorf("_ssl/certificates still lists the old %s serial %s", layer, before[layer])
		}
	}
	if probed := probeSerial(t, run(t, "", nil, "probe", n2.HTTPAddr(), "--ca", filepath.Join(out, "clients", "http-ca.crt"), "-o", "json")); probed != now["http"] {
		t.Errorf("node2's HTTP port serves serial %s, _ssl/certificates lists %s", probed, now["http"])
	}
	if probed := probeSerial(t, probeTransport(t, n2, c.Nodes[0], transportCAs(t, out))); probed == "" {
		t.Error("node1 does not accept node2's renewed transport certificate")
	}
	if probed := probeSerial(t, probeTransport(t, c.Nodes[0], n2, transportCAs(t, out))); probed != now["transport"] {
		t.Errorf("node2's transport port serves serial %s, _ssl/certificates lists %s", probed, now["transport"])
	}
	// Keep polling a little past the swap, so connections made after it count too.
	time.Sleep(2 * time.Second)
}

// p12Files are the files the default layout's settings name, which the nodes watch.
var p12Files = []string{"transport.p12", "http.p12"}

// waitReloaded waits until node n's log, after mark, says it updated its SSL
// contexts from each of files (under certs/): Elasticsearch polls them every 5 s
// (resource.reload.interval.high) and logs "updated N ssl contexts ... using file".
func waitReloaded(t *testing.T, n *realtest.Node, mark int, files ...string) {
	t.Helper()
	for _, f := range files {
		if n.WaitLogAfter(mark, reloadTimeout, "ssl contexts", filepath.Join("certs", f)+"]") == "" {
			t.Fatalf("%s did not reload certs/%s within %v", n.Name, f, reloadTimeout)
		}
	}
}

// rotateCAs moves both layers to new CAs with escert ca rotate, one node and one
// phase at a time; after every single step (once the node has reloaded what the step
// wrote) the cluster is green with all nodes, every node's transport port accepts
// every other node's certificate, and a client holding the published http-ca.crt
// reaches every node.
//
// OpenSearch hot-reloads trust but refuses a certificate from another issuer DN
// ("New certificates do not have valid Issuer DNs"), so on OpenSearch the issue
// phase is a rolling restart, as escert says: each node restarts on its new
// certificates and the cluster is green with all nodes before the next; the health
// polls, which would see the restarting node gone, watch the other two phases.
func rotateCAs(t *testing.T, c *realtest.Cluster, out string, watched []string) {
	caDir := filepath.Join(out, "ca")
	clients := filepath.Join(out, "clients")
	restart := c.Dist.IsOpenSearch()
	for _, phase := range []string{"begin", "issue", "finish"} {
		stop := func() {}
		if phase != "issue" || !restart {
			stop = watchHealth(t, c, out)
		}
		for _, n := range c.Nodes {
			before := fileHashes(t, n, watched)
			mark := n.LogLines()
			args := []string{"ca", "rotate", phase, "--ca-dir", caDir, "--es-config", n.Config}
			if phase != "issue" {
				args = append(args, "--clients", clients)
			}
			r := escert(t, args...)
			switch {
			case phase == "issue" && restart:
				if !strings.Contains(r.stderr, "restart this node now") {
					t.Errorf("ca rotate issue on an OpenSearch node did not say to restart it:\n%s", r)
				}
				n.Stop()
				n.Start()
				c.WaitGreen(elasticClient(t, out), len(c.Nodes))
			case restart:
				waitServed(t, c, out, n, changedFiles(t, n, before))
			default:
				waitReloaded(t, n, mark, changedFiles(t, n, before)...)
			}
			afterStep(t, c, out, fmt.Sprintf("%s on %s", phase, n.Name))
			if t.Failed() {
				stop()
				return
			}
		}
		stop()
	}
	escert(t, "ca", "rotate", "finish", "--ca-dir", caDir, "--promote")
	// A restarted node opens every transport connection anew, on the new CAs only.
	n3 := c.Nodes[2]
	n3.Stop()
	n3.Start()
	c.WaitGreen(elasticClient(t, out), len(c.Nodes))
	afterStep(t, c, out, "restart of node3 after the rotation")
}

// fileHashes is the content of each watched file under certs/, to tell which a step
// changed.
func fileHashes(t *testing.T, n *realtest.Node, watched []string) map[string]string {
	t.Helper()
	hashes := map[string]string{}
	for _, f := range watched {
		data, err := os.ReadFile(filepath.Join(n.Config, "certs", f))
		if err != nil {
			t.Fatal(err)
		}
		hashes[f] = string(data)
	}
	return hashes
}

// changedFiles are the files of before whose content is no longer the same.
func changedFiles(t *testing.T, n *realtest.Node, before map[string]string) []string {
	t.Helper()
	var changed []string
	for f, old := range before {
		data, err := os.ReadFile(filepath.Join(n.Config, "certs", f))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != old {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 {
		t.Fatalf("the step changed none of %s's watched files", n.Name)
	}
	return changed
}

// afterStep is what must hold after every step of a rotation.
func afterStep(t *testing.T, c *realtest.Cluster, out, step string) {
	t.Helper()
	cl := elasticClient(t, out)
	if h := c.WaitGreen(cl, len(c.Nodes)); h.Nodes != len(c.Nodes) {
		t.Errorf("after %s: %d nodes", step, h.Nodes)
	}
	for _, n := range c.Nodes {
		if err := cl.Get(n, "_cluster/health", nil); err != nil {
			t.Errorf("after %s: a client with the published http-ca.crt cannot reach %s: %v", step, n.Name, err)
		}
	}
	cas := transportCAs(t, out)
	for _, from := range c.Nodes {
		for _, to := range c.Nodes {
			if from == to {
				continue
			}
			if r := probeTransport(t, from, to, cas); r.code != 0 {
				t.Errorf("after %s: %s's transport port refuses %s's certificate: %s", step, to.Name, from.Name, r)
			}
		}
	}
}

// watchHealth polls _cluster/health every 250 ms, each time on the next node, until
// the returned stop is called; stop fails the test if a poll failed or the cluster
// had fewer nodes than now. Each poll is a client that reads the published
// clients/http-ca.crt afresh, as clients given the rotated file do.
func watchHealth(t *testing.T, c *realtest.Cluster, out string) (stop func()) {
	t.Helper()
	want := len(c.Nodes)
	caFile, superuser := filepath.Join(out, "clients", "http-ca.crt"), elasticClient(t, out)
	var (
		polls, failures atomic.Int64
		firstFailure    atomic.Value
		done            = make(chan struct{})
		wg              sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			n := c.Nodes[i%want]
			var h realtest.Health
			cl, err := realtest.ClientFor(caFile, superuser.User, superuser.Password)
			if err == nil {
				err = cl.Get(n, "_cluster/health", &h)
			}
			if err == nil && h.Nodes != want {
				err = fmt.Errorf("%s reports %d nodes (status %s)", n.Name, h.Nodes, h.Status)
			}
			polls.Add(1)
			if err != nil {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			if failures.Load() > 0 {
				t.Errorf("%d of %d health polls failed; the first: %v", failures.Load(), polls.Load(), firstFailure.Load())
			} else {
				t.Logf("%d health polls, none failed", polls.Load())
			}
		})
	}
}

// servedCertificates is what _ssl/certificates on node n reports, as "http" and
// "transport" (the leaves' serials) and "trust:<subject>:<serial>" for every
// certificate without a key (the CAs it trusts).
func servedCertificates(t *testing.T, cl *realtest.Client, n *realtest.Node) map[string]string {
	t.Helper()
	var certs []struct {
		Path          string `json:"path"`
		Alias         string `json:"alias"`
		Subject       string `json:"subject_dn"`
		Serial        string `json:"serial_number"`
		HasPrivateKey bool   `json:"has_private_key"`
	}
	if err := cl.Get(n, "_ssl/certificates", &certs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cert := range certs {
		serial := normalSerial(cert.Serial)
		switch {
		case cert.HasPrivateKey && strings.Contains(cert.Path, "transport"):
			got["transport"] = serial
		case cert.HasPrivateKey && strings.Contains(cert.Path, "http"):
			got["http"] = serial
		case !cert.HasPrivateKey:
			got["trust:"+cert.Subject+":"+serial] = cert.Path
		}
	}
	return got
}

// normalSerial writes a hex serial as big.Int does, so Elasticsearch's and escert's
// renderings compare.
func normalSerial(s string) string {
	v, ok := new(big.Int).SetString(strings.ReplaceAll(s, ":", ""), 16)
	if !ok {
		return s
	}
	return v.Text(16)
}

// probeSerial is the leaf serial of a one-target probe -o json report.
func probeSerial(t *testing.T, r result) string {
	t.Helper()
	var reports []struct {
		Chain []struct {
			Serial string `json:"serial"`
		} `json:"chain"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 || len(reports[0].Chain) == 0 {
		t.Fatalf("probe output is not one report with a chain: %v\n%s", err, r)
	}
	return normalSerial(reports[0].Chain[0].Serial)
}

// transportCAs writes every transport CA of the bundle (the current one, during a
// rotation the next, and a remote issuer's chain) to one PEM file, for probes that
// verify the node they reach.
func transportCAs(t *testing.T, out string) string {
	t.Helper()
	var pem []byte
	for _, f := range []string{
		filepath.Join(out, "ca", "transport-ca.crt"), filepath.Join(out, "ca", "next", "transport-ca.crt"),
		filepath.Join(out, "nodes", "node1", "certs", "transport-ca.crt"), // a remote issuer's chain
	} {
		if data, err := os.ReadFile(f); err == nil {
			pem = append(pem, data...)
		}
	}
	path := filepath.Join(t.TempDir(), "transport-cas.crt")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// probeTransport runs escert probe against node to's transport port, presenting node
// from's transport certificate (its p12, opened with the password in its keystore,
// or its PEM certificate and key): the real Elasticsearch on the other end decides
// whether it accepts it.
func probeTransport(t *testing.T, from, to *realtest.Node, caFile string) result {
	t.Helper()
	// Only the handshake is judged here, not how soon the certificate expires
	// (step-ca's last a day).
	args := []string{"probe", to.TransportAddr(), "--ca", caFile, "--warn-days", "0", "-o", "json"}
	certs := filepath.Join(from.Config, "certs")
	if _, err := os.Stat(filepath.Join(certs, "transport.p12")); err != nil {
		return run(t, "", nil, append(args, "--cert", filepath.Join(certs, "transport.crt"), "--key", filepath.Join(certs, "transport.key"))...)
	}
	password := keystoreSetting(t, from.Config, "xpack.security.transport.ssl.keystore.secure_password")
	passFile := filepath.Join(t.TempDir(), "p12-password")
	if err := os.WriteFile(passFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	return run(t, "", nil, append(args, "--p12", filepath.Join(certs, "transport.p12"), "--pass-file", passFile)...)
}

// keystoreSetting reads one setting of a node's keystore with escert keystore show.
func keystoreSetting(t *testing.T, config, name string) string {
	t.Helper()
	r := escert(t, "keystore", "show", "--path", filepath.Join(config, "elasticsearch.keystore"), name)
	return strings.TrimRight(r.stdout, "\n")
}
