package rotate_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
)

// clientCertificate is a node's transport identity as a Go client certificate.
func clientCertificate(t *testing.T, config string) *tls.Certificate {
	t.Helper()
	certs, err := rotate.Discover(config, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range certs {
		if n.Layer == spec.Transport {
			c := &tls.Certificate{PrivateKey: n.Key}
			for _, cert := range n.Chain {
				c.Certificate = append(c.Certificate, cert.Raw)
			}
			return c
		}
	}
	t.Fatal("no transport certificate")
	return nil
}

// TestRenewWhileServingSwapsWithoutAFailedHandshake runs a JSSE server on a node's
// transport files that reloads them as Elasticsearch does (polling, rebuilding its
// context, keeping the old one when the files do not load), hammers it with
// mutual-TLS handshakes from another node's identity, and renews underneath: no
// handshake may fail, no reload may fail, and new handshakes end up on the new
// certificate.
func TestRenewWhileServingSwapsWithoutAFailedHandshake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a JVM")
	}
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		t.Run(string(format), func(t *testing.T) {
			c := threeNodes(t, format)
			node1 := c.configs[0]
			cfg := transportPeer(t, node1)
			cfg.ReloadInterval = 100 * time.Millisecond
			server := realtest.StartReloadingJSSEServer(t, cfg)

			before, err := rotate.Discover(node1, nil)
			if err != nil {
				t.Fatal(err)
			}
			hammer := realtest.StartHammer(t, server.Addr, filepath.Join(c.caDir, "transport-ca.crt"), "127.0.0.1", clientCertificate(t, c.configs[1]))
			hammer.WaitHandshakes(t, 5, 30*time.Second)

			local, err := issuer.LoadLocal(c.caDir, nil, fips.Policy{}, rand.Reader, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			renewed, _, err := rotate.Renew(context.Background(), before, rotate.Options{ConfigDir: node1, Issuer: local, Window: expiry.DefaultWindow, Force: true, Rand: rand.Reader, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			var fresh string
			for _, r := range renewed {
				if r.Layer == spec.Transport {
					fresh = r.SHA256
				}
			}
			hammer.WaitServed(t, fresh, 30*time.Second)
			hammer.WaitHandshakes(t, hammer.Report().OK+5, 30*time.Second)
			report := hammer.Stop()
			if len(report.Failures) > 0 {
				t.Fatalf("%d handshake(s) failed during the swap, first: %v", len(report.Failures), report.Failures[0].Err)
			}
			if ok, failed := server.Reloads(); ok == 0 || failed > 0 {
				t.Errorf("reloads: %d ok, %d failed (%v): a failed reload is a moment Elasticsearch would have served a broken pair", ok, failed, server.ReloadFailures())
			}
			old := ca.Fingerprint(before[0].Leaf())
			if last := report.Served[len(report.Served)-1]; last != fresh || report.Served[0] != old {
				t.Errorf("served %v, want the old certificate then the new one", report.Served)
			}
		})
	}
}
