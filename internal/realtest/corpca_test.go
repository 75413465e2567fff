package realtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeRequest is what escert asks a corporate PKI for: a node certificate with DNS and
// IP names and the node name as otherName 2.5.4.3, plus the extensions a careless or
// hostile request might carry (clientAuth, keyCertSign, CA:TRUE), which no profile may
// honour.
type nodeRequest struct {
	subject    pkix.Name
	dns        []string
	ips        []net.IP
	otherNames []string
}

var defaultNodeRequest = nodeRequest{
	subject:    pkix.Name{CommonName: "node1", OrganizationalUnit: []string{"search"}, Organization: []string{"Zürich Ops"}},
	dns:        []string{"node1.example.test", "*.search.example.test", "localhost"},
	ips:        []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback, net.ParseIP("fd00::10")},
	otherNames: []string{"node1.node.escert"},
}

// writeNodeCSR writes r as a PEM CSR signed by a fresh P-256 key and returns its path
// and the CSR as Go parses it.
func writeNodeCSR(t *testing.T, r nodeRequest) (string, *x509.CertificateRequest) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	san, err := sanExtension(r.dns, r.ips, r.otherNames)
	if err != nil {
		t.Fatal(err)
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}, {1, 3, 6, 1, 5, 5, 7, 3, 2}})
	if err != nil {
		t.Fatal(err)
	}
	keyUsage, err := asn1.Marshal(asn1.BitString{Bytes: []byte{0x04}, BitLength: 6}) // keyCertSign
	if err != nil {
		t.Fatal(err)
	}
	basic, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: r.subject,
		ExtraExtensions: []pkix.Extension{
			san,
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: eku},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: keyUsage},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: basic},
		},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node.csr")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, csr
}

// sanOtherName is one otherName of a subjectAltName, read strictly: the type-id and
// the universal tag of the value inside the [0] EXPLICIT wrapper.
type sanOtherName struct {
	typeID asn1.ObjectIdentifier
	tag    int
	value  string
}

// otherNamesOf returns every otherName in cert's subjectAltName.
func otherNamesOf(t *testing.T, cert *x509.Certificate) []sanOtherName {
	t.Helper()
	var out []sanOtherName
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			t.Fatalf("malformed subjectAltName: %v", err)
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue
			}
			var on struct {
				TypeID asn1.ObjectIdentifier
				Value  asn1.RawValue // [0] EXPLICIT, unwrapped below
			}
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil {
				t.Fatalf("malformed otherName: %v", err)
			}
			if on.Value.Class != asn1.ClassContextSpecific || on.Value.Tag != 0 || !on.Value.IsCompound {
				t.Fatalf("otherName value is not [0] EXPLICIT: %+v", on.Value)
			}
			var inner asn1.RawValue
			if rest, err := asn1.Unmarshal(on.Value.Bytes, &inner); err != nil || len(rest) > 0 || inner.Class != asn1.ClassUniversal {
				t.Fatalf("malformed otherName value: %v", err)
			}
			out = append(out, sanOtherName{typeID: on.TypeID, tag: inner.Tag, value: string(inner.Bytes)})
		}
	}
	return out
}

func sanExtensionOf(cert *x509.Certificate) []byte {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			return ext.Value
		}
	}
	return nil
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// TestCorporateCAKeepProfileKeepsTheNodeOtherName proves copy_extensions = copy really
// carries escert's otherName through `openssl ca`: the leaf's subjectAltName is the
// requested one byte for byte, so the node name is there as 2.5.4.3 UTF8String.
func TestCorporateCAKeepProfileKeepsTheNodeOtherName(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	csrFile, csr := writeNodeCSR(t, defaultNodeRequest)
	for _, tc := range []struct {
		name    string
		profile Profile
	}{
		{"server and client", Profile{}},
		{"server only", Profile{ServerOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leaf := certificateFile(t, c.Sign(t, csrFile, tc.profile))
			want := []sanOtherName{{typeID: oidCommonName, tag: asn1.TagUTF8String, value: "node1.node.escert"}}
			got := otherNamesOf(t, leaf)
			if len(got) != 1 || !got[0].typeID.Equal(want[0].typeID) || got[0].tag != want[0].tag || got[0].value != want[0].value {
				t.Errorf("otherNames = %+v, want %+v", got, want)
			}
			var requested []byte
			for _, ext := range csr.Extensions {
				if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
					requested = ext.Value
				}
			}
			if !bytes.Equal(sanExtensionOf(leaf), requested) {
				t.Errorf("leaf subjectAltName differs from the requested one")
			}
		})
	}
}

// TestCorporateCADropProfileDropsOnlyOtherNames proves the drop profile takes the
// node name away and nothing else: every DNS name (wildcard included) and every IP
// (v4 and v6) survive, in order.
func TestCorporateCADropProfileDropsOnlyOtherNames(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	for _, tc := range []struct {
		name    string
		request nodeRequest
	}{
		{"DNS, IP and otherName", defaultNodeRequest},
		{"two otherNames", nodeRequest{subject: pkix.Name{CommonName: "node2"}, dns: []string{"node2.example.test"}, ips: []net.IP{net.IPv4(10, 0, 0, 2).To4()}, otherNames: []string{"node2.node.escert", "alias.node.escert"}}},
		{"DNS only", nodeRequest{subject: pkix.Name{CommonName: "node3"}, dns: []string{"node3.example.test"}, otherNames: []string{"node3.node.escert"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			csrFile, csr := writeNodeCSR(t, tc.request)
			leaf := certificateFile(t, c.Sign(t, csrFile, Profile{DropOtherNames: true}))
			if got := otherNamesOf(t, leaf); len(got) != 0 {
				t.Errorf("otherNames = %+v, want none", got)
			}
			if !slices.Equal(leaf.DNSNames, csr.DNSNames) {
				t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, csr.DNSNames)
			}
			if got, want := ipStrings(leaf.IPAddresses), ipStrings(csr.IPAddresses); !slices.Equal(got, want) {
				t.Errorf("IPAddresses = %q, want %q", got, want)
			}
		})
	}
}

// TestCorporateCAServerOnlyProfileHasNoClientAuth proves the profile, not the request
// (which asks for serverAuth and clientAuth), decides the extended key usage, and that
// openssl itself refuses a server-only leaf as a TLS client.
func TestCorporateCAServerOnlyProfileHasNoClientAuth(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	csrFile, _ := writeNodeCSR(t, defaultNodeRequest)
	for _, tc := range []struct {
		name    string
		profile Profile
	}{
		{"keep other names", Profile{ServerOnly: true}},
		{"drop other names", Profile{ServerOnly: true, DropOtherNames: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leafFile := c.Sign(t, csrFile, tc.profile)
			leaf := certificateFile(t, leafFile)
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || len(leaf.UnknownExtKeyUsage) > 0 {
				t.Errorf("ExtKeyUsage = %v (unknown %v), want serverAuth only", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
			}
			if err := OpenSSLVerify(t, c.RootFile, leafFile, "sslserver", c.IntermediateFile); err != nil {
				t.Errorf("as a server: %v", err)
			}
			err := OpenSSLVerify(t, c.RootFile, leafFile, "sslclient", c.IntermediateFile)
			if err == nil || !strings.Contains(err.Error(), "unsuitable certificate purpose") {
				t.Errorf("as a client: err = %v, want unsuitable certificate purpose", err)
			}
		})
	}
}

// TestCorporateCALeafIsWhatThePKITeamIssues checks the template every profile shares:
// the request's subject exactly (UTF-8 and field order kept), keyUsage critical
// digitalSignature+keyEncipherment and basicConstraints critical CA:FALSE although the
// request asked for a CA, validity from now for Days, issued by the intermediate and
// recorded in its database, and a file holding the leaf alone.
func TestCorporateCALeafIsWhatThePKITeamIssues(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	csrFile, csr := writeNodeCSR(t, defaultNodeRequest)
	for _, tc := range []struct {
		name    string
		profile Profile
		days    int
		eku     []x509.ExtKeyUsage
	}{
		{"keep, default days", Profile{}, 365, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"drop, 30 days", Profile{DropOtherNames: true, Days: 30}, 30, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"server only, 2 days", Profile{ServerOnly: true, Days: 2}, 2, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now().Add(-time.Second).Truncate(time.Second)
			leafFile := c.Sign(t, csrFile, tc.profile)
			data, err := os.ReadFile(leafFile)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(data)
			if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 || !bytes.HasPrefix(data, []byte("-----BEGIN")) {
				t.Fatalf("%s is not exactly one PEM certificate:\n%s", leafFile, data)
			}
			leaf := certificateFile(t, leafFile)
			if !bytes.Equal(leaf.RawSubject, csr.RawSubject) {
				t.Errorf("subject = %v, want the request's %v", leaf.Subject, csr.Subject)
			}
			if got, err := OpenSSLSubject(t, leafFile); err != nil || got != "CN=node1,OU=search,O=Zürich Ops" {
				t.Errorf("openssl subject = %q, %v", got, err)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
				t.Errorf("KeyUsage = %b, want digitalSignature|keyEncipherment", leaf.KeyUsage)
			}
			if !slices.Equal(leaf.ExtKeyUsage, tc.eku) {
				t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, tc.eku)
			}
			if !leaf.BasicConstraintsValid || leaf.IsCA {
				t.Errorf("basicConstraints valid=%v CA=%v, want CA:FALSE", leaf.BasicConstraintsValid, leaf.IsCA)
			}
			for _, ext := range leaf.Extensions {
				switch {
				case ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}), ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}):
					if !ext.Critical {
						t.Errorf("extension %v is not critical", ext.Id)
					}
				}
			}
			if leaf.NotBefore.Before(before) || leaf.NotBefore.After(time.Now()) {
				t.Errorf("NotBefore = %v, want now", leaf.NotBefore)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got != time.Duration(tc.days)*24*time.Hour {
				t.Errorf("validity = %v, want %d days", got, tc.days)
			}
			if err := leaf.CheckSignatureFrom(c.Intermediate); err != nil {
				t.Errorf("not signed by the intermediate: %v", err)
			}
			if !bytes.Equal(leaf.AuthorityKeyId, c.Intermediate.SubjectKeyId) || len(leaf.SubjectKeyId) == 0 {
				t.Errorf("key identifiers: AKI %x, SKI %x; intermediate SKI %x", leaf.AuthorityKeyId, leaf.SubjectKeyId, c.Intermediate.SubjectKeyId)
			}
			index, err := os.ReadFile(filepath.Join(c.Dir, "issuing", "index.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("\t%X\t", leaf.SerialNumber); !strings.Contains(string(index), want) {
				t.Errorf("issuing index.txt does not record serial %X:\n%s", leaf.SerialNumber, index)
			}
		})
	}
}

// TestCorporateCAChainVerifiesWithOpenSSL proves every profile's leaf verifies as
// `openssl verify -x509_strict -CAfile root -untrusted intermediate leaf` does it, and
// with Go's verifier given ChainFile's intermediate.
func TestCorporateCAChainVerifiesWithOpenSSL(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	csrFile, _ := writeNodeCSR(t, defaultNodeRequest)
	for _, tc := range []struct {
		name     string
		profile  Profile
		purposes []string
	}{
		{"keep", Profile{}, []string{"sslserver", "sslclient"}},
		{"drop", Profile{DropOtherNames: true}, []string{"sslserver", "sslclient"}},
		{"server only", Profile{ServerOnly: true}, []string{"sslserver"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leafFile := c.Sign(t, csrFile, tc.profile)
			for _, purpose := range tc.purposes {
				if err := OpenSSLVerify(t, c.RootFile, leafFile, purpose, c.IntermediateFile); err != nil {
					t.Errorf("%s: %v", purpose, err)
				}
			}
			if err := OpenSSLVerify(t, c.RootFile, leafFile, "sslserver"); err == nil {
				t.Errorf("verified without the intermediate")
			}
			roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(c.Root)
			chain, err := os.ReadFile(c.ChainFile)
			if err != nil {
				t.Fatal(err)
			}
			intermediates.AppendCertsFromPEM(chain)
			if _, err := certificateFile(t, leafFile).Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: "node1.example.test"}); err != nil {
				t.Errorf("Go: %v", err)
			}
		})
	}
}

// TestCorporateCAHierarchy checks the two CAs: a self-signed root and an intermediate
// it signed, both with critical CA:TRUE and critical keyCertSign+cRLSign, the
// intermediate with pathlen:0, both named after the company. The Name holds the
// characters -subj and openssl.cnf give meaning to, and the subtest name puts $ and #
// into the temporary directory the configs name.
func TestCorporateCAHierarchy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, company, wantOrg string
	}{
		{"default name", "", "Example Corp"},
		{"awkward name in a $HOME #dir", `Zürich Bank / Ops+PKI = $HOME \ #1`, `Zürich Bank / Ops+PKI = $HOME \ #1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewCorporateCA(t, CorporateCAOptions{Name: tc.company})
			if !strings.ContainsAny(c.Dir, "$#") && tc.company != "" {
				t.Fatalf("Dir %q should hold $ or # for this test to mean anything", c.Dir)
			}
			for _, cert := range []struct {
				role    string
				cert    *x509.Certificate
				cn      string
				pathLen int
			}{
				{"root", c.Root, tc.wantOrg + " Root CA", -1},
				{"intermediate", c.Intermediate, tc.wantOrg + " Issuing CA 1", 0},
			} {
				x := cert.cert
				if x.Subject.CommonName != cert.cn || !slices.Equal(x.Subject.Organization, []string{tc.wantOrg}) {
					t.Errorf("%s subject = %v, want O=%s CN=%s", cert.role, x.Subject, tc.wantOrg, cert.cn)
				}
				if !x.BasicConstraintsValid || !x.IsCA || x.MaxPathLen != cert.pathLen || (cert.pathLen == 0) != x.MaxPathLenZero {
					t.Errorf("%s basicConstraints CA=%v pathlen=%d zero=%v, want CA:TRUE pathlen %d", cert.role, x.IsCA, x.MaxPathLen, x.MaxPathLenZero, cert.pathLen)
				}
				if x.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
					t.Errorf("%s KeyUsage = %b, want keyCertSign|cRLSign", cert.role, x.KeyUsage)
				}
				for _, ext := range x.Extensions {
					if (ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) || ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19})) && !ext.Critical {
						t.Errorf("%s extension %v is not critical", cert.role, ext.Id)
					}
				}
				if _, ok := x.PublicKey.(*ecdsa.PublicKey); !ok {
					t.Errorf("%s key is %T, want ECDSA", cert.role, x.PublicKey)
				}
			}
			if err := c.Root.CheckSignatureFrom(c.Root); err != nil {
				t.Errorf("root is not self-signed: %v", err)
			}
			if err := c.Intermediate.CheckSignatureFrom(c.Root); err != nil {
				t.Errorf("intermediate is not signed by the root: %v", err)
			}
			if err := OpenSSLVerify(t, c.RootFile, c.IntermediateFile, "any"); err != nil {
				t.Errorf("openssl verify intermediate: %v", err)
			}
			// Both CAs went through openssl ca: the root's database records the root and the
			// intermediate; the issuing CA has signed nothing yet.
			for ca, want := range map[string]int{"root": 2, "issuing": 0} {
				index, err := os.ReadFile(filepath.Join(c.Dir, ca, "index.txt"))
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(index), "\n"); n != want {
					t.Errorf("%s index.txt has %d entries, want %d:\n%s", ca, n, want, index)
				}
			}
		})
	}
}

// TestCorporateCAExpiredIntermediate proves the expired-intermediate PKI hands out a
// leaf that is itself valid now, which Go and openssl both reject because of the
// intermediate's expiry, naming it.
func TestCorporateCAExpiredIntermediate(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{IntermediateExpired: true})
	now := time.Now()
	if !c.Intermediate.NotAfter.Before(now) || !c.Intermediate.NotBefore.Before(now) {
		t.Fatalf("intermediate valid %v to %v, want both in the past", c.Intermediate.NotBefore, c.Intermediate.NotAfter)
	}
	if c.Root.NotBefore.After(now) || c.Root.NotAfter.Before(now) {
		t.Errorf("root valid %v to %v, want now", c.Root.NotBefore, c.Root.NotAfter)
	}
	csrFile, _ := writeNodeCSR(t, defaultNodeRequest)
	for _, tc := range []struct {
		name    string
		profile Profile
	}{
		{"keep", Profile{}},
		{"drop", Profile{DropOtherNames: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leafFile := c.Sign(t, csrFile, tc.profile)
			leaf := certificateFile(t, leafFile)
			if leaf.NotBefore.After(time.Now()) || leaf.NotAfter.Before(time.Now().AddDate(0, 0, 364)) {
				t.Errorf("leaf valid %v to %v, want from now for a year", leaf.NotBefore, leaf.NotAfter)
			}
			if err := leaf.CheckSignatureFrom(c.Intermediate); err != nil {
				t.Errorf("leaf not signed by the intermediate: %v", err)
			}

			roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(c.Root)
			intermediates.AddCert(c.Intermediate)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates})
			// Go's message names only the date; the error's Cert says whose it is.
			var invalid x509.CertificateInvalidError
			if !errors.As(err, &invalid) || invalid.Reason != x509.Expired || invalid.Cert == nil || !invalid.Cert.Equal(c.Intermediate) {
				t.Errorf("Go: err = %v (%T), want CertificateInvalidError Expired for the intermediate", err, err)
			}

			err = OpenSSLVerify(t, c.RootFile, leafFile, "sslserver", c.IntermediateFile)
			if err == nil || !strings.Contains(err.Error(), "certificate has expired") || !strings.Contains(err.Error(), "error 10 at 1 depth") {
				t.Errorf("openssl: err = %v, want error 10 (certificate has expired) at depth 1", err)
			}
		})
	}
}

// TestCorporateCASignFromParallelSubtests signs from many parallel subtests at once:
// the per-CA lock keeps openssl ca's database whole, every serial distinct.
func TestCorporateCASignFromParallelSubtests(t *testing.T) {
	t.Parallel()
	c := NewCorporateCA(t, CorporateCAOptions{})
	csrFile, _ := writeNodeCSR(t, defaultNodeRequest)
	const n = 8
	var mu sync.Mutex
	serials := map[string]bool{}
	t.Run("sign", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				leaf := certificateFile(t, c.Sign(t, csrFile, Profile{DropOtherNames: i%2 == 0, ServerOnly: i%3 == 0}))
				mu.Lock()
				defer mu.Unlock()
				serials[leaf.SerialNumber.String()] = true
			})
		}
	})
	if len(serials) != n {
		t.Errorf("%d distinct serials, want %d", len(serials), n)
	}
	index, err := os.ReadFile(filepath.Join(c.Dir, "issuing", "index.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(index), "\nV\t") + 1; !strings.HasPrefix(string(index), "V\t") || got != n {
		t.Errorf("issuing index.txt has %d valid entries, want %d:\n%s", got, n, index)
	}
}
