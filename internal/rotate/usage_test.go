package rotate_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/rotate"
	"github.com/escert/escert/internal/spec"
)

// layerCert is the node's certificate of layer.
func layerCert(t *testing.T, config string, layer spec.Layer) rotate.NodeCert {
	t.Helper()
	certs, err := rotate.Discover(config, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		if c.Layer == layer {
			return c
		}
	}
	t.Fatalf("the node has no %s certificate", layer)
	return rotate.NodeCert{}
}

// TestRenewGivesACertificateTheUsagesOfItsLayer: a renewed certificate allows every
// role its layer needs (a transport certificate is TLS server and client) and keeps
// any usage the old one had beyond them; adding a usage is said once the files are in
// place. Renewal by possession, which copies the old usages, is held to this against a
// real step-ca in internal/cli (TestStepRenewalAddsALayersMissingUsageByIssuingAfresh).
func TestRenewGivesACertificateTheUsagesOfItsLayer(t *testing.T) {
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth
	tests := []struct {
		name  string
		layer spec.Layer
		had   []x509.ExtKeyUsage // the installed certificate's, before the renewal
		want  []x509.ExtKeyUsage
		note  bool // the renewal says it added a usage
	}{
		{"a transport certificate with serverAuth only gains clientAuth", spec.Transport, []x509.ExtKeyUsage{server}, []x509.ExtKeyUsage{server, client}, true},
		{"an HTTP certificate with serverAuth only stays so", spec.HTTP, []x509.ExtKeyUsage{server}, []x509.ExtKeyUsage{server}, false},
		{"an HTTP certificate keeps its clientAuth", spec.HTTP, []x509.ExtKeyUsage{server, client}, []x509.ExtKeyUsage{server, client}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := installedNode(t, bundle.PEM, 365, 3650)
			now := issued.AddDate(0, 0, 100)
			n.local.Now = func() time.Time { return now }
			old := layerCert(t, n.config, tt.layer)
			c, err := spec.FromCertificate(old.Leaf(), tt.layer)
			if err != nil {
				t.Fatal(err)
			}
			c.ServerAuth, c.ClientAuth = slices.Contains(tt.had, server), slices.Contains(tt.had, client)
			_, chain, err := n.local.Certify(context.Background(), c, func() (crypto.Signer, error) { return old.Key, nil })
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(old.CertPath, ca.EncodeCertificates(chain...), 0o644); err != nil {
				t.Fatal(err)
			}
			before := layerCert(t, n.config, tt.layer)
			if got := before.Leaf().ExtKeyUsage; !slices.Equal(got, tt.had) {
				t.Fatalf("the installed certificate has usages %v, want %v", got, tt.had)
			}

			var notes []string
			renewed, _, err := rotate.Renew(context.Background(), []rotate.NodeCert{before}, rotate.Options{
				ConfigDir: n.config, Issuer: n.local, Policy: fips.Policy{}, Window: expiry.DefaultWindow, Force: true, Rand: rand.Reader, Now: now,
				Notify: func(msg string) { notes = append(notes, msg) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(renewed) != 1 {
				t.Fatalf("renewed %d certificates, want the %s one", len(renewed), tt.layer)
			}
			after := layerCert(t, n.config, tt.layer)
			if got := after.Leaf().ExtKeyUsage; !slices.Equal(got, tt.want) {
				t.Errorf("renewed with usages %v, want %v", got, tt.want)
			}
			if _, err := nodetls.Verify(after.Chain, nodetls.Pool(n.local.Trust(tt.layer)...), nodetls.Roles(string(tt.layer)), now); err != nil {
				t.Errorf("the renewed certificate does not serve its layer: %v", err)
			}
			noted := slices.ContainsFunc(notes, func(m string) bool {
				return m == "the "+string(tt.layer)+" certificate lacked clientAuth, which its layer needs; the renewed one has serverAuth, clientAuth"
			})
			if noted != tt.note {
				t.Errorf("notes %q: saying a usage was added = %v, want %v", notes, noted, tt.note)
			}
		})
	}
}
