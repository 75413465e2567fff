package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
)

// liveFindings runs escert check --url against node n with the bundle's trust and
// credentials and returns the exit code and finding IDs ("severity:id"), sorted.
func liveFindings(t *testing.T, n *realtest.Node, out string, extra ...string) (int, []string) {
	t.Helper()
	args := append([]string{"check", "--url", fmt.Sprintf("https://localhost:%d", n.HTTPPort), "--bundle", out, "-o", "json"}, extra...)
	r := run(t, "", nil, args...)
	var report struct {
		Findings []struct {
			Severity, ID, Node, Message string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("escert check --url: %v: %s", err, r)
	}
	var ids []string
	for _, f := range report.Findings {
		ids = append(ids, f.Severity+":"+f.ID)
		t.Logf("live finding %s %s %s: %s", f.Severity, f.ID, f.Node, f.Message)
	}
	slices.Sort(ids)
	return r.code, ids
}

// builtInUsers: the live check finds elastic on the bootstrap password; escert
// passwords refuses a wrong bootstrap password, an unreachable and a yellow cluster
// with nothing changed, then gives every built-in user a password that logs in, after
// which the bootstrap password no longer does and the live check is clean. A re-run
// changes nothing, a password set outside escert is refused until --force.
func builtInUsers(t *testing.T, c *realtest.Cluster, cl *realtest.Client, out string) {
	n := c.Nodes[0]
	url := fmt.Sprintf("https://localhost:%d", n.HTTPPort)
	file := filepath.Join(out, "built-in-passwords")
	bootstrap := bootstrapPassword(t, out)

	if code, ids := liveFindings(t, n, out); code != 2 || !slices.Equal(ids, []string{"problem:bootstrap-password-in-use"}) {
		t.Errorf("live check after install: exit %d, findings %v; want 2 and only bootstrap-password-in-use", code, ids)
	}

	// Refusals: one line, the documented code, nothing written and elastic unchanged.
	wrong := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(wrong, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wrong, "elastic-bootstrap-password"), []byte("not-the-bootstrap-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + listener.Addr().String()
	listener.Close()
	refused := func(name, bundleDir, url string, want int, says string) {
		t.Helper()
		r := run(t, "", nil, "passwords", "--bundle", bundleDir, "--url", url)
		if r.code != want || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, says) {
			t.Errorf("passwords with %s: want exit %d and one line saying %q, got %s", name, want, says, r)
		}
		if _, err := os.Stat(filepath.Join(bundleDir, "built-in-passwords")); err == nil {
			t.Errorf("passwords with %s wrote built-in-passwords", name)
		}
		if err := cl.Get(n, "_security/_authenticate", nil); err != nil {
			t.Errorf("after passwords with %s, elastic no longer signs in with the bootstrap password: %v", name, err)
		}
	}
	refused("a wrong bootstrap password", wrong, url, 7, "neither")
	refused("an unreachable cluster", out, closed, 8, "unreachable")
	// More replicas than nodes: the cluster stays yellow.
	if err := cl.Do(n, "PUT", "yellow", `{"settings":{"number_of_shards":1,"number_of_replicas":5}}`, nil); err != nil {
		t.Fatal(err)
	}
	refused("a yellow cluster", out, url, 8, "yellow")
	if err := cl.Do(n, "DELETE", "yellow", "", nil); err != nil {
		t.Fatal(err)
	}

	r := run(t, "", nil, "passwords", "--bundle", out, "--url", url, "-o", "json")
	if r.code != 0 {
		t.Fatalf("passwords: %s", r)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("built-in-passwords: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	set := builtInPasswords(t, out)
	users := []string{"elastic", "kibana_system", "logstash_system", "beats_system", "apm_system", "remote_monitoring_user"}
	for _, user := range users {
		pw := set[user]
		if len(pw) < 20 {
			t.Fatalf("built-in-passwords has no password for %s", user)
		}
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("passwords printed %s's password", user)
		}
		userClient := realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), user, pw)
		for _, node := range c.Nodes {
			var who struct {
				Username string `json:"username"`
			}
			if err := userClient.Get(node, "_security/_authenticate", &who); err != nil || who.Username != user {
				t.Errorf("%s on %s with its new password: %v (%q)", user, node.Name, err, who.Username)
			}
		}
	}
	cl.Password = set["elastic"]
	if err := realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), "elastic", bootstrap).Get(n, "_security/_authenticate", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("elastic with the bootstrap password after passwords: %v, want 401", err)
	}
	kibana, err := os.ReadFile(filepath.Join(out, "clients", "kibana.yml"))
	if err != nil || !strings.Contains(string(kibana), "sed -n 's/^kibana_system=//p' built-in-passwords | bin/kibana-keystore add elasticsearch.password --stdin") {
		t.Errorf("clients/kibana.yml does not give the kibana-keystore line: %v", err)
	}

	before, _ := os.ReadFile(file)
	if r := run(t, "", nil, "passwords", "--bundle", out, "--url", url); r.code != 0 || !strings.Contains(r.stdout, "Nothing to do") {
		t.Errorf("passwords again: want nothing to do, got %s", r)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("passwords again rewrote built-in-passwords")
	}

	// remote_monitoring_user's password changed outside escert: refused, then --force.
	if err := cl.Do(n, "POST", "_security/user/remote_monitoring_user/_password", `{"password":"changed-by-hand-1234"}`, nil); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", nil, "passwords", "--bundle", out, "--url", url); r.code != 4 || !strings.Contains(r.stderr, "remote_monitoring_user") {
		t.Errorf("passwords after a change outside escert: want exit 4 naming remote_monitoring_user, got %s", r)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("the refused run rewrote built-in-passwords")
	}
	if r := run(t, "", nil, "passwords", "--bundle", out, "--url", url, "--users", "remote_monitoring_user", "--force"); r.code != 0 {
		t.Errorf("passwords --force: %s", r)
	}
	rotated := builtInPasswords(t, out)
	if rotated["remote_monitoring_user"] == set["remote_monitoring_user"] || rotated["elastic"] != set["elastic"] {
		t.Error("--users remote_monitoring_user --force did not rotate exactly that user")
	}
	if err := realtest.NewClient(t, filepath.Join(out, "clients", "http-ca.crt"), "remote_monitoring_user", rotated["remote_monitoring_user"]).Get(n, "_security/_authenticate", nil); err != nil {
		t.Errorf("remote_monitoring_user with its rotated password: %v", err)
	}

	if code, ids := liveFindings(t, n, out); code != 0 || len(ids) != 0 {
		t.Errorf("live check after passwords: exit %d, findings %v; want clean", code, ids)
	}
}

// TestLiveCheckFlagsWhatTheRunningNodeAccepts: one node with anonymous access, TLS 1.1
// in the HTTP layer's supported_protocols, CORS open to every origin and an HTTP
// keystore holding only its leaf (the node starts on all of these settings).
// The offline check flags the settings; the live check flags what the node does. On
// the JDK's own security properties TLS 1.1 stays refused whatever supported_protocols
// says (jdk.tls.disabledAlgorithms wins); with them overridden the node accepts it and
// the live check says so, on the HTTP port only.
func TestLiveCheckFlagsWhatTheRunningNodeAccepts(t *testing.T) {
	dist := realtest.RequireElasticsearch(t, es9)
	out := bootstrap(t, clusterName, 1, "--es-version", es9)
	c := realtest.NewCluster(t, dist, clusterName, 1)
	n := c.Nodes[0]
	install(t, c, out, n)
	appendFile(t, filepath.Join(n.Config, "elasticsearch.yml"),
		"xpack.security.authc.anonymous.roles: monitoring_user\n"+
			"xpack.security.http.ssl.supported_protocols: [TLSv1.3, TLSv1.2, TLSv1.1]\n"+
			"http.cors.enabled: true\nhttp.cors.allow-origin: \"*\"\n")
	leafOnly(t, filepath.Join(n.Config, "certs", "http.p12"), keystoreSetting(t, n.Config, "xpack.security.http.ssl.keystore.secure_password"))
	cl := elasticClient(t, out)
	c.Start(cl)

	r := run(t, "", nil, "check", "--es-config", n.Config, "-o", "json")
	for _, id := range []string{`"anonymous-access"`, `"tls-old-protocol"`, `"cors-any-origin"`} {
		if r.code != 2 || !strings.Contains(r.stdout, id) {
			t.Errorf("offline check of the node: want exit 2 with %s, got %s", id, r)
		}
	}
	want := []string{"problem:anonymous-access", "problem:bootstrap-password-in-use", "warning:ca-not-sent"}
	if code, ids := liveFindings(t, n, out); code != 2 || !slices.Equal(ids, want) {
		t.Errorf("live check on the JDK's defaults: exit %d, findings %v; want 2 and %v", code, ids, want)
	}

	// Allow TLS 1.1 in the JVM, as an old java.security would, and restart.
	override := filepath.Join(n.Dir, "tls11.security")
	if err := os.WriteFile(override, []byte("jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(n.Config, "jvm.options.d", "tls11.options"), "-Djava.security.properties="+override+"\n")
	n.Stop()
	c.Start(cl)
	want = []string{"problem:anonymous-access", "problem:bootstrap-password-in-use", "problem:tls-old-protocol", "warning:ca-not-sent"}
	if code, ids := liveFindings(t, n, out); code != 2 || !slices.Equal(ids, want) {
		t.Errorf("live check with TLS 1.1 allowed by the JVM: exit %d, findings %v; want 2 and %v", code, ids, want)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// leafOnly rewrites a node's HTTP keystore with its key and leaf only: no CA in the
// chain and no trusted entry, so the node serves its leaf alone.
func leafOnly(t *testing.T, path, password string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	contents, err := p12.Decode(data, password)
	if err != nil {
		t.Fatal(err)
	}
	entry := contents.Keys[0]
	entry.Chain = entry.Chain[:1]
	if data, err = p12.Encode(rand.Reader, password, &entry, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0); err != nil {
		t.Fatal(err)
	}
}
