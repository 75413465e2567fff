package realtest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// CorporateCA is a company's two-level PKI as its PKI team runs it with `openssl ca`:
// an offline root CA and one issuing intermediate CA under it, each with its own
// openssl.cnf, index.txt database, serial file and newcerts directory under Dir. Both
// keys are EC P-256, made by `openssl genpkey` and never encrypted (test harness).
//
// Everything is signed by the real `openssl ca`, the root included (`openssl ca
// -selfsign`), so a test meets the certificates a corporate PKI hands out, not the ones
// a Go test would have liked to get. Sign is safe for parallel subtests: the CA's
// `openssl ca` calls run one at a time, as its text database allows only one writer.
type CorporateCA struct {
	// Dir is the PKI's working directory: root/ and issuing/, each an `openssl ca`
	// directory (openssl.cnf, index.txt, serial, newcerts/, ca.key, ca.pem).
	Dir string
	// RootFile is the root certificate, PEM: what the company's trust store holds.
	RootFile string
	// IntermediateFile is the issuing intermediate certificate, PEM.
	IntermediateFile string
	// ChainFile is the CA bundle the PKI team publishes beside every leaf: the
	// intermediate, then the root, PEM.
	ChainFile string
	// Root and Intermediate are RootFile and IntermediateFile, parsed.
	Root, Intermediate *x509.Certificate

	openssl string
	issuing string // the issuing CA's directory
	mu      sync.Mutex
}

// CorporateCAOptions configures NewCorporateCA. The zero value is "Example Corp" with a
// valid intermediate.
type CorporateCAOptions struct {
	// Name is the company, the O of both CA subjects and the start of their CNs
	// ("<Name> Root CA", "<Name> Issuing CA 1"); "" is "Example Corp".
	Name string
	// IntermediateExpired makes the intermediate valid from 2020-01-01 to 2021-01-01
	// only, while the leaves it signs are valid from now on: the PKI that forgot to
	// renew its issuing CA. openssl ca signs with an expired CA certificate without a
	// word (it checks only that key and certificate match), so the leaves are what such
	// a PKI really hands out.
	IntermediateExpired bool
}

// Profile is how the PKI signs a request: the certificate template a PKI team picks.
// Whatever the profile, a leaf gets keyUsage critical digitalSignature, keyEncipherment,
// basicConstraints critical CA:FALSE, subject and authority key identifiers, and the
// request's subject as it was sent; the request's own keyUsage, basicConstraints and
// extendedKeyUsage never win.
type Profile struct {
	// DropOtherNames copies only the DNS and IP subject alternative names of the
	// request, as many corporate templates do, and drops the rest: otherName (where
	// escert puts the node name, OID 2.5.4.3 UTF8String, which Elasticsearch's
	// transport trust restrictions match), email and URI names, and every other
	// requested extension. Otherwise the profile uses copy_extensions = copy: every
	// requested SAN is kept byte for byte, as are requested extensions the profile does
	// not set itself.
	DropOtherNames bool
	// ServerOnly sets extendedKeyUsage serverAuth only; otherwise serverAuth, clientAuth.
	ServerOnly bool
	// Days is the leaf's validity from now; 0 is 365.
	Days int
	// SubjectFromPolicy signs without -preserveDN, so openssl rebuilds the subject from
	// the CA's policy, which names only commonName: every other attribute of the
	// request is dropped, as CA profiles that take the subject from their policy do.
	SubjectFromPolicy bool
}

// CA sections of the issuing CA's openssl.cnf, one per SAN policy; both share its
// database. openssl ca has no command-line switch for copy_extensions, so Sign picks
// the section with -name.
const (
	sectionKeepSANs = "issuing_keep_sans"
	sectionDropSANs = "issuing_drop_sans"
)

// The intermediate's validity when CorporateCAOptions.IntermediateExpired is set.
const (
	expiredIntermediateStart = "20200101000000Z"
	expiredIntermediateEnd   = "20210101000000Z"
)

// NewCorporateCA builds the PKI in a fresh t.TempDir: the root (self-signed, valid
// from 2019-01-01 for ten years from now, basicConstraints critical CA:TRUE, keyUsage
// critical keyCertSign, cRLSign) and the issuing intermediate signed by it (valid five
// years from now unless opts.IntermediateExpired, basicConstraints critical CA:TRUE,
// pathlen:0, the same keyUsage). It fails the test when openssl does, with openssl's
// stderr.
func NewCorporateCA(t testing.TB, opts CorporateCAOptions) *CorporateCA {
	t.Helper()
	name := opts.Name
	if name == "" {
		name = "Example Corp"
	}
	c := &CorporateCA{openssl: Require(t, "openssl"), Dir: absPath(t, t.TempDir())}
	root := filepath.Join(c.Dir, "root")
	c.issuing = filepath.Join(c.Dir, "issuing")
	for _, dir := range []string{root, c.issuing} {
		initCADir(t, dir)
	}
	writeCAFile(t, filepath.Join(root, "openssl.cnf"), rootConfig(root))
	writeCAFile(t, filepath.Join(c.issuing, "openssl.cnf"), issuingConfig(c.issuing))
	rootCnf := filepath.Join(root, "openssl.cnf")

	// The root: a request signed with its own key by `openssl ca -selfsign`, so the
	// root's database records it as a PKI team's does.
	c.genKey(t, filepath.Join(root, "ca.key"))
	c.newRequest(t, rootCnf, filepath.Join(root, "ca.key"), filepath.Join(root, "ca.csr"), name, name+" Root CA")
	c.RootFile = filepath.Join(root, "ca.pem")
	c.run(t, "ca", "-batch", "-config", rootCnf, "-name", "root_ca", "-selfsign",
		"-keyfile", filepath.Join(root, "ca.key"), "-extensions", "v3_root", "-preserveDN", "-notext",
		"-startdate", "20190101000000Z", "-enddate", opensslTime(time.Now().AddDate(10, 0, 0)),
		"-in", filepath.Join(root, "ca.csr"), "-out", c.RootFile)

	// The intermediate, signed by the root. -days counts from now even with -startdate,
	// so the expired one gets both dates.
	dates := []string{"-days", "1825"}
	if opts.IntermediateExpired {
		dates = []string{"-startdate", expiredIntermediateStart, "-enddate", expiredIntermediateEnd}
	}
	c.genKey(t, filepath.Join(c.issuing, "ca.key"))
	c.newRequest(t, rootCnf, filepath.Join(c.issuing, "ca.key"), filepath.Join(c.issuing, "ca.csr"), name, name+" Issuing CA 1")
	c.IntermediateFile = filepath.Join(c.issuing, "ca.pem")
	args := []string{"ca", "-batch", "-config", rootCnf, "-name", "root_ca", "-extensions", "v3_issuing",
		"-preserveDN", "-notext", "-in", filepath.Join(c.issuing, "ca.csr"), "-out", c.IntermediateFile}
	c.run(t, append(args, dates...)...)

	c.Root = certificateFile(t, c.RootFile)
	c.Intermediate = certificateFile(t, c.IntermediateFile)
	c.ChainFile = filepath.Join(c.Dir, "chain.pem")
	chain := append(certificatePEM(c.Intermediate), certificatePEM(c.Root)...)
	writeCAFile(t, c.ChainFile, string(chain))
	return c
}

// Sign signs the PEM certificate request in csrFile with the issuing intermediate
// through `openssl ca -batch -preserveDN` (without it for p.SubjectFromPolicy) under
// profile p, and returns the path of the signed certificate in a fresh t.TempDir:
// PEM, the leaf only, as a PKI team returns it
// (the chain is ChainFile). The leaf is valid from now for p.Days. It fails the test
// when the request cannot be read or openssl refuses it, with openssl's stderr.
func (c *CorporateCA) Sign(t testing.TB, csrFile string, p Profile) string {
	t.Helper()
	der := pemBlockFile(t, csrFile, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("realtest: CorporateCA.Sign: parse %s: %v", csrFile, err)
	}
	days := p.Days
	if days == 0 {
		days = 365
	}
	section := sectionKeepSANs
	if p.DropOtherNames {
		section = sectionDropSANs
	}
	dir := absPath(t, t.TempDir())
	extFile := filepath.Join(dir, "leaf.ext")
	writeCAFile(t, extFile, leafExtensions(t, csr, p))
	leaf := filepath.Join(dir, "leaf.pem")

	args := []string{"ca", "-batch", "-config", filepath.Join(c.issuing, "openssl.cnf"), "-name", section,
		"-extfile", extFile, "-extensions", "leaf", "-preserveDN", "-notext",
		"-days", fmt.Sprint(days), "-in", absPath(t, csrFile), "-out", leaf}
	if p.SubjectFromPolicy {
		args = slices.DeleteFunc(args, func(a string) bool { return a == "-preserveDN" })
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run(t, args...)
	return leaf
}

// leafExtensions is the -extfile for one request: the profile's fixed extensions and,
// for DropOtherNames, the request's DNS and IP names as Go parsed them. The drop
// profile does not rely on any copy_extensions behaviour of openssl: its section
// copies nothing and the names are written here.
func leafExtensions(t testing.TB, csr *x509.CertificateRequest, p Profile) string {
	t.Helper()
	eku := "serverAuth, clientAuth"
	if p.ServerOnly {
		eku = "serverAuth"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = %s
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`, eku)
	if !p.DropOtherNames || len(csr.DNSNames)+len(csr.IPAddresses) == 0 {
		return b.String()
	}
	b.WriteString("subjectAltName = @leaf_sans\n\n[ leaf_sans ]\n")
	for i, dns := range csr.DNSNames {
		fmt.Fprintf(&b, "DNS.%d = %s\n", i+1, cnfValue(t, dns))
	}
	for i, ip := range csr.IPAddresses {
		fmt.Fprintf(&b, "IP.%d = %s\n", i+1, ip)
	}
	return b.String()
}

// rootConfig is the root CA's openssl.cnf. It also serves `openssl req` for both CA
// requests (the subject comes from -subj).
func rootConfig(dir string) string {
	return "[ ca ]\ndefault_ca = root_ca\n\n" + caSection("root_ca", dir, "none") + `
[ policy_any ]
commonName = optional

[ req ]
distinguished_name = req_dn
string_mask = utf8only

[ req_dn ]

[ v3_root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_issuing ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`
}

// issuingConfig is the issuing CA's openssl.cnf: two CA sections over one database,
// one keeping every requested extension the leaf profile does not set (copy_extensions
// = copy, OpenSSL's "copy what is not already there"), one copying none. The leaf
// extensions come from Sign's -extfile.
func issuingConfig(dir string) string {
	return "[ ca ]\ndefault_ca = " + sectionKeepSANs + "\n\n" +
		caSection(sectionKeepSANs, dir, "copy") + caSection(sectionDropSANs, dir, "none") + `
[ policy_any ]
commonName = optional
`
}

// caSection is an `openssl ca` section over the database in dir. Every subject field
// is optional in policy_any and the CA is always run with -preserveDN, so a subject
// goes into the certificate exactly as requested; unique_subject = no lets a node
// renew under the subject it had.
func caSection(name, dir, copyExtensions string) string {
	return fmt.Sprintf(`[ %[1]s ]
dir = %[2]s
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = %[3]s
default_days = 365

`, name, cnfEscape(dir), copyExtensions)
}

// initCADir makes an empty `openssl ca` directory: newcerts/, an empty index.txt and a
// serial file holding a random positive 128-bit serial (openssl ca counts up from it).
func initCADir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "newcerts"), 0o700); err != nil {
		t.Fatalf("realtest: %v", err)
	}
	s := make([]byte, 16)
	rand.Read(s)
	s[0] = s[0]&0x7f | 0x10 // positive, and all 32 hex digits significant
	writeCAFile(t, filepath.Join(dir, "index.txt"), "")
	writeCAFile(t, filepath.Join(dir, "serial"), fmt.Sprintf("%X\n", s))
}

// genKey makes an unencrypted EC P-256 key with `openssl genpkey`.
func (c *CorporateCA) genKey(t testing.TB, keyFile string) {
	t.Helper()
	c.run(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile)
}

// newRequest writes a CA's request with subject O=org, CN=cn (UTF-8 as given).
func (c *CorporateCA) newRequest(t testing.TB, cnf, keyFile, csrFile, org, cn string) {
	t.Helper()
	subj := "/O=" + subjEscape(org) + "/CN=" + subjEscape(cn)
	c.run(t, "req", "-new", "-utf8", "-config", cnf, "-key", keyFile, "-subj", subj, "-out", csrFile)
}

// run runs openssl with args and fails the test, with openssl's stderr, unless it
// exits 0.
func (c *CorporateCA) run(t testing.TB, args ...string) {
	t.Helper()
	res, err := run(c.openssl, args, nil)
	if err != nil {
		t.Fatalf("realtest: openssl %s: %v", args[0], err)
	}
	if res.code != 0 {
		t.Fatalf("realtest: openssl %s failed (exit %d): %s\ncommand: openssl %s", args[0], res.code, res.message(), strings.Join(args, " "))
	}
}

// opensslTime is t in the GeneralizedTime form openssl ca's -startdate and -enddate take.
func opensslTime(t time.Time) string {
	return t.UTC().Format("20060102150405Z")
}

// cnfEscape escapes s for a value in an openssl config file: a backslash before every
// character that is not a letter or digit, so $ (variable expansion), # (comments),
// quotes and backslashes stand for themselves. Letters stay bare because \n, \r, \t
// and \b are escapes. Paths reach the config this way: a temporary directory takes its
// name from the test's, which may hold $ or #.
func cnfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r >= 0x80) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cnfValue is cnfEscape for a name from a request, which fails the test when the name
// holds a control character no config line can carry.
func cnfValue(t testing.TB, s string) string {
	t.Helper()
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("realtest: CorporateCA.Sign: name %q holds a control character, which an openssl config cannot carry", s)
	}
	return cnfEscape(s)
}

// subjEscape escapes a value for openssl's -subj, where / and + separate fields.
func subjEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `/`, `\/`, `+`, `\+`, `=`, `\=`).Replace(s)
}

// writeCAFile writes a file of the PKI, which holds no secret a test cares about.
func writeCAFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatalf("realtest: %v", err)
	}
}

// pemBlockFile returns the DER of the first PEM block in file, which must have one of types.
func pemBlockFile(t testing.TB, file string, types ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("realtest: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("realtest: %s holds no PEM block", file)
	}
	for _, typ := range types {
		if block.Type == typ {
			return block.Bytes
		}
	}
	t.Fatalf("realtest: %s holds a PEM %q, want %s", file, block.Type, strings.Join(types, " or "))
	return nil
}

// certificateFile parses the first certificate of a PEM file.
func certificateFile(t testing.TB, file string) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(pemBlockFile(t, file, "CERTIFICATE"))
	if err != nil {
		t.Fatalf("realtest: parse %s: %v", file, err)
	}
	return cert
}

// certificatePEM is cert as a PEM block.
func certificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
