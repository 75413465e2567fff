package bundle_test

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/escert/escert/internal/bundle"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/golden"
	"github.com/escert/escert/internal/issuer"
	"github.com/escert/escert/internal/passwords"
	"github.com/escert/escert/internal/spec"
	"github.com/escert/escert/internal/target"
)

// openSearchInstances name nodes by DN with characters RFC 2253 escapes, and a
// client whose certificate must not be the admin's.
const openSearchInstances = `
instances:
  - name: node1
    dns: [node1.escert.test]
  - name: "CN=node2,OU=search,DC=example,DC=com"
    filename: node2
    dns: [node2.escert.test]
  - name: 'CN=node\,3,O=Example\, Inc.'
    filename: node3
    dns: [node3.escert.test]
  - name: auditor
    type: client
`

func openSearchOptions() bundle.Options {
	opts := options(bundle.PEM)
	opts.Target, opts.OpenSearchVersion = target.OpenSearch, esconfig.Version{Major: 2, Minor: 19}
	opts.Spec.TrustRestrictions = false
	return opts
}

func buildOpenSearch(t *testing.T, instancesYAML string) (*bundle.Result, *issuer.Local, error) {
	t.Helper()
	insts, err := spec.ParseInstances("instances.yml", []byte(instancesYAML))
	if err != nil {
		t.Fatal(err)
	}
	opts := openSearchOptions()
	local, err := issuer.NewLocal(opts.Rand, opts.Policy, fips.DefaultKey, cluster, 3650, false, opts.Now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(context.Background(), bundle.Request{Issuer: local, Instances: insts, Bootstrap: true}, opts)
	return res, local, err
}

func TestOpenSearchBundleHasPEMFilesTheBlockAndNoKeystore(t *testing.T) {
	res, local, err := buildOpenSearch(t, openSearchInstances)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range res.Files {
		files[f.Path] = f.Data
	}
	for _, node := range []string{"node1", "node2", "node3"} {
		for _, want := range []string{"certs/transport.crt", "certs/transport.key", "certs/http.crt", "certs/http.key", "certs/transport-ca.crt", "certs/http-ca.crt", "opensearch.yml", "opensearch-security/internal_users.yml"} {
			if _, ok := files["nodes/"+node+"/"+want]; !ok {
				t.Errorf("%s has no %s", node, want)
			}
		}
		for _, unwanted := range []string{"elasticsearch.keystore", "elasticsearch.yml", "certs/transport-trust.yml"} {
			if _, ok := files["nodes/"+node+"/"+unwanted]; ok {
				t.Errorf("%s has %s, an Elasticsearch file", node, unwanted)
			}
		}
		// OpenSearch 2.9+ refuses PKCS#1 ("algid parse error"); SEC 1 EC keys too.
		for _, key := range []string{"transport.key", "http.key"} {
			if data := string(files["nodes/"+node+"/certs/"+key]); !strings.HasPrefix(data, "-----BEGIN PRIVATE KEY-----\n") {
				t.Errorf("%s's %s is not an unencrypted PKCS#8 key:\n%.40s", node, key, data)
			}
		}
	}
	if _, ok := files[bundle.BootstrapPasswordFile]; ok {
		t.Error("an OpenSearch bundle has the elastic user's bootstrap password file")
	}

	// nodes_dn lists each node certificate's subject as Java prints it, and nothing else.
	block, err := esconfig.Parse(files["nodes/node1/opensearch.yml"])
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, node := range []string{"node1", "node2", "node3"} {
		certs, err := ca.ParseCertificates(files["nodes/"+node+"/certs/transport.crt"])
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, ca.FormatDNAsJava(certs[0].RawSubject))
	}
	if got := block.List("plugins.security.nodes_dn"); !slices.Equal(got, subjects) {
		t.Errorf("nodes_dn = %q, want the node certificates' subjects %q", got, subjects)
	}
	wantSubjects := []string{"CN=node1", "CN=node2,OU=search,DC=example,DC=com", `CN=node\,3,O=Example\, Inc.`}
	if !slices.Equal(subjects, wantSubjects) {
		t.Errorf("node subjects = %q, want the instance names %q", subjects, wantSubjects)
	}

	// The admin certificate: a client certificate from the HTTP CA whose DN is admin_dn.
	admin, err := ca.ParseCertificates(files["admin/admin.crt"])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := block.List("plugins.security.authcz.admin_dn"), []string{ca.FormatDNAsJava(admin[0].RawSubject)}; !slices.Equal(got, want) {
		t.Errorf("admin_dn = %q, want the admin certificate's subject %q", got, want)
	}
	if got := admin[0].ExtKeyUsage; !slices.Equal(got, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("admin certificate's extended key usages = %v, want client authentication only", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(local.CAs[spec.HTTP].Cert)
	if _, err := admin[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the admin certificate does not verify against the HTTP CA: %v", err)
	}
	if res.Manifest.Admin == nil || res.Manifest.Target != "opensearch" || res.Manifest.PasswordsFile != passwords.File {
		t.Errorf("the manifest does not record the OpenSearch bundle: target %q, admin %v, passwords %q", res.Manifest.Target, res.Manifest.Admin, res.Manifest.PasswordsFile)
	}

	// Every node ships the same internal users, hashing the passwords in the file.
	entries, err := passwords.Parse(files[passwords.File])
	if err != nil {
		t.Fatal(err)
	}
	users := string(files["nodes/node1/opensearch-security/internal_users.yml"])
	for _, node := range []string{"node2", "node3"} {
		if string(files["nodes/"+node+"/opensearch-security/internal_users.yml"]) != users {
			t.Errorf("%s's internal_users.yml differs from node1's", node)
		}
	}
	for _, user := range []string{"admin", "kibanaserver"} {
		pw := entries.Get(user)
		if len(pw) != passwords.Length {
			t.Fatalf("the passwords file has no %d-character password for %s", passwords.Length, user)
		}
		if strings.Contains(users, string(pw)) {
			t.Errorf("internal_users.yml holds %s's password itself", user)
		}
		hash := hashOf(t, users, user)
		if err := bcrypt.CompareHashAndPassword([]byte(hash), pw); err != nil {
			t.Errorf("%s's hash does not match the password in %s: %v", user, passwords.File, err)
		}
	}
	for _, f := range []string{"clients/opensearch_dashboards.yml", "clients/curl.sh"} {
		if _, ok := files[f]; !ok {
			t.Errorf("no %s", f)
		}
	}
	if _, ok := files["clients/kibana.yml"]; ok {
		t.Error("an OpenSearch bundle has kibana.yml")
	}
}

// hashOf is user's hash line in internal_users.yml.
func hashOf(t *testing.T, file, user string) string {
	t.Helper()
	_, after, ok := strings.Cut(file, "\n"+user+":\n  hash: \"")
	if !ok {
		t.Fatalf("no hash for %s in:\n%s", user, file)
	}
	hash, _, _ := strings.Cut(after, "\"")
	return hash
}

func TestOpenSearchBundleRefusesAnInstanceNamedAsTheAdmin(t *testing.T) {
	_, _, err := buildOpenSearch(t, "instances:\n  - name: \"CN=admin,OU=escert-admin,O="+cluster+"\"\n    filename: admin\n    type: client\n")
	if err == nil || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("Build = %v, want a refusal of the admin's DN", err)
	}
}

func TestOpenSearchBlock(t *testing.T) {
	for _, tc := range []struct {
		golden string
		edit   func(*bundle.Options)
	}{
		{"opensearch-block.golden", func(*bundle.Options) {}},
		// Before 2.19 the plugin has no hot reload setting (one it does not know stops
		// the node) and spells the transport's host name check its own way.
		{"opensearch-block-2.18-full.golden", func(o *bundle.Options) {
			o.OpenSearchVersion, o.TransportVerification = esconfig.Version{Major: 2, Minor: 18}, "full"
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			opts := openSearchOptions()
			tc.edit(&opts)
			block := bundle.OpenSearchBlock(opts, []string{"CN=node1", `CN=node\,3,O=Example\, Inc.`}, "CN=admin,OU=escert-admin,O="+cluster)
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(block))
		})
	}
}
