package bundle_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/manifest"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
)

// These tests hand the bundle to the programs that really read it: keytool and JSSE
// (Elasticsearch is a JVM program), openssl in strict mode, Node's tls (Kibana),
// Python's ssl with VERIFY_X509_STRICT, and Go's crypto/tls.

func (b testBundle) p12Store(t testing.TB, node, layer string) realtest.Store {
	return realtest.Store{
		P12Path:     b.path("nodes", node, "certs", layer+".p12"),
		P12Password: b.secret(t, node, "xpack.security."+layer+".ssl.keystore.secure_password"),
	}
}

// keyStore is a node's key material for layer as its yml configures it: the p12, or
// the PEM key and certificate chain.
func (b testBundle) keyStore(t testing.TB, node, layer string) realtest.Store {
	if b.format == bundle.P12 {
		return b.p12Store(t, node, layer)
	}
	certs := b.path("nodes", node, "certs")
	return realtest.Store{KeyPEM: filepath.Join(certs, layer+".key"), CertPEM: filepath.Join(certs, layer+".crt")}
}

// trustStore is what a node trusts on layer: the p12's trusted entries, or the CA file.
func (b testBundle) trustStore(t testing.TB, node, layer string) realtest.Store {
	if b.format == bundle.P12 {
		return b.p12Store(t, node, layer)
	}
	return realtest.Store{CAPEMs: []string{b.path("nodes", node, "certs", layer+"-ca.crt")}}
}

// transportPeer configures a node's transport layer the way the bundle's
// elasticsearch.yml does: transport.p12 as keystore and truststore, client
// authentication required, trust restricted to the cluster's node names.
func (b testBundle) transportPeer(t testing.TB, node string) realtest.JSSEConfig {
	return realtest.JSSEConfig{Key: b.keyStore(t, node, "transport"), Trust: b.trustStore(t, node, "transport"), ClientAuth: true, TrustSubjectPatterns: []string{"*.node." + cluster}}
}

func TestKeytoolListsKeyEntryWithChainAndTrustedCA(t *testing.T) {
	skipP12UnderFIPS(t)
	b := build(t, options(bundle.P12), false)
	for _, layer := range []string{"transport", "http"} {
		store := b.p12Store(t, "node1", layer)
		entries, err := realtest.KeytoolList(t, store.P12Path, store.P12Password)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]realtest.KeytoolEntry{
			layer:         {Alias: layer, Type: "PrivateKeyEntry", ChainLength: 2},
			layer + "_ca": {Alias: layer + "_ca", Type: "trustedCertEntry", ChainLength: 1},
		}
		if len(entries) != len(want) {
			t.Fatalf("%s.p12: keytool lists %+v, want %+v", layer, entries, want)
		}
		for _, e := range entries {
			if want[e.Alias] != e {
				t.Errorf("%s.p12: keytool entry %+v, want %+v", layer, e, want[e.Alias])
			}
		}
	}
}

func TestTwoNodesCompleteTransportMutualTLSInJSSE(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	addr := realtest.StartJSSEServer(t, b.transportPeer(t, "node1"))
	// node3 has a DN name and no IP: verification_mode certificate does not check names.
	if err := realtest.JSSEHandshake(t, b.transportPeer(t, "node3"), addr, ""); err != nil {
		t.Fatalf("node3 -> node1 transport handshake: %v", err)
	}
}

func TestHTTPCertificateCannotOpenTheTransportLayer(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	server := b.transportPeer(t, "node1")
	server.TrustSubjectPatterns = nil // the CA split alone must refuse it
	addr := realtest.StartJSSEServer(t, server)
	intruder := realtest.JSSEConfig{Key: b.keyStore(t, "node2", "http"), Trust: b.trustStore(t, "node2", "transport")}
	if err := realtest.JSSEHandshake(t, intruder, addr, ""); !refused(err) {
		t.Fatalf("a certificate from the HTTP CA opened the transport layer: %v", err)
	}
	// Kibana's client certificate, also from the HTTP CA, is refused too.
	kibana := realtest.JSSEConfig{
		Key:   realtest.Store{KeyPEM: b.path("clients", "kibana", "client.key"), CertPEM: b.path("clients", "kibana", "client.crt")},
		Trust: b.trustStore(t, "node2", "transport"),
	}
	if err := realtest.JSSEHandshake(t, kibana, addr, ""); !refused(err) {
		t.Fatalf("Kibana's client certificate opened the transport layer: %v", err)
	}
}

func TestSingleCATrustRestrictionsKeepNonNodeCertificatesOut(t *testing.T) {
	b := build(t, options(bundle.P12), true)
	addr := realtest.StartJSSEServer(t, b.transportPeer(t, "node1"))
	if err := realtest.JSSEHandshake(t, b.transportPeer(t, "node2"), addr, ""); err != nil {
		t.Fatalf("node2 -> node1 with one shared CA: %v", err)
	}
	// node2's HTTP certificate chains to the same CA but names no node.
	intruder := realtest.JSSEConfig{Key: b.keyStore(t, "node2", "http"), Trust: b.trustStore(t, "node2", "transport")}
	if err := realtest.JSSEHandshake(t, intruder, addr, ""); !refused(err) {
		t.Fatalf("with one CA, an HTTP certificate opened the trust-restricted transport layer: %v", err)
	}
}

func TestHTTPSOnHTTPP12VerifiesInNodePythonStrictAndGo(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	// Elasticsearch's HTTP layer: http.p12 as keystore, no client authentication.
	addr := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: b.keyStore(t, "node1", "http")})
	ca := b.path("clients", "http-ca.crt")
	for _, host := range []string{"node1.escert.test", "127.0.0.1", "localhost"} {
		if err := realtest.NodeTLSConnect(t, addr, ca, host); err != nil {
			t.Errorf("node tls as %s: %v", host, err)
		}
		if err := realtest.PythonStrictConnect(t, addr, ca, host); err != nil {
			t.Errorf("python strict as %s: %v", host, err)
		}
		if err := realtest.GoTLSConnect(t, addr, ca, host); err != nil {
			t.Errorf("go tls as %s: %v", host, err)
		}
	}
	if err := realtest.PythonStrictConnect(t, addr, ca, "node2.escert.test"); !refused(err) {
		t.Errorf("python accepted node1's certificate for node2's name: %v", err)
	}
	// A JSSE client with the HTTP CA file, as the Java REST client would.
	if err := realtest.JSSEHandshake(t, realtest.JSSEConfig{Trust: realtest.Store{CAPEMs: []string{ca}}}, addr, "node1.escert.test"); err != nil {
		t.Errorf("jsse https client: %v", err)
	}
}

func TestKibanaServerCertificateServesHTTPSToNode(t *testing.T) {
	b := build(t, options(bundle.P12), false)
	dir := b.path("clients", "kibana")
	addr := realtest.StartJSSEServer(t, realtest.JSSEConfig{Key: realtest.Store{KeyPEM: dir + "/server.key", CertPEM: dir + "/server.crt"}})
	if err := realtest.NodeTLSConnect(t, addr, dir+"/http-ca.crt", "kibana.escert.test"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSSLStrictVerifiesEveryLeafForItsPurpose(t *testing.T) {
	for _, format := range []bundle.Format{bundle.P12, bundle.PEM} {
		opts := options(format)
		if opts.Format != format {
			continue // FIPS mode: PKCS#12 is not written
		}
		b := build(t, opts, false)
		for _, inst := range b.res.Manifest.Instances {
			for _, c := range inst.Certificates {
				leaf := certFile(t, b, c)
				caFile := b.path("ca", c.Layer+"-ca.crt")
				for _, usage := range c.ExtKeyUsage {
					purpose := map[string]string{"serverAuth": "sslserver", "clientAuth": "sslclient"}[usage]
					if err := realtest.OpenSSLVerify(t, caFile, leaf, purpose); err != nil {
						t.Errorf("%s %s (%s): %v", inst.Name, c.Name, purpose, err)
					}
				}
			}
		}
	}
}

func TestOpenSSLRefusesHTTPLeafAgainstTransportCA(t *testing.T) {
	b := build(t, options(bundle.PEM), false)
	err := realtest.OpenSSLVerify(t, b.path("ca", "transport-ca.crt"), b.path("nodes", "node1", "certs", "http.crt"), "sslclient")
	if err == nil {
		t.Fatal("openssl verified an HTTP certificate against the transport CA")
	}
}

func TestPEMBundleTransportMutualTLSInJSSE(t *testing.T) {
	b := build(t, options(bundle.PEM), false)
	peer := func(node string) realtest.JSSEConfig {
		certs := b.path("nodes", node, "certs")
		return realtest.JSSEConfig{
			Key:                  realtest.Store{KeyPEM: certs + "/transport.key", CertPEM: certs + "/transport.crt"},
			Trust:                realtest.Store{CAPEMs: []string{certs + "/transport-ca.crt"}},
			ClientAuth:           true,
			TrustSubjectPatterns: []string{"*.node." + cluster},
		}
	}
	addr := realtest.StartJSSEServer(t, peer("node1"))
	if err := realtest.JSSEHandshake(t, peer("node2"), addr, ""); err != nil {
		t.Fatal(err)
	}
	if len(b.keystore(t, "node1").Names()) != 2 {
		t.Errorf("PEM node keystore = %v, want only keystore.seed and bootstrap.password", b.keystore(t, "node1").Names())
	}
}

// refused is true for a handshake the peer rejected, not for files that failed to
// load (a typo in a path must not pass as a rejection).
func refused(err error) bool { return err != nil && !errors.Is(err, realtest.ErrLoad) }

// certFile returns a PEM file holding the certificate c: the .crt in PEM bundles, or
// the leaf extracted from the bundle's chain files otherwise.
func certFile(t *testing.T, b testBundle, c manifest.CertInfo) string {
	for _, f := range c.Files {
		if strings.HasSuffix(f, ".crt") {
			return b.path(f)
		}
	}
	if strings.HasSuffix(c.Files[0], ".p12") {
		return extractLeaf(t, b, c)
	}
	t.Fatalf("no certificate file for %s", c.Name)
	return ""
}

func extractLeaf(t *testing.T, b testBundle, c manifest.CertInfo) string {
	t.Helper()
	node := strings.Split(c.Files[0], "/")[1]
	store := b.p12Store(t, node, c.Layer)
	data, err := os.ReadFile(store.P12Path)
	if err != nil {
		t.Fatal(err)
	}
	contents, err := p12.Decode(data, store.P12Password)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "leaf.crt")
	if err := os.WriteFile(out, ca.EncodeCertificates(contents.Keys[0].Chain[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
