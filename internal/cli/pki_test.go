package cli

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/csrdir"
	"github.com/escert/escert/internal/realtest"
	"github.com/escert/escert/internal/treestate"
)

const companyNodes = `instances:
  - name: node1
    dns: [node1.example.com]
    ip: [127.0.0.1]
  - name: node2
    dns: [node2.example.com]
  - name: kibana
    type: kibana
    dns: [kibana.example.com]
`

// requestAll runs escert csr for instances into a fresh directory.
func requestAll(t *testing.T, instances string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "csr")
	r := escertAt(t, time.Now, nil, append([]string{"csr", "--instances", writeFile(t, dir, "instances.yml", instances), "--out", out, "--cluster-name", "prod"}, args...)...)
	if r.code != 0 {
		t.Fatalf("escert csr: exit %d\n%s", r.code, r.stderr)
	}
	return out
}

// signAll has the company CA sign every request of a CSR directory, each with the
// profile profile picks, and returns the directory of its answer: the leaves and,
// unless leaveOutIntermediate, the issuing CA's certificate.
func signAll(t *testing.T, corp *realtest.CorporateCA, csrs string, profile func(csr string) realtest.Profile, leaveOutIntermediate bool) string {
	t.Helper()
	signed := t.TempDir()
	files, err := filepath.Glob(filepath.Join(csrs, "*", "*.csr"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests in %s (%v)", csrs, err)
	}
	for _, f := range files {
		leaf := corp.Sign(t, f, profile(f))
		data, err := os.ReadFile(leaf)
		if err != nil {
			t.Fatal(err)
		}
		// The PKI team's names, not escert's: pairing goes by key.
		name := strings.ReplaceAll(strings.TrimPrefix(f, csrs+string(filepath.Separator)), string(filepath.Separator), "_")
		writeFile(t, signed, strings.TrimSuffix(name, ".csr")+".cer", string(data))
	}
	if !leaveOutIntermediate {
		data, err := os.ReadFile(corp.IntermediateFile)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, signed, "issuing-ca.pem", string(data))
	}
	return signed
}

func keepAll(string) realtest.Profile { return realtest.Profile{} }

func TestCSRWritesKeysAndRequestsForThePKITeam(t *testing.T) {
	t.Parallel()
	csrs := requestAll(t, companyNodes)
	want := []string{"PKI-REQUEST.md", "http/kibana-server.csr", "http/node1.csr", "http/node2.csr", "instances.yml",
		"keys/kibana/server.key", "keys/node1/http.key", "keys/node1/transport.key", "keys/node2/http.key", "keys/node2/transport.key",
		"request.json", "transport/node1.csr", "transport/node2.csr"}
	if got := listTree(t, csrs); !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	for _, key := range []string{"keys/node1/transport.key", "keys/kibana/server.key"} {
		if info, err := os.Stat(filepath.Join(csrs, key)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", key, info.Mode().Perm(), err)
		}
	}
	data, err := os.ReadFile(filepath.Join(csrs, "transport", "node1.csr"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ca.ParseCSR(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(csr.DNSNames, []string{"node1.example.com"}) || len(csr.IPAddresses) != 1 {
		t.Errorf("node1's transport request asks for %q %v", csr.DNSNames, csr.IPAddresses)
	}
	notes, err := os.ReadFile(filepath.Join(csrs, csrdir.NotesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"serverAuth and clientAuth", "`node1.node.prod`", "`transport/node1.csr`", "`http/kibana-server.csr`"} {
		if !strings.Contains(string(notes), want) {
			t.Errorf("%s does not say %q:\n%s", csrdir.NotesFile, want, notes)
		}
	}
}

func TestCSRRefusesAnOutputThatHoldsKeys(t *testing.T) {
	t.Parallel()
	csrs := requestAll(t, companyNodes)
	before := treestate.Of(t, csrs)
	r := escertAt(t, time.Now, nil, "csr", "--instances", filepath.Join(csrs, "instances.yml"), "--out", csrs)
	if r.code != 4 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("exit %d, want 4 in one line:\n%s", r.code, r.stderr)
	}
	if after := treestate.Of(t, csrs); !maps.Equal(before, after) {
		t.Fatal("a refused csr changed the directory's files")
	}
}

func TestBootstrapFromACompanyCABuildsTheBundle(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	tests := []struct {
		name        string
		profile     func(string) realtest.Profile
		wantTrust   string
		wantX509    bool
		wantWarning string
		pkcs7       bool
	}{
		{"profile keeps the node otherName", keepAll, `trust.subject_name: ["*.node.prod"]`, false, "", false},
		{"profile drops otherNames", func(string) realtest.Profile { return realtest.Profile{DropOtherNames: true} },
			`trust.subject_name: ["node1.example.com", "node2.example.com"]`, true, "admit the nodes' DNS names instead", false},
		{"answer in PKCS#7 bundles, as a Windows CA sends it", keepAll, `trust.subject_name: ["*.node.prod"]`, false, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			csrs := requestAll(t, companyNodes)
			signed := signAll(t, corp, csrs, tc.profile, false)
			if tc.pkcs7 {
				asPKCS7(t, signed, corp.IntermediateFile)
			}
			out := filepath.Join(t.TempDir(), "out")
			r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile, "--out", out, "--format", "pem")
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			if (tc.wantWarning == "") != !strings.Contains(r.stderr, "warning:") || !strings.Contains(r.stderr, tc.wantWarning) {
				t.Errorf("stderr %q, want a warning only if %q", r.stderr, tc.wantWarning)
			}
			trust, err := os.ReadFile(filepath.Join(out, "nodes", "node1", "certs", "transport-trust.yml"))
			if err != nil || !strings.Contains(string(trust), tc.wantTrust) {
				t.Errorf("transport-trust.yml:\n%s(%v)\nwant %s", trust, err, tc.wantTrust)
			}
			block, err := os.ReadFile(filepath.Join(out, "nodes", "node1", "elasticsearch.yml"))
			if err != nil || strings.Contains(string(block), "x509_fields") != tc.wantX509 {
				t.Errorf("elasticsearch.yml block (x509_fields wanted: %v):\n%s", tc.wantX509, block)
			}
			chain, err := os.ReadFile(filepath.Join(out, "nodes", "node1", "certs", "transport.crt"))
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ca.ParseCertificates(chain)
			if err != nil || len(certs) != 3 || !certs[1].Equal(corp.Intermediate) || !certs[2].Equal(corp.Root) {
				t.Fatalf("transport.crt holds %d certificates (%v), want leaf, intermediate, root", len(certs), err)
			}
			for _, f := range []string{"nodes/node1/certs/transport-ca.crt", "nodes/node1/certs/http-ca.crt", "clients/http-ca.crt"} {
				data, err := os.ReadFile(filepath.Join(out, f))
				if got, err2 := ca.ParseCertificates(data); err != nil || err2 != nil || len(got) != 1 || !got[0].Equal(corp.Root) {
					t.Errorf("%s does not hold the root alone", f)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "nodes", "node1", "elasticsearch.keystore")); err != nil {
				t.Error(err)
			}
		})
	}
}

// Every fault in the PKI's answer is one line naming the file, exit 3, and no output.
func TestBootstrapFromACompanyCARefusesABadAnswer(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	other := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{Name: "Other Corp"})
	expired := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{Name: "Late Corp", IntermediateExpired: true})
	tests := []struct {
		name string
		// answer returns the --signed directory and the --root file.
		answer func(t *testing.T, csrs string) (signed, root string)
		want   []string
	}{
		{"a certificate signed by another CA", func(t *testing.T, csrs string) (string, string) {
			signed := signAll(t, corp, csrs, keepAll, false)
			node1 := other.Sign(t, filepath.Join(csrs, "transport", "node1.csr"), realtest.Profile{})
			os.Remove(filepath.Join(signed, "transport_node1.cer"))
			copyFile(t, node1, filepath.Join(signed, "transport_node1.cer"))
			return signed, corp.RootFile
		}, []string{"transport_node1.cer", "Other Corp Issuing CA 1", "neither among the signed files nor the trusted root"}},
		{"a certificate whose key is not the request's", func(t *testing.T, csrs string) (string, string) {
			signed := signAll(t, corp, csrs, keepAll, false)
			os.Remove(filepath.Join(signed, "transport_node1.cer"))
			// The PKI signed node2's request twice, once for node1.
			copyFile(t, corp.Sign(t, filepath.Join(csrs, "transport", "node2.csr"), realtest.Profile{}), filepath.Join(signed, "transport_node1.cer"))
			return signed, corp.RootFile
		}, []string{"no signed certificate", "transport/node1.csr"}},
		{"a transport certificate without clientAuth", func(t *testing.T, csrs string) (string, string) {
			return signAll(t, corp, csrs, func(string) realtest.Profile { return realtest.Profile{ServerOnly: true} }, false), corp.RootFile
		}, []string{"transport_node1.cer", "lacks the extended key usage clientAuth"}},
		{"a missing intermediate", func(t *testing.T, csrs string) (string, string) {
			return signAll(t, corp, csrs, keepAll, true), corp.RootFile
		}, []string{"Example Corp Issuing CA 1", "add the issuing CA's certificate (the intermediate) to --signed"}},
		{"an expired intermediate", func(t *testing.T, csrs string) (string, string) {
			return signAll(t, expired, csrs, keepAll, false), expired.RootFile
		}, []string{"issuing-ca.pem", "the intermediate", "expired on 2021-01-01"}},
		{"a leaf given as the root", func(t *testing.T, csrs string) (string, string) {
			signed := signAll(t, corp, csrs, keepAll, false)
			return signed, filepath.Join(signed, "transport_node1.cer")
		}, []string{"is not a CA certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			csrs := requestAll(t, companyNodes)
			signed, root := tc.answer(t, csrs)
			before := treestate.Of(t, csrs)
			out := filepath.Join(t.TempDir(), "out")
			r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", root, "--out", out)
			msg := strings.TrimSpace(r.stderr)
			if r.code != 3 || strings.Contains(msg, "\n") {
				t.Fatalf("exit %d, want 3 with one line:\n%s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused bootstrap wrote %s", out)
			}
			if !maps.Equal(before, treestate.Of(t, csrs)) {
				t.Error("a refused bootstrap changed the CSR directory")
			}
		})
	}
}

// When the profile dropped the otherName and a node has no DNS name, nothing tells the
// nodes from anything else the CA signs: escert says so and writes nothing, unless the
// operator accepts it.
func TestBootstrapFromACompanyCARefusesAnUnrestrictableTransportLayer(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	csrs := requestAll(t, "instances:\n  - name: node1\n    ip: [127.0.0.1]\n")
	signed := signAll(t, corp, csrs, func(string) realtest.Profile { return realtest.Profile{DropOtherNames: true} }, false)
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile, "--out", out}
	r := escertAt(t, time.Now, nil, args...)
	if msg := strings.TrimSpace(r.stderr); r.code != 6 || strings.Contains(msg, "\n") ||
		!strings.Contains(msg, "any certificate") || !strings.Contains(msg, "Example Corp Issuing CA 1") || !strings.Contains(msg, "--no-trust-restrictions") {
		t.Fatalf("exit %d, want 6 in one line naming the CA and the way out:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused bootstrap wrote %s", out)
	}
	r = escertAt(t, time.Now, nil, append(args, "--no-trust-restrictions")...)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: --no-trust-restrictions") {
		t.Fatalf("exit %d with --no-trust-restrictions:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "nodes", "node1", "certs", "transport-trust.yml")); !os.IsNotExist(err) {
		t.Error("an accepted unrestricted bootstrap still wrote trust restrictions")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// companyNode bootstraps companyNodes from the company CA and installs node1 into a
// config directory; it returns the directory.
func companyNode(t *testing.T, corp *realtest.CorporateCA, format string) string {
	t.Helper()
	csrs := requestAll(t, companyNodes)
	signed := signAll(t, corp, csrs, keepAll, false)
	out := filepath.Join(t.TempDir(), "out")
	if r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile, "--out", out, "--format", format, "-q"); r.code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s", r.code, r.stderr)
	}
	config := filepath.Join(t.TempDir(), "config")
	os.Mkdir(config, 0o750)
	writeFile(t, config, "elasticsearch.yml", "path.data: /var/lib/elasticsearch\n")
	if r := escertAt(t, time.Now, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != 0 {
		t.Fatalf("install: exit %d\n%s", r.code, r.stderr)
	}
	return config
}

func TestRenewThroughTheCompanyCARequestsThenInstallsTheSignedCertificates(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	for _, format := range []string{"p12", "pem"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			config := companyNode(t, corp, format)
			req := filepath.Join(t.TempDir(), "renewal")
			before := treestate.Of(t, config)
			r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--force")
			if r.code != 0 || !strings.Contains(r.stdout, "requested transport: "+filepath.Join(req, "transport", "node1.csr")) || !strings.Contains(r.stdout, "requested http") {
				t.Fatalf("request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !maps.Equal(before, treestate.Of(t, config)) {
				t.Fatal("requesting a renewal changed the node's files")
			}
			keyBefore, err := os.ReadFile(filepath.Join(req, "keys", "node1", "transport.key"))
			if err != nil {
				t.Fatal(err)
			}
			// A second run (cron, the next day) asks again with the same key.
			if r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--force"); r.code != 0 {
				t.Fatalf("second request: exit %d\n%s", r.code, r.stderr)
			}
			if again, _ := os.ReadFile(filepath.Join(req, "keys", "node1", "transport.key")); string(again) != string(keyBefore) {
				t.Error("a second request made a new key while the first was still pending")
			}
			signed := signAll(t, corp, req, keepAll, false)
			r = escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--signed", signed)
			if r.code != 0 || !strings.Contains(r.stdout, "renewed transport") || !strings.Contains(r.stdout, "renewed http") {
				t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(req, "keys", "node1", "transport.key")); !os.IsNotExist(err) {
				t.Error("the installed key is still in the CSR directory")
			}
			if r := escertAt(t, time.Now, nil, "check", "--es-config", config); r.code != 0 && r.code != 1 {
				t.Errorf("check after renewal: exit %d\n%s", r.code, r.stdout)
			}
			// needs-renewal judges the company's certificates as any other: a year left.
			if r := escertAt(t, time.Now, nil, "needs-renewal", "--es-config", config); r.code != exitNotYet {
				t.Errorf("needs-renewal on new company certificates: exit %d, want %d\n%s", r.code, exitNotYet, r.stdout)
			}
			// The next renewal asks with a new key, not the installed one.
			if r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--force"); r.code != 0 {
				t.Fatalf("next request: exit %d\n%s", r.code, r.stderr)
			}
			if next, _ := os.ReadFile(filepath.Join(req, "keys", "node1", "transport.key")); len(next) == 0 || string(next) == string(keyBefore) {
				t.Error("the next renewal did not make a new key")
			}
		})
	}
}

// Installing what the PKI returned is refused in one line, the node untouched, when it
// does not fit: another node's request, a certificate without the layer's usage.
func TestRenewThroughTheCompanyCARefusesABadAnswer(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	other := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{Name: "Other Corp"})
	tests := []struct {
		name string
		sign func(t *testing.T, req string) string
		want string
	}{
		{"a transport certificate without clientAuth", func(t *testing.T, req string) string {
			return signAll(t, corp, req, func(string) realtest.Profile { return realtest.Profile{ServerOnly: true} }, false)
		}, "lacks the extended key usage clientAuth"},
		{"certificates from a CA the node does not trust", func(t *testing.T, req string) string {
			return signAll(t, other, req, keepAll, false)
		}, "Other Corp Root CA,O=Other Corp\", which is neither among the signed files nor the trusted root (the node's transport trust)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := companyNode(t, corp, "p12")
			req := filepath.Join(t.TempDir(), "renewal")
			if r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--force"); r.code != 0 {
				t.Fatalf("request: exit %d\n%s", r.code, r.stderr)
			}
			signed := tc.sign(t, req)
			before := treestate.Of(t, config)
			r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--signed", signed)
			if msg := strings.TrimSpace(r.stderr); r.code != 3 || strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
				t.Fatalf("exit %d, want 3 in one line saying %q:\n%s", r.code, tc.want, r.stderr)
			}
			if !maps.Equal(before, treestate.Of(t, config)) {
				t.Error("a refused install changed the node's files")
			}
		})
	}
}

// An OpenSearch node that trusts the company CA, renewed through it by a profile that
// rebuilds the subject from its policy (CN only): nodes_dn names the whole DN, so the
// signed certificates are refused in one line and the node keeps its files.
func TestRenewOfAnOpenSearchNodeThroughTheCompanyCARefusesACutSubject(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	dir := t.TempDir()
	in := writeFile(t, dir, "instances.yml", "instances:\n  - name: \"CN=node1,OU=search,O=Example\"\n    filename: node1\n    dns: [node1.example.com]\n")
	out := filepath.Join(dir, "out")
	if r := escertAt(t, time.Now, nil, "bootstrap", "--target", "opensearch", "--instances", in, "--out", out, "-q"); r.code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s", r.code, r.stderr)
	}
	config := openSearchConfig(t, dir)
	if r := escertAt(t, time.Now, nil, "install", "--bundle", filepath.Join(out, "nodes", "node1"), "--es-config", config, "--owner", "-"); r.code != 0 {
		t.Fatalf("install: exit %d\n%s", r.code, r.stderr)
	}
	root, err := os.ReadFile(corp.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range []string{"transport", "http"} { // the node trusts the company CA as well
		caFile := filepath.Join(config, "certs", layer+"-ca.crt")
		old, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(caFile), filepath.Base(caFile), string(old)+string(root))
	}
	req := filepath.Join(dir, "renewal")
	if r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--force"); r.code != 0 {
		t.Fatalf("request: exit %d\n%s", r.code, r.stderr)
	}
	signed := signAll(t, corp, req, func(string) realtest.Profile { return realtest.Profile{SubjectFromPolicy: true} }, false)
	before := treestate.Of(t, config)
	r := escertAt(t, time.Now, nil, "renew", "--es-config", config, "--issuer", "pki", "--csr-dir", req, "--signed", signed)
	want := `came back with the subject "CN=node1", not the "CN=node1,OU=search,O=Example" asked for, which OpenSearch's nodes_dn or admin_dn must match exactly: ask the PKI team to sign the requested subject as it is`
	if msg := strings.TrimSpace(r.stderr); r.code != 3 || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Fatalf("exit %d, want 3 in one line saying %q:\n%s", r.code, want, r.stderr)
	}
	if !maps.Equal(before, treestate.Of(t, config)) {
		t.Error("a refused install changed the node's files")
	}
}

// --transport-root with the issuing CA makes the nodes trust, on the transport layer,
// only what that CA signs: JSSE, as Elasticsearch runs it, takes the intermediate as
// a trust anchor and completes node-to-node mutual TLS with the PEM bundle.
func TestBootstrapFromACompanyCATrustsOnlyTheIssuingCAOnTransportWhenAsked(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	csrs := requestAll(t, companyNodes)
	signed := signAll(t, corp, csrs, keepAll, false)
	out := filepath.Join(t.TempDir(), "out")
	r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed,
		"--root", corp.RootFile, "--transport-root", corp.IntermediateFile, "--out", out, "--format", "pem", "-q")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	certs := func(node string) string { return filepath.Join(out, "nodes", node, "certs") }
	data, err := os.ReadFile(filepath.Join(certs("node1"), "transport-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ca.ParseCertificates(data); err != nil || len(got) != 1 || !got[0].Equal(corp.Intermediate) {
		t.Fatalf("transport-ca.crt does not hold the issuing CA alone (%v)", err)
	}
	peer := func(node string) realtest.JSSEConfig {
		return realtest.JSSEConfig{
			Key:        realtest.Store{KeyPEM: filepath.Join(certs(node), "transport.key"), CertPEM: filepath.Join(certs(node), "transport.crt")},
			Trust:      realtest.Store{CAPEMs: []string{filepath.Join(certs(node), "transport-ca.crt")}},
			ClientAuth: true, TrustSubjectPatterns: []string{"*.node.prod"},
		}
	}
	addr := realtest.StartJSSEServer(t, peer("node1"))
	if err := realtest.JSSEHandshake(t, peer("node2"), addr, ""); err != nil {
		t.Fatalf("node2 to node1 over the issuing CA alone: %v", err)
	}
}

// asPKCS7 turns each leaf of a signed directory into a DER PKCS#7 bundle of the leaf
// and the intermediate (openssl crl2pkcs7, what certreq hands back from a Windows CA),
// leaving no other file.
func asPKCS7(t *testing.T, signed, intermediate string) {
	t.Helper()
	openssl := realtest.Require(t, "openssl")
	leaves, err := filepath.Glob(filepath.Join(signed, "*.cer"))
	if err != nil || len(leaves) == 0 {
		t.Fatalf("no leaves in %s", signed)
	}
	for _, leaf := range leaves {
		p7b := strings.TrimSuffix(leaf, ".cer") + ".p7b"
		if out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", leaf, "-certfile", intermediate, "-outform", "DER", "-out", p7b).CombinedOutput(); err != nil {
			t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
		}
		os.Remove(leaf)
	}
	os.Remove(filepath.Join(signed, "issuing-ca.pem"))
}

// Transport and HTTP requests may go to different issuing CAs, even under different
// roots: each layer chains to its own --*-root, and each trusts only its own.
func TestBootstrapFromACompanyCATakesEachLayerFromItsOwnCA(t *testing.T) {
	t.Parallel()
	nodes := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{Name: "Nodes Corp"})
	web := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{Name: "Web Corp"})
	csrs := requestAll(t, companyNodes)
	signed := t.TempDir()
	for layer, corp := range map[string]*realtest.CorporateCA{"transport": nodes, "http": web} {
		files, err := filepath.Glob(filepath.Join(csrs, layer, "*.csr"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s requests", layer)
		}
		for _, f := range files {
			copyFile(t, corp.Sign(t, f, realtest.Profile{}), filepath.Join(signed, layer+"-"+filepath.Base(f)+".pem"))
		}
		copyFile(t, corp.IntermediateFile, filepath.Join(signed, layer+"-issuing.pem"))
	}
	out := filepath.Join(t.TempDir(), "out")
	r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed,
		"--transport-root", nodes.RootFile, "--http-root", web.RootFile, "--out", out, "--format", "pem", "-q")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	for file, want := range map[string]*realtest.CorporateCA{"nodes/node1/certs/transport-ca.crt": nodes, "nodes/node1/certs/http-ca.crt": web, "clients/http-ca.crt": web} {
		data, err := os.ReadFile(filepath.Join(out, file))
		if got, err2 := ca.ParseCertificates(data); err != nil || err2 != nil || len(got) != 1 || !got[0].Equal(want.Root) {
			t.Errorf("%s does not hold the root of %s alone", file, want.Root.Subject)
		}
	}
	// Without its own root, the HTTP answer does not verify: each layer trusts only its own.
	r = escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed,
		"--root", nodes.RootFile, "--out", filepath.Join(t.TempDir(), "out2"), "--format", "pem", "-q")
	if r.code != 3 || !strings.Contains(r.stderr, "Web Corp Root CA") {
		t.Fatalf("HTTP certificates under another root passed with --root of the transport CA: exit %d\n%s", r.code, r.stderr)
	}
}

// Elasticsearch before 8.5.3 cannot restrict on DNS names: with the otherName dropped,
// nothing can keep other certificates of the CA off the transport layer.
func TestBootstrapFromACompanyCARefusesDNSRestrictionsAnOldVersionCannotRead(t *testing.T) {
	t.Parallel()
	corp := realtest.NewCorporateCA(t, realtest.CorporateCAOptions{})
	csrs := requestAll(t, companyNodes)
	signed := signAll(t, corp, csrs, func(string) realtest.Profile { return realtest.Profile{DropOtherNames: true} }, false)
	out := filepath.Join(t.TempDir(), "out")
	r := escertAt(t, time.Now, nil, "bootstrap", "--issuer", "pki", "--csr-dir", csrs, "--signed", signed, "--root", corp.RootFile, "--out", out, "--es-version", "8.4")
	if msg := strings.TrimSpace(r.stderr); r.code != 6 || strings.Contains(msg, "\n") || !strings.Contains(msg, "before 8.5.3") {
		t.Fatalf("exit %d, want 6 in one line naming the version:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused bootstrap wrote %s", out)
	}
}
