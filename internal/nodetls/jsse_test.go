package nodetls

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/realtest"
)

// pemPeer writes a leaf of ca allowing usages, with its key and ca, as the PEM files
// a transport layer names, and returns them as a JSSE endpoint trusting only ca and
// requiring its peer's certificate (client_authentication: required).
func pemPeer(t *testing.T, dir, name string, ca authority, usages ...x509.ExtKeyUsage) (realtest.JSSEConfig, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 30),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages,
	}
	leaf := create(t, tmpl, ca.cert, &key.PublicKey, ca.key)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file string, blocks ...*pem.Block) string {
		var data []byte
		for _, b := range blocks {
			data = append(data, pem.EncodeToMemory(b)...)
		}
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	return realtest.JSSEConfig{
		Key: realtest.Store{
			KeyPEM:  write(name+".key", &pem.Block{Type: "PRIVATE KEY", Bytes: der}),
			CertPEM: write(name+".crt", &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
		},
		Trust:      realtest.Store{CAPEMs: []string{caFile}},
		ClientAuth: true,
	}, leaf
}

// TestTransportRolesAreWhatJavaRequiresOfANodeCertificate: a transport certificate
// serves as the TLS server of the connections a node accepts and as the client of
// those it opens, each verified by Java's JSSE as Elasticsearch runs it. nodetls's
// rule for the layer (Roles, Verify), which check reports and renew repairs, must
// accept exactly the certificates JSSE accepts in both directions.
func TestTransportRolesAreWhatJavaRequiresOfANodeCertificate(t *testing.T) {
	realtest.Require(t, "java")
	dir := t.TempDir()
	transportCA := newCA(t, "transport CA")
	good, _ := pemPeer(t, dir, "good", transportCA, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth
	for _, tc := range []struct {
		name   string
		usages []x509.ExtKeyUsage
		serves bool // what Java does with it, as found on Temurin/OpenJDK
	}{
		{"server-and-client", []x509.ExtKeyUsage{server, client}, true},
		{"no-extended-usage", nil, true},
		{"server-only", []x509.ExtKeyUsage{server}, false},
		{"client-only", []x509.ExtKeyUsage{client}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, leaf := pemPeer(t, dir, tc.name, transportCA, tc.usages...)
			// The node as client of a node that accepts it, then as the server another connects to.
			asClient := realtest.JSSEHandshake(t, node, realtest.StartJSSEServer(t, good), "")
			asServer := realtest.JSSEHandshake(t, good, realtest.StartJSSEServer(t, node), "")
			javaAccepts := asClient == nil && asServer == nil
			if javaAccepts != tc.serves {
				t.Fatalf("JSSE accepts = %v, want %v (as client: %v; as server: %v)", javaAccepts, tc.serves, asClient, asServer)
			}
			_, err := Verify([]*x509.Certificate{leaf}, Pool(transportCA.cert), Roles(esconfig.Transport), time.Now())
			if modelAccepts := err == nil; modelAccepts != javaAccepts {
				t.Fatalf("nodetls accepts = %v (%v), JSSE accepts = %v (as client: %v; as server: %v)", modelAccepts, err, javaAccepts, asClient, asServer)
			}
		})
	}
}
