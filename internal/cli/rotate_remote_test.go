package cli

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/issuer/stepca"
	"github.com/escert/escert/internal/realtest"
)

// The same three phases move a local-CA cluster onto either remote issuer.
func TestCARotateMovesALocalCAClusterToARemoteIssuerWithoutDowntime(t *testing.T) {
	issuers := []struct {
		name  string
		start func(t *testing.T) (env map[string]string, issue, renew []string)
	}{
		{"vault", func(t *testing.T) (map[string]string, []string, []string) {
			_, env := startPKI(t)
			return env, vaultArgs("sign"), vaultArgs("sign")
		}},
		{"step-ca", func(t *testing.T) (map[string]string, []string, []string) {
			s := realtest.StartStepCA(t, realtest.StepCAOptions{Template: stepca.NodeTemplate})
			return nil, stepFirst(s), []string{"--issuer", "step", "--ca-url", s.URL, "--fingerprint", s.Fingerprint}
		}},
	}
	for _, iss := range issuers {
		t.Run(iss.name, func(t *testing.T) {
			t.Parallel() // two servers, one JSSE daemon: the JVM start is paid once
			rotateOntoRemote(t, iss.start)
		})
	}
}

func rotateOntoRemote(t *testing.T, start func(t *testing.T) (map[string]string, []string, []string)) {
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", remoteInstances)
	out := filepath.Join(dir, "out")
	if r := escert(t, nil, "bootstrap", "--instances", in, "--out", out, "-q", "--cluster-name", "prod"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	configs := map[string]string{}
	for _, node := range []string{"node1", "node2"} {
		configs[node] = filepath.Join(dir, node)
		os.Mkdir(configs[node], 0o750)
		writeFile(t, configs[node], "elasticsearch.yml", "cluster.name: prod\n")
		if r := escert(t, nil, "install", "--bundle", filepath.Join(out, "nodes", node), "--es-config", configs[node], "--owner", "-"); r.code != ExitOK {
			t.Fatal(r.stderr)
		}
	}
	env, issueArgs, renewArgs := start(t)
	// The remote CAs judge lifetimes and tokens by their own clock.
	now := time.Now
	clients := filepath.Join(out, "clients")
	rotate := func(phase, node string, extra ...string) result {
		t.Helper()
		args := append([]string{"ca", "rotate", phase}, issueArgs...)
		if node != "" {
			args = append(args, "--es-config", configs[node])
		}
		return escertAt(t, now, env, append(args, extra...)...)
	}
	// Every pair must keep talking at each step: that is the "without downtime".
	handshakes := func(step string) {
		t.Helper()
		for _, pair := range [][2]string{{"node1", "node2"}, {"node2", "node1"}} {
			server := realtest.StartJSSEServer(t, transportPeer(t, configs[pair[0]]))
			if err := realtest.JSSEHandshake(t, transportPeer(t, configs[pair[1]]), server, ""); err != nil {
				t.Errorf("%s: %s -> %s transport mutual TLS: %v", step, pair[1], pair[0], err)
			}
		}
	}
	steps := []struct {
		phase, node string
		extra       []string
		code        int
		want        string
	}{
		{"issue", "node1", nil, ExitInput, "run `escert ca rotate begin`"},
		{"begin", "node1", []string{"--clients", clients}, ExitOK, "now trusts the old and the new CA"},
		{"begin", "node2", nil, ExitOK, "now trusts the old and the new CA"},
		{"finish", "node1", nil, ExitInput, "run `escert ca rotate issue`"},
		{"issue", "node1", nil, ExitOK, "renewed transport"},
		{"issue", "node2", nil, ExitOK, "renewed transport"},
		{"issue", "node2", nil, ExitOK, "nothing to do"},
		{"finish", "node1", []string{"--clients", clients}, ExitOK, "now trusts the new CA only"},
		{"finish", "node2", nil, ExitOK, "now trusts the new CA only"},
		{"finish", "", []string{"--promote"}, ExitUsage, "nothing to promote"},
	}
	for i, s := range steps {
		r := rotate(s.phase, s.node, s.extra...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("step %d %s %s: exit %d, want %d and %q\nstdout: %s\nstderr: %s", i+1, s.phase, s.node, r.code, s.code, s.want, r.stdout, r.stderr)
		}
		if s.phase == "issue" && s.node == "node1" && s.code == ExitOK {
			handshakes("node1 on the remote CA, node2 on the local CA")
		}
	}
	handshakes("both on the remote CA, trusting it only")
	// The HTTP layer and its clients moved too: a Node client with the bundle's CA file
	// reaches node1 over HTTPS, and the old local CA is gone from that file.
	https := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: nodeStore(t, configs["node1"], "http")})
	caFile := filepath.Join(clients, "http-ca.crt")
	if err := realtest.NodeTLSConnect(t, https, caFile, "node1.escert.test"); err != nil {
		t.Errorf("Node client after the move: %v", err)
	}
	data, _ := os.ReadFile(caFile)
	certs, err := ca.ParseCertificates(data)
	if err != nil || len(certs) != 2 || slices.ContainsFunc(certs, func(c *x509.Certificate) bool { return strings.HasPrefix(c.Subject.CommonName, "escert prod") }) {
		t.Errorf("clients/http-ca.crt should hold the remote CA's chain (intermediate and root) alone: %d certificates, %v", len(certs), err)
	}
	if r := escertAt(t, now, env, append([]string{"renew", "--es-config", configs["node2"], "--force"}, renewArgs...)...); r.code != ExitOK {
		t.Errorf("renew after the move: exit %d, %s", r.code, r.stderr)
	}
}
