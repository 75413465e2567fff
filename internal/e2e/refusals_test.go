package e2e

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// refusalWait bounds the wait for a node that must not join to be refused: a joining
// node retries discovery every second or so, and each try is refused.
const refusalWait = 90 * time.Second

// refusals starts two nodes that escert would never issue, each from an otherwise
// correct bundle whose transport.p12 is swapped: node4's certificate comes from the
// transport CA but carries no node name, so the trust restrictions refuse it; node5's
// comes from the HTTP CA, which the transport layer does not trust. Elasticsearch
// itself must keep both out: the cluster keeps its nodes, and the nodes log why.
func refusals(t *testing.T, c *realtest.Cluster, cl *realtest.Client, out string) {
	good := append([]*realtest.Node(nil), c.Nodes...)
	local, err := issuer.LoadLocal(filepath.Join(out, "ca"), nil, fips.ForCurrent(false), rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rogues := []struct {
		name  string
		layer spec.Layer // the CA that signs its transport certificate
		names []string   // its otherName SANs
		log   []string   // what the refusing nodes say
	}{
		// The trust restrictions name the certificate they reject.
		{"node4", spec.Transport, nil, []string{"RestrictedTrustManager", "Rejecting certificate [CN=node4]", "subjectAltName.otherName.commonName"}},
		// Asked for a certificate from the transport CA, node5 has none to give and
		// sends an empty chain. Nothing else sends one before the probes below run.
		{"node5", spec.HTTP, []string{spec.NodeName("node5", clusterName)}, []string{"SSLHandshakeException", "Empty client certificate chain"}},
	}
	var nodes []*realtest.Node
	for _, r := range rogues {
		n := c.AddNode(r.name)
		bundle := filepath.Join(t.TempDir(), r.name)
		escert(t, "cert", "--name", r.name, "--ip", "127.0.0.1", "--ca-dir", filepath.Join(out, "ca"), "--out", bundle)
		nodeBundle := filepath.Join(bundle, "nodes", r.name)
		escert(t, "install", "--bundle", nodeBundle, "--es-config", n.Config, "--owner", ownerFlag(), "--es-version", c.Dist.Version)
		// escert install refuses a bundle holding a file that is not its own, so the
		// rogue transport.p12 goes in by hand, over the installed one.
		password := keystoreSetting(t, nodeBundle, "xpack.security.transport.ssl.keystore.secure_password")
		rogueP12(t, local, r.layer, r.name, r.names, password, filepath.Join(n.Config, "certs", "transport.p12"))
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.Start()
	}
	defer func() {
		for _, n := range nodes {
			c.Remove(n)
		}
	}()
	for _, r := range rogues {
		if line := waitAnyLog(good, refusalWait, r.log...); line == "" {
			t.Errorf("no node logged refusing %s within %v", r.name, refusalWait)
		} else {
			t.Logf("refusing %s: %s", r.name, line)
		}
	}
	for i, r := range rogues {
		// escert probe, presenting the rogue certificate, is refused as well
		// (critical: exit 2).
		if res := probeTransport(t, nodes[i], good[0], transportCAs(t, out)); res.code != 2 {
			t.Errorf("%s's transport port accepted %s's certificate:\n%s", good[0].Name, r.name, res)
		}
	}
	var h realtest.Health
	if err := cl.Get(good[0], "_cluster/health", &h); err != nil || h.Nodes != len(good) {
		t.Errorf("the cluster has %d nodes (%v), want %d: a rogue node joined", h.Nodes, err, len(good))
	}
}

// rogueP12 writes a transport.p12 like escert's (key entry "transport", trusted
// entry "transport_ca") whose certificate the layer's CA signs with the given
// otherNames, and the node name only if given. Written over an installed file, it
// keeps that file's owner and mode.
func rogueP12(t *testing.T, local *issuer.Local, layer spec.Layer, name string, otherNames []string, password, path string) {
	t.Helper()
	key, chain := rogueCert(t, local, layer, name, otherNames)
	data, err := p12.Encode(rand.Reader, password, &p12.KeyEntry{Alias: "transport", Key: key, Chain: chain},
		[]p12.TrustedCert{{Alias: "transport_ca", Cert: local.Trust(spec.Transport)[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rogueCert is a certificate for 127.0.0.1, named name, with the given otherName SANs
// (the node name only if given), that the layer's CA signs, and its key.
func rogueCert(t *testing.T, local *issuer.Local, layer spec.Layer, name string, otherNames []string) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	policy := fips.ForCurrent(false)
	key, err := ca.GenerateKey(rand.Reader, policy, fips.KeySpec{Type: fips.ECDSA, Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	cert := spec.Certificate{
		Instance: name, Layer: layer, Subject: pkix.Name{CommonName: name},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, OtherNames: otherNames,
		ServerAuth: true, ClientAuth: true, Days: 30,
	}
	chain, err := local.Issue(context.Background(), cert, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key, chain
}

// waitAnyLog waits for a line containing every part in any of the nodes' logs.
func waitAnyLog(nodes []*realtest.Node, timeout time.Duration, parts ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		for _, n := range nodes {
			if line := n.WaitLog(0, parts...); line != "" {
				return line
			}
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// curlScript runs a bundle's curl.sh as an operator would, answering curl's password
// prompt on stdin (there is no terminal), and returns the HTTP status.
func curlScript(t *testing.T, script, password string) string {
	t.Helper()
	cmd := exec.Command("sh", script, "-s", "-o", "/dev/null", "-w", "%{http_code}")
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh %s: %v: %s", script, err, outb)
	}
	return strings.TrimSpace(string(outb))
}
