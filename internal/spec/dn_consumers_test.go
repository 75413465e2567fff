package spec_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/spec"
)

// TestDNNamedInstancesKeepTheirRDNsInOpenSSLAndJava issues the certificates of
// testdata/dn-instances.yml and asks openssl and Java what subject they carry: the
// PKI realm maps roles by DN, so the DN must come out as the instance was named, and
// escert's own descriptions (manifest, inspect) must show that same string.
func TestDNNamedInstancesKeepTheirRDNsInOpenSSLAndJava(t *testing.T) {
	const file = "testdata/dn-instances.yml"
	data, err := infile.Read(file, infile.Instances)
	if err != nil {
		t.Fatal(err)
	}
	instances, err := spec.ParseInstances(file, data)
	if err != nil {
		t.Fatal(err)
	}
	// escert and openssl show the instance name itself. keytool prints Java's
	// X500Principal.toString, the string the PKI realm reads: ", " between RDNs, a
	// value holding a comma quoted, a multi-valued RDN (a SET) in DER order rather
	// than openssl's; the order of the RDNs is the point.
	want := map[string]struct{ name, java string }{
		"node5":        {"CN=node5,OU=IT,DC=mydomain,DC=com", "CN=node5, OU=IT, DC=mydomain, DC=com"},
		"node6":        {"CN=node6,OU=search,OU=ops,O=Example,C=DE", "CN=node6, OU=search, OU=ops, O=Example, C=DE"},
		"node7":        {"DC=com,DC=example,CN=node7,OU=IT", "DC=com, DC=example, CN=node7, OU=IT"},
		"node8":        {`CN=node\,8,O=Example\, Inc.,L=Berlin`, `CN="node,8", O="Example, Inc.", L=Berlin`},
		"node9":        {"CN=node9+OU=ops,O=Example", "OU=ops + CN=node9, O=Example"},
		"kibana-users": {"CN=kibana-users", "CN=kibana-users"},
		"kibana":       {"CN=kibana,OU=users,OU=users,DC=example,DC=com", "CN=kibana, OU=users, OU=users, DC=example, DC=com"},
	}
	now := func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }
	local, err := issuer.NewLocal(rand.Reader, fips.Policy{}, fips.DefaultKey, "dn", 365, false, now)
	if err != nil {
		t.Fatal(err)
	}
	opts := spec.Options{ClusterName: "dn", TrustRestrictions: true, Localhost: true, Days: 30}
	dir := t.TempDir()
	var leaves []p12.TrustedCert // one keystore for all, so Java starts once
	for _, inst := range instances {
		w, ok := want[inst.Filename]
		if !ok {
			t.Fatalf("no expectation for instance %q", inst.Name)
		}
		certs, err := spec.Certificates(inst, opts)
		if err != nil {
			t.Fatal(err)
		}
		_, chain, err := issuer.Obtain(context.Background(), local, certs[0], rand.Reader, fips.Policy{}, fips.DefaultKey)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, p12.TrustedCert{Alias: inst.Filename, Cert: chain[0]})
		pemPath := filepath.Join(dir, inst.Filename+".crt")
		if err := os.WriteFile(pemPath, ca.EncodeCertificates(chain[0]), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := realtest.OpenSSLSubject(t, pemPath); err != nil || got != w.name {
			t.Errorf("%s: openssl -nameopt RFC2253 shows %q (%v), want %q", inst.Name, got, err, w.name)
		}
		if got := ca.Summarize(chain[0]).Subject; got != w.name {
			t.Errorf("%s: escert shows the subject as %q, want %q", inst.Name, got, w.name)
		}
	}
	const password = "dn-test-password"
	store, err := p12.Encode(rand.Reader, password, nil, leaves)
	if err != nil {
		t.Fatal(err)
	}
	p12Path := filepath.Join(dir, "leaves.p12")
	if err := os.WriteFile(p12Path, store, 0o600); err != nil {
		t.Fatal(err)
	}
	owners, err := realtest.KeytoolOwners(t, p12Path, password)
	if err != nil {
		t.Fatal(err)
	}
	for alias, w := range want {
		if got := owners[alias]; got != w.java {
			t.Errorf("%s: keytool shows the owner as %q, want %q", alias, got, w.java)
		}
	}
}
