package rotate_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/cadir"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/install"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
)

type cluster struct {
	caDir   string
	clients string
	configs []string
	format  bundle.Format
}

// threeNodes bootstraps node1..node3 with the wall clock (real TLS peers check dates)
// and installs each into its own config directory.
func threeNodes(t *testing.T, format bundle.Format) cluster {
	t.Helper()
	now := time.Now
	local, err := issuer.NewLocal(rand.Reader, fips.Policy{}, fips.DefaultKey, "prod", 3650, false, now)
	if err != nil {
		t.Fatal(err)
	}
	instances, _ := spec.ParseInstances("i.yml", []byte("instances:\n  - name: node1\n    ip: [127.0.0.1]\n  - name: node2\n    ip: [127.0.0.1]\n  - name: node3\n    ip: [127.0.0.1]\n"))
	opts := bundle.Options{
		Format: format, Key: fips.DefaultKey, Policy: fips.Policy{},
		Spec:            spec.Options{ClusterName: "prod", TrustRestrictions: true, Localhost: true, Days: 365},
		KeystoreVersion: eskeystore.DefaultVersion, TransportVerification: "certificate",
		Rand: rand.Reader, Now: now, Version: "test",
	}
	caFiles, err := cadir.Files(local.CAs, "ca/", rand.Reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: instances, CAFiles: caFiles, BootstrapPassword: "x"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if _, err := (atomicfs.Writer{}).WriteTree(out, res.Files, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := cluster{caDir: filepath.Join(out, "ca"), clients: filepath.Join(out, "clients"), format: format}
	for _, name := range []string{"node1", "node2", "node3"} {
		config := filepath.Join(dir, name)
		os.Mkdir(config, 0o750)
		os.WriteFile(filepath.Join(config, "elasticsearch.yml"), []byte("cluster.name: prod\n"), 0o660)
		plan, err := install.PlanNode(install.NodeOptions{BundleDir: filepath.Join(out, "nodes", name), ConfigDir: config, Now: time.Now(), Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plan.Apply(nil); err != nil {
			t.Fatal(err)
		}
		c.configs = append(c.configs, config)
	}
	return c
}

// transportPeer is a node's transport layer as its yml configures it, for JSSE.
func transportPeer(t *testing.T, config string) realtest.JSSEConfig {
	t.Helper()
	certs, err := rotate.Discover(config, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range certs {
		if n.Layer != spec.Transport {
			continue
		}
		cfg := realtest.JSSEConfig{ClientAuth: true, TrustSubjectPatterns: []string{"*.node.prod"}}
		if n.P12Path != "" {
			data, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
			ks, _ := eskeystore.Decode(data, nil)
			pw, _ := ks.Get("xpack.security.transport.ssl.keystore.secure_password")
			cfg.Key = realtest.Store{P12Path: n.P12Path, P12Password: string(pw)}
			cfg.Trust = cfg.Key
		} else {
			cfg.Key = realtest.Store{KeyPEM: n.KeyPath, CertPEM: n.CertPath}
			cfg.Trust = realtest.Store{CAPEMs: []string{filepath.Join(config, "certs", "transport-ca.crt")}}
		}
		return cfg
	}
	t.Fatal("no transport certificate")
	return realtest.JSSEConfig{}
}

// httpServer is a node's HTTP layer as its yml configures it, for JSSE.
func httpServer(t *testing.T, config string) realtest.JSSEConfig {
	t.Helper()
	certs, err := rotate.Discover(config, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range certs {
		if n.Layer != spec.HTTP {
			continue
		}
		if n.P12Path != "" {
			data, _ := os.ReadFile(filepath.Join(config, "elasticsearch.keystore"))
			ks, _ := eskeystore.Decode(data, nil)
			pw, _ := ks.Get("xpack.security.http.ssl.keystore.secure_password")
			return realtest.JSSEConfig{Key: realtest.Store{P12Path: n.P12Path, P12Password: string(pw)}}
		}
		return realtest.JSSEConfig{Key: realtest.Store{KeyPEM: n.KeyPath, CertPEM: n.CertPath}}
	}
	t.Fatal("no HTTP certificate")
	return realtest.JSSEConfig{}
}

// publish writes the clients' HTTP CA bundle as `ca rotate --clients` does.
func (c cluster) publish(t *testing.T, certs ...*x509.Certificate) {
	t.Helper()
	if err := (atomicfs.Writer{}).WriteFile(filepath.Join(c.clients, "http-ca.crt"), ca.EncodeCertificates(certs...), atomicfs.PublicMode); err != nil {
		t.Fatal(err)
	}
}

// meshWorks proves every ordered pair of nodes completes a transport mutual-TLS
// handshake in JSSE, and that clients with the published HTTP CA bundle (Go, and
// Node as Kibana) reach every node's HTTP layer.
func (c cluster) meshWorks(t *testing.T, phase string) {
	t.Helper()
	bundleCA := filepath.Join(c.clients, "http-ca.crt")
	for i, config := range c.configs {
		addr := realtest.StartJSSEServer(t, httpServer(t, config))
		if err := realtest.GoTLSConnect(t, addr, bundleCA, "127.0.0.1"); err != nil {
			t.Errorf("%s: Go client with the published bundle -> node%d HTTP: %v", phase, i+1, err)
		}
		if err := realtest.NodeTLSConnect(t, addr, bundleCA, "localhost"); err != nil {
			t.Errorf("%s: Node client with the published bundle -> node%d HTTP: %v", phase, i+1, err)
		}
	}
	for i, server := range c.configs {
		addr := realtest.StartJSSEServer(t, transportPeer(t, server))
		for j, client := range c.configs {
			if i == j {
				continue
			}
			if err := realtest.JSSEHandshake(t, transportPeer(t, client), addr, ""); err != nil {
				t.Errorf("%s: node%d -> node%d transport handshake: %v", phase, j+1, i+1, err)
			}
		}
	}
}

func (c cluster) currentHTTPCA(t *testing.T) *x509.Certificate {
	t.Helper()
	l, err := issuer.LoadLocal(c.caDir, nil, fips.Policy{}, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l.CAs[spec.HTTP].Cert
}

func (c cluster) opts(layers ...spec.Layer) rotate.CAOptions {
	return rotate.CAOptions{CADir: c.caDir, Layers: layers, Policy: fips.Policy{}, Days: 3650, Rand: rand.Reader, Now: time.Now()}
}

// nextCA makes the rotation's new CA and writes it, as begin does.
func (c cluster) nextCA(t *testing.T, o rotate.CAOptions) *rotate.NewCA {
	t.Helper()
	next, err := rotate.NextCA(o)
	if err != nil || !next.Created {
		t.Fatalf("NextCA: %+v, %v", next, err)
	}
	if err := next.Save(); err != nil {
		t.Fatal(err)
	}
	return next
}

// phases are begin, issue and finish on one node, for cluster.each.
func phases(next issuer.Issuer, o rotate.CAOptions) (begin, issue, finish func(string, []rotate.NodeCert) error) {
	begin = func(config string, certs []rotate.NodeCert) error {
		change, err := rotate.PlanBegin(config, certs, next, o)
		if err != nil {
			return err
		}
		_, err = change.Apply()
		return err
	}
	issue = func(config string, certs []rotate.NodeCert) error {
		_, err := rotate.Issue(context.Background(), config, certs, next, o)
		return err
	}
	finish = func(config string, certs []rotate.NodeCert) error {
		_, err := rotate.Finish(config, certs, next, o)
		return err
	}
	return begin, issue, finish
}

func (c cluster) each(t *testing.T, nodes []int, phase func(config string, certs []rotate.NodeCert) error) {
	t.Helper()
	for _, i := range nodes {
		certs, err := rotate.Discover(c.configs[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := phase(c.configs[i], certs); err != nil {
			t.Fatalf("node%d: %v", i+1, err)
		}
	}
}

// TestCARotationKeepsEveryPairTalkingAtEveryPhase rotates both CAs of a three-node
// cluster one node at a time and checks the whole mesh after every step, with the
// p12 and the PEM layouts.
func TestCARotationKeepsEveryPairTalkingAtEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM per node per phase")
	}
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel() // JVM start-up dominates; the two layouts overlap it
			c := threeNodes(t, format)
			o := c.opts(spec.Transport, spec.HTTP)
			c.meshWorks(t, "before")
			next := c.nextCA(t, o)
			if again, err := rotate.NextCA(o); err != nil || again.Created || !again.CAs[spec.HTTP].Cert.Equal(next.CAs[spec.HTTP].Cert) {
				t.Fatal("a second begin made another CA")
			}
			begin, issue, finish := phases(next, o)

			// issue before begin reached the node is refused.
			certs, _ := rotate.Discover(c.configs[0], nil)
			if _, err := rotate.Issue(context.Background(), c.configs[0], certs, next, o); err == nil || !strings.Contains(err.Error(), "ca rotate begin") {
				t.Fatalf("issue before begin: %v", err)
			}
			oldHTTP := c.currentHTTPCA(t)
			c.publish(t, oldHTTP, next.CAs[spec.HTTP].Cert) // begin --clients
			c.meshWorks(t, "bundle published with both CAs")
			c.each(t, []int{0}, begin)
			c.meshWorks(t, "begin on node1 only")
			c.each(t, []int{0, 1, 2}, begin) // re-running on node1 is a no-op
			c.each(t, []int{0}, issue)
			c.meshWorks(t, "issue on node1 only")
			c.each(t, []int{1, 2}, issue)
			c.each(t, []int{0}, issue) // no-op
			c.meshWorks(t, "issue everywhere")
			c.each(t, []int{2}, finish)
			c.meshWorks(t, "finish on node3 only")
			c.each(t, []int{0, 1, 2}, finish)
			c.publish(t, next.CAs[spec.HTTP].Cert) // finish --clients
			c.meshWorks(t, "finish everywhere, bundle with the new CA only")

			// The old CA is no longer trusted anywhere.
			for _, config := range c.configs {
				certs, _ := rotate.Discover(config, nil)
				for _, n := range certs {
					trusted, _ := n.Trusted()
					if len(trusted) != 1 || !trusted[0].Equal(next.CAs[n.Layer].Cert) {
						t.Errorf("%s %s still trusts %d CA(s)", config, n.Layer, len(trusted))
					}
				}
			}
			if err := rotate.Pending(o); err != nil {
				t.Fatalf("every node finished, yet: %v", err)
			}
			retired, err := rotate.Promote(o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(retired, "transport-ca.key")); err != nil {
				t.Error("the old CA was not kept")
			}
			promoted, err := issuer.LoadLocal(c.caDir, nil, fips.Policy{}, rand.Reader, time.Now)
			if err != nil || !promoted.CAs[spec.Transport].Cert.Equal(next.CAs[spec.Transport].Cert) {
				t.Fatalf("the CA directory does not hold the new CA: %v", err)
			}
			// After promotion, renewal works from the same --ca-dir.
			certs, _ = rotate.Discover(c.configs[0], nil)
			if _, _, err := rotate.Renew(context.Background(), certs, rotate.Options{ConfigDir: c.configs[0], Issuer: promoted, Window: expiry.DefaultWindow, Force: true, Rand: rand.Reader, Now: time.Now()}); err != nil {
				t.Fatalf("renew after rotation: %v", err)
			}
		})
	}
}

func TestFinishRefusesANodeStillOnTheOldCA(t *testing.T) {
	c := threeNodes(t, bundle.P12)
	o := c.opts(spec.Transport)
	next := c.nextCA(t, o)
	begin, _, _ := phases(next, o)
	c.each(t, []int{0}, begin)
	certs, _ := rotate.Discover(c.configs[0], nil)
	_, err := rotate.Finish(c.configs[0], certs, next, o)
	var in *fault.InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "ca rotate issue") {
		t.Fatalf("err = %v", err)
	}
	if _, err := rotate.LoadNext(rotate.CAOptions{CADir: t.TempDir(), Layers: o.Layers}); !errors.Is(err, rotate.ErrNotRotating) {
		t.Errorf("LoadNext without begin: %v", err)
	}
}

// Promoting retires the old CA, which a node still presenting or trusting it depends
// on: Pending holds it back until every node the rotation began on has finished.
func TestPendingNamesEveryNodeTheRotationBeganOnUntilItFinished(t *testing.T) {
	c := threeNodes(t, bundle.P12)
	o := c.opts(spec.Transport, spec.HTTP)
	if err := rotate.Pending(o); err != nil {
		t.Fatalf("no rotation in progress is Promote's to refuse, got %v", err)
	}
	next := c.nextCA(t, o)
	begin, issue, finish := phases(next, o)
	label := func(i int) string {
		host, _ := os.Hostname()
		return fmt.Sprintf("node%d (%s:%s)", i+1, host, c.configs[i])
	}
	steps := []struct {
		name  string
		phase func(string, []rotate.NodeCert) error
		nodes []int
		done  bool     // every node it began on has finished
		want  []string // pending nodes otherwise; none: no node recorded a phase
	}{
		{"begun without --es-config: nothing recorded", nil, nil, false, nil},
		{"begun on two nodes", begin, []int{0, 1}, false, []string{label(0) + ": issue pending", label(1) + ": issue pending"}},
		{"issued on one", issue, []int{0}, false, []string{label(0) + ": finish pending", label(1) + ": issue pending"}},
		{"a re-run begin undoes nothing", begin, []int{0}, false, []string{label(0) + ": finish pending", label(1) + ": issue pending"}},
		{"finished on one", finish, []int{0}, false, []string{label(1) + ": issue pending"}},
		{"issued on the other", issue, []int{1}, false, []string{label(1) + ": finish pending"}},
		{"finished everywhere it began", finish, []int{1}, true, nil},
	}
	for _, s := range steps {
		if s.phase != nil {
			c.each(t, s.nodes, s.phase)
		}
		err := rotate.Pending(o)
		var pending *rotate.PendingError
		switch {
		case s.done:
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		case !errors.As(err, &pending) || !slices.Equal(pending.Nodes, s.want):
			t.Fatalf("%s: Pending = %v, want %q", s.name, err, s.want)
		case !strings.Contains(err.Error(), "--allow-pending"):
			t.Fatalf("%s: %q does not name the override", s.name, err)
		}
	}
	if _, err := rotate.Promote(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.caDir, rotate.NextDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the rotation's records outlived its promotion: %v", err)
	}
}
