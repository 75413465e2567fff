package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
)

// now is the fixed clock of every test: nothing here depends on the wall clock.
var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// caNotAfter is the CA's end of validity in the tests: ten years.
var caNotAfter = now.AddDate(10, 0, 0)

// policy is the FIPS policy: every test key is inside it, so the tests pass in
// either mode.
var policy = fips.Policy{FIPS: true}

// testRand returns a deterministic stream for serial numbers and salts. Since Go 1.26
// key generation and signatures ignore it and always use a secure source.
func testRand(seed byte) io.Reader {
	var s [32]byte
	copy(s[:], "escert ca test rand seed 0000000")
	s[31] = seed
	return mrand.NewChaCha8(s)
}

// fixture reads a file under testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixturePassword is the password of the encrypted fixtures (testdata/password.txt).
func fixturePassword(t testing.TB) []byte { return fixture(t, "password.txt") }

// Test keys. RSA keys come from fixtures rather than being generated in every test;
// ECDSA keys are cheap to generate but shared all the same.
var (
	keysOnce sync.Once
	keys     map[string]crypto.Signer
	keysErr  error
)

func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	keysOnce.Do(func() {
		keys = map[string]crypto.Signer{}
		for name, file := range map[string]string{"rsa-ca": "rsa2048-ca.key", "rsa": "rsa2048-leaf-pkcs1.key"} {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				keysErr = err
				return
			}
			if keys[name], err = ParseKeyPEM(data, nil); err != nil {
				keysErr = err
				return
			}
		}
		for name, curve := range map[string]elliptic.Curve{"p256-ca": elliptic.P256(), "p256": elliptic.P256(), "p384-ca": elliptic.P384(), "p384": elliptic.P384()} {
			k, err := ecdsa.GenerateKey(curve, nil)
			if err != nil {
				keysErr = err
				return
			}
			keys[name] = k
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	k, ok := keys[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

// Authorities are cached per key: creating one is cheap, but the tests compare
// certificates issued by the same CA.
var (
	authMu      sync.Mutex
	authorities = map[string]*Authority{}
)

func testAuthority(t testing.TB, keyName string) *Authority {
	t.Helper()
	authMu.Lock()
	defer authMu.Unlock()
	if a, ok := authorities[keyName]; ok {
		return a
	}
	key := testKey(t, keyName)
	cert, err := NewRoot(testRand(1), policy, key, pkix.Name{CommonName: "escert test CA " + keyName}, now, caNotAfter)
	if err != nil {
		t.Fatalf("NewRoot(%s): %v", keyName, err)
	}
	a := &Authority{Cert: cert, Key: key}
	authorities[keyName] = a
	return a
}

// nodeLeaf is a transport-style leaf: both usages, every kind of SAN.
func nodeLeaf() Leaf {
	return Leaf{
		Subject:    pkix.Name{CommonName: "node1", Organization: []string{"Example"}},
		DNSNames:   []string{"node1.example.com", "localhost"},
		IPs:        []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
		OtherNames: []string{"node1.node.escert"},
		ServerAuth: true,
		ClientAuth: true,
		NotBefore:  now,
		NotAfter:   now.AddDate(2, 0, 0),
	}
}

func sign(t testing.TB, a *Authority, leaf Leaf, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	cert, err := a.Sign(testRand(2), policy, leaf, pub)
	if err != nil {
		t.Fatalf("Sign(%s): %v", leaf.Subject.CommonName, err)
	}
	return cert
}

// wantSKI computes RFC 7093 method 1 independently of SubjectKeyID.
func wantSKI(t testing.TB, cert *x509.Certificate) []byte {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20]
}

func extension(cert *x509.Certificate, oid asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
)

func TestNewRootIsAStrictCA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key    string
		sigAlg x509.SignatureAlgorithm
	}{
		{"p256-ca", x509.ECDSAWithSHA256},
		{"p384-ca", x509.ECDSAWithSHA384},
		{"rsa-ca", x509.SHA256WithRSA},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			ca := testAuthority(t, tt.key).Cert
			if !ca.IsCA || !ca.BasicConstraintsValid {
				t.Errorf("IsCA %v BasicConstraintsValid %v, want both", ca.IsCA, ca.BasicConstraintsValid)
			}
			if ext, ok := extension(ca, oidBasicConstraints); !ok || !ext.Critical {
				t.Errorf("basicConstraints present %v critical %v, want a critical extension", ok, ext.Critical)
			}
			if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("KeyUsage = %b, want keyCertSign|cRLSign only", ca.KeyUsage)
			}
			if ext, ok := extension(ca, oidKeyUsage); !ok || !ext.Critical {
				t.Errorf("keyUsage present %v critical %v, want a critical extension", ok, ext.Critical)
			}
			if _, ok := extension(ca, oidExtKeyUsage); ok {
				t.Error("the CA carries an extended key usage")
			}
			if !bytes.Equal(ca.SubjectKeyId, wantSKI(t, ca)) {
				t.Errorf("SubjectKeyId = %x, want %x (SHA-256 of the subjectPublicKey, 160 bits)", ca.SubjectKeyId, wantSKI(t, ca))
			}
			if !bytes.Equal(ca.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("AuthorityKeyId = %x, want the CA's own SKI %x", ca.AuthorityKeyId, ca.SubjectKeyId)
			}
			if want := now.Add(-5 * time.Minute); !ca.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v (backdated 5 minutes)", ca.NotBefore, want)
			}
			if !ca.NotAfter.Equal(caNotAfter) {
				t.Errorf("NotAfter = %v, want %v", ca.NotAfter, caNotAfter)
			}
			if ca.SignatureAlgorithm != tt.sigAlg {
				t.Errorf("SignatureAlgorithm = %v, want %v", ca.SignatureAlgorithm, tt.sigAlg)
			}
			if ca.Subject.CommonName != "escert test CA "+tt.key || !bytes.Equal(ca.RawSubject, ca.RawIssuer) {
				t.Errorf("subject %q issuer %q, want a self-issued CA", ca.Subject, ca.Issuer)
			}
			if err := ca.CheckSignatureFrom(ca); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			checkSerial(t, ca.SerialNumber)
		})
	}
}

func TestNewRootRefusesKeysOutsideThePolicy(t *testing.T) {
	t.Parallel()
	p521, err := ecdsa.GenerateKey(elliptic.P521(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewRoot(testRand(1), policy, p521, pkix.Name{CommonName: "x"}, now, caNotAfter)
	if err == nil || err.Error() != `curve "P-521" is not supported: use --curve P-256 or --curve P-384` {
		t.Errorf("NewRoot with a P-521 key = %v", err)
	}
}

func checkSerial(t *testing.T, serial *big.Int) {
	t.Helper()
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	if serial.Sign() <= 0 || serial.Cmp(limit) >= 0 {
		t.Errorf("serial %x is not in [1, 2^159)", serial)
	}
}

// leafCase is one CA key × leaf key × usage combination.
type leafCase struct {
	name           string
	ca, leaf       string
	server, client bool
}

var leafCases = []leafCase{
	{"P-256 CA, P-256 transport leaf", "p256-ca", "p256", true, true},
	{"P-256 CA, P-256 server leaf", "p256-ca", "p256", true, false},
	{"P-256 CA, P-256 client leaf", "p256-ca", "p256", false, true},
	{"P-384 CA, P-384 transport leaf", "p384-ca", "p384", true, true},
	{"P-384 CA, P-256 server leaf", "p384-ca", "p256", true, false},
	{"RSA CA, RSA transport leaf", "rsa-ca", "rsa", true, true},
	{"RSA CA, RSA client leaf", "rsa-ca", "rsa", false, true},
	{"RSA CA, P-256 server leaf", "rsa-ca", "p256", true, false},
	{"P-256 CA, RSA server leaf", "p256-ca", "rsa", true, false},
}

func (c leafCase) request() Leaf {
	l := nodeLeaf()
	l.ServerAuth, l.ClientAuth = c.server, c.client
	return l
}

func TestSignIssuesVerifiableLeaves(t *testing.T) {
	t.Parallel()
	for _, tt := range leafCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := testAuthority(t, tt.ca)
			key := testKey(t, tt.leaf)
			leaf := tt.request()
			cert := sign(t, a, leaf, key.Public())

			roots := x509.NewCertPool()
			roots.AddCert(a.Cert)
			for _, usage := range []struct {
				eku  x509.ExtKeyUsage
				want bool
			}{{x509.ExtKeyUsageServerAuth, tt.server}, {x509.ExtKeyUsageClientAuth, tt.client}} {
				opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage.eku}}
				if usage.eku == x509.ExtKeyUsageServerAuth {
					opts.DNSName = "node1.example.com"
				}
				_, err := cert.Verify(opts)
				if (err == nil) != usage.want {
					t.Errorf("Verify for EKU %v: %v, want success %v", usage.eku, err, usage.want)
				}
			}
			// The IP SANs verify as host names too.
			if tt.server {
				for _, host := range []string{"192.0.2.1", "2001:db8::1", "localhost"} {
					if err := cert.VerifyHostname(host); err != nil {
						t.Errorf("VerifyHostname(%s): %v", host, err)
					}
				}
			}
			// Validity is checked against the fixed clock, including the backdating.
			for _, at := range []time.Time{now.Add(-4 * time.Minute), leaf.NotAfter} {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("Verify at %v: %v", at, err)
				}
			}
			for _, at := range []time.Time{now.Add(-6 * time.Minute), leaf.NotAfter.Add(time.Second)} {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
					t.Errorf("Verify at %v succeeded outside the validity", at)
				}
			}
		})
	}
}

func TestSignedLeafContents(t *testing.T) {
	t.Parallel()
	for _, tt := range leafCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := testAuthority(t, tt.ca)
			key := testKey(t, tt.leaf)
			leaf := tt.request()
			cert := sign(t, a, leaf, key.Public())

			if cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("IsCA %v BasicConstraintsValid %v, want a non-CA with basicConstraints", cert.IsCA, cert.BasicConstraintsValid)
			}
			_, isRSA := key.Public().(*rsa.PublicKey)
			wantKU := x509.KeyUsageDigitalSignature
			if isRSA {
				wantKU |= x509.KeyUsageKeyEncipherment
			}
			if cert.KeyUsage != wantKU {
				t.Errorf("KeyUsage = %b, want %b (keyEncipherment only on RSA leaves)", cert.KeyUsage, wantKU)
			}
			var wantEKU []x509.ExtKeyUsage
			if tt.server {
				wantEKU = append(wantEKU, x509.ExtKeyUsageServerAuth)
			}
			if tt.client {
				wantEKU = append(wantEKU, x509.ExtKeyUsageClientAuth)
			}
			if !slices.Equal(cert.ExtKeyUsage, wantEKU) {
				t.Errorf("ExtKeyUsage = %v, want %v", cert.ExtKeyUsage, wantEKU)
			}
			if !bytes.Equal(cert.SubjectKeyId, wantSKI(t, cert)) {
				t.Errorf("SubjectKeyId = %x, want %x", cert.SubjectKeyId, wantSKI(t, cert))
			}
			if len(cert.AuthorityKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, a.Cert.SubjectKeyId) {
				t.Errorf("AuthorityKeyId = %x, want the CA's SKI %x", cert.AuthorityKeyId, a.Cert.SubjectKeyId)
			}
			for _, oid := range []asn1.ObjectIdentifier{oidSubjectKeyID, oidAuthorityKeyID} {
				if _, ok := extension(cert, oid); !ok {
					t.Errorf("extension %v missing", oid)
				}
			}
			if want := now.Add(-5 * time.Minute); !cert.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", cert.NotBefore, want)
			}
			if !cert.NotAfter.Equal(leaf.NotAfter) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, leaf.NotAfter)
			}
			if cert.SignatureAlgorithm != a.Cert.SignatureAlgorithm {
				t.Errorf("SignatureAlgorithm = %v, want the CA's %v", cert.SignatureAlgorithm, a.Cert.SignatureAlgorithm)
			}
			if !reflect.DeepEqual(cert.Subject.Organization, []string{"Example"}) || cert.Subject.CommonName != "node1" {
				t.Errorf("Subject = %v", cert.Subject)
			}
			if !bytes.Equal(cert.RawIssuer, a.Cert.RawSubject) {
				t.Errorf("issuer %v, want %v", cert.Issuer, a.Cert.Subject)
			}
			if !slices.Equal(cert.DNSNames, leaf.DNSNames) {
				t.Errorf("DNSNames = %q, want %q", cert.DNSNames, leaf.DNSNames)
			}
			if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(leaf.IPs[0]) || !cert.IPAddresses[1].Equal(leaf.IPs[1]) {
				t.Errorf("IPAddresses = %v, want %v", cert.IPAddresses, leaf.IPs)
			}
			got, err := OtherNames(cert)
			if err != nil || !slices.Equal(got, leaf.OtherNames) {
				t.Errorf("OtherNames = %q, %v; want %q", got, err, leaf.OtherNames)
			}
			if err := KeyMatches(cert, key); err != nil {
				t.Errorf("KeyMatches: %v", err)
			}
			checkSerial(t, cert.SerialNumber)
		})
	}
}

func TestSerialNumbersComeFromTheInjectedRandomness(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	pub := testKey(t, "p256").Public()
	serial := func(r io.Reader) *big.Int {
		t.Helper()
		cert, err := a.Sign(r, policy, nodeLeaf(), pub)
		if err != nil {
			t.Fatal(err)
		}
		checkSerial(t, cert.SerialNumber)
		return cert.SerialNumber
	}
	if s1, s2 := serial(testRand(7)), serial(testRand(7)); s1.Cmp(s2) != 0 {
		t.Errorf("same randomness gave serials %x and %x", s1, s2)
	}
	seen := map[string]bool{}
	for seed := byte(10); seed < 30; seed++ {
		s := serial(testRand(seed))
		if seen[s.String()] {
			t.Errorf("serial %x repeated", s)
		}
		seen[s.String()] = true
		// At least 64 random bits (CA/B Forum): a 159-bit draw is below 2^95 with
		// probability 2^-64.
		if s.BitLen() < 96 {
			t.Errorf("serial %x has only %d bits", s, s.BitLen())
		}
	}
	// The extremes of the draw stay inside [1, 2^159).
	if s := serial(bytes.NewReader(make([]byte, 64))); s.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("all-zero randomness gave serial %x, want 1", s)
	}
	// 0x7f ff..ff is the largest 20-byte value rand.Int can draw below 2^159.
	largest := append([]byte{0x7f}, bytes.Repeat([]byte{0xff}, 19)...)
	serial(io.MultiReader(bytes.NewReader(largest), testRand(3)))
	// A failing source is an error, not a zero serial.
	if _, err := a.Sign(bytes.NewReader(nil), policy, nodeLeaf(), pub); err == nil || !strings.Contains(err.Error(), "generate serial number") {
		t.Errorf("Sign with exhausted randomness = %v", err)
	}
}

func TestSignRefusesALeafThatOutlivesItsCA(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	pub := testKey(t, "p256").Public()
	leaf := nodeLeaf()
	leaf.NotAfter = caNotAfter.AddDate(0, 0, 1)
	_, err := a.Sign(testRand(2), policy, leaf, pub)
	want := `certificate would expire 2035-03-02, after its CA "escert test CA p256-ca" (2035-03-01): issue it for fewer days (--days), or rotate the CA first (escert ca rotate)`
	if err == nil || err.Error() != want || fault.KindOf(err) != fault.Input {
		t.Errorf("Sign = %v (%v), want bad input %q", err, fault.KindOf(err), want)
	}
	// Dates are printed in UTC whatever the caller's zone.
	leaf.NotAfter = caNotAfter.Add(time.Hour).In(time.FixedZone("UTC-11", -11*3600))
	if _, err := a.Sign(testRand(2), policy, leaf, pub); err == nil || !strings.Contains(err.Error(), "expire 2035-03-01, after") {
		t.Errorf("Sign one hour past the CA = %v, want a refusal naming 2035-03-01", err)
	}
	// Ending together with the CA is fine.
	leaf.NotAfter = caNotAfter
	if _, err := a.Sign(testRand(2), policy, leaf, pub); err != nil {
		t.Errorf("Sign ending with the CA: %v", err)
	}
}

func TestSignRefusesBadRequests(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	pub := testKey(t, "p256").Public()
	p521, err := ecdsa.GenerateKey(elliptic.P521(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		a       *Authority
		leaf    func(*Leaf)
		pub     crypto.PublicKey
		wantErr string
	}{
		{
			name: "neither server nor client usage", a: a, pub: pub,
			leaf:    func(l *Leaf) { l.ServerAuth, l.ClientAuth = false, false },
			wantErr: "certificate has neither server nor client usage",
		},
		{
			name: "no subject alternative name", a: a, pub: pub,
			leaf:    func(l *Leaf) { l.DNSNames, l.IPs, l.OtherNames = nil, nil, nil },
			wantErr: `certificate for "node1" has no subject alternative name`,
		},
		{
			name: "leaf key outside the policy", a: a, pub: p521.Public(),
			wantErr: `curve "P-521" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name: "CA key outside the policy", a: &Authority{Cert: a.Cert, Key: p521}, pub: pub,
			wantErr: `CA key: curve "P-521" is not supported: use --curve P-256 or --curve P-384`,
		},
		{
			name: "unsupported leaf key type", a: a, pub: "not a key",
			wantErr: "key type string is not supported: escert uses ECDSA P-256/P-384 or RSA 2048-4096 keys",
		},
		{
			name: "otherName that is not UTF-8", a: a, pub: pub,
			leaf:    func(l *Leaf) { l.OtherNames = []string{"\xff"} },
			wantErr: `encode otherName "\xff"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			leaf := nodeLeaf()
			if tt.leaf != nil {
				tt.leaf(&leaf)
			}
			cert, err := tt.a.Sign(testRand(2), policy, leaf, tt.pub)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Sign = %v, %v; want error %q", cert, err, tt.wantErr)
			}
		})
	}
}

func TestSubjectKeyID(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"p256", "p384", "rsa"} {
		pub := testKey(t, name).Public()
		got, err := SubjectKeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if want := wantSKI(t, &x509.Certificate{RawSubjectPublicKeyInfo: der}); !bytes.Equal(got, want) || len(got) != 20 {
			t.Errorf("%s: SubjectKeyID = %x, want %x", name, got, want)
		}
	}
	// Known answer for the P-384 fixture, computed with openssl and python:
	// sha256(der[23:]) of `openssl pkey -pubin -in ec-p384.pub -outform DER`.
	block, _ := pem.Decode(fixture(t, "ec-p384.pub"))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := SubjectKeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2220b106679e5e7a881c1a4f61878b1b614ea93d"; hex.EncodeToString(got) != want {
		t.Errorf("SubjectKeyID(P-384 fixture) = %x, want %s", got, want)
	}
	if _, err := SubjectKeyID("not a key"); err == nil {
		t.Error("SubjectKeyID accepted a string")
	}
}

func TestFingerprintIsTheSHA256OfTheDER(t *testing.T) {
	t.Parallel()
	cert := testAuthority(t, "p256-ca").Cert
	sum := sha256.Sum256(cert.Raw)
	got := Fingerprint(cert)
	if got != hex.EncodeToString(sum[:]) || len(got) != 64 || strings.ToLower(got) != got {
		t.Errorf("Fingerprint = %q, want lowercase hex of %x", got, sum)
	}
}

func TestKeyMatches(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	tests := []struct {
		name  string
		cert  *x509.Certificate
		key   crypto.Signer
		match bool
	}{
		{"CA and its key", a.Cert, a.Key, true},
		{"RSA CA and its key", testAuthority(t, "rsa-ca").Cert, testKey(t, "rsa-ca"), true},
		{"same curve, other key", a.Cert, testKey(t, "p256"), false},
		{"other curve", a.Cert, testKey(t, "p384"), false},
		{"RSA key for an ECDSA certificate", a.Cert, testKey(t, "rsa"), false},
		{"other RSA key", testAuthority(t, "rsa-ca").Cert, testKey(t, "rsa"), false},
	}
	for _, tt := range tests {
		err := KeyMatches(tt.cert, tt.key)
		if (err == nil) != tt.match {
			t.Errorf("%s: KeyMatches = %v, want match %v", tt.name, err, tt.match)
		}
		if err != nil && err.Error() != "private key does not match the certificate" {
			t.Errorf("%s: error %q", tt.name, err)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    fips.KeySpec
		check   func(crypto.Signer) bool
		wantErr string
	}{
		{spec: fips.KeySpec{Type: fips.ECDSA, Curve: "P-256"}, check: func(k crypto.Signer) bool {
			e, ok := k.(*ecdsa.PrivateKey)
			return ok && e.Curve == elliptic.P256()
		}},
		{spec: fips.KeySpec{Type: fips.ECDSA, Curve: "P-384"}, check: func(k crypto.Signer) bool {
			e, ok := k.(*ecdsa.PrivateKey)
			return ok && e.Curve == elliptic.P384()
		}},
		{spec: fips.KeySpec{Type: fips.RSA, Bits: 2048}, check: func(k crypto.Signer) bool {
			r, ok := k.(*rsa.PrivateKey)
			return ok && r.N.BitLen() == 2048
		}},
		{spec: fips.KeySpec{Type: fips.RSA, Bits: 1024}, wantErr: "RSA-1024 is not allowed in FIPS mode: use --key-size 2048, 3072 or 4096, or --key-type ecdsa"},
		{spec: fips.KeySpec{Type: fips.ECDSA, Curve: "P-521"}, wantErr: `curve "P-521" is not supported: use --curve P-256 or --curve P-384`},
		{spec: fips.KeySpec{Type: "ed25519"}, wantErr: `key type "ed25519" is not supported: use --key-type ecdsa or --key-type rsa`},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			t.Parallel()
			k, err := GenerateKey(testRand(4), policy, tt.spec)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("GenerateKey = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(k) {
				t.Errorf("GenerateKey(%v) = %T", tt.spec, k)
			}
		})
	}
}

// TestMutualTLSHandshake runs a real handshake between two transport certificates of
// the same CA, as two nodes do, each side verifying the other against the CA only.
func TestMutualTLSHandshake(t *testing.T) {
	t.Parallel()
	for _, caKey := range []string{"p256-ca", "rsa-ca"} {
		t.Run(caKey, func(t *testing.T) {
			t.Parallel()
			a := testAuthority(t, caKey)
			pool := x509.NewCertPool()
			pool.AddCert(a.Cert)
			pair := func(name, keyName string) tls.Certificate {
				key := testKey(t, keyName)
				leaf := nodeLeaf()
				leaf.Subject.CommonName = name
				leaf.DNSNames = []string{name + ".example.com"}
				cert := sign(t, a, leaf, key.Public())
				return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
			}
			clock := func() time.Time { return now }
			server := &tls.Config{
				Certificates: []tls.Certificate{pair("node1", "p256")},
				ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool, Time: clock,
			}
			client := &tls.Config{
				Certificates: []tls.Certificate{pair("node2", "rsa")},
				RootCAs:      pool, ServerName: "node1.example.com", Time: clock,
			}
			c1, c2 := net.Pipe()
			errs := make(chan error, 1)
			var peer *x509.Certificate
			go func() {
				s := tls.Server(c1, server)
				err := s.Handshake()
				if err == nil {
					peer = s.ConnectionState().PeerCertificates[0]
				}
				s.Close()
				errs <- err
			}()
			cl := tls.Client(c2, client)
			cerr := cl.Handshake()
			cl.Close()
			if serr := <-errs; cerr != nil || serr != nil {
				t.Fatalf("handshake: client %v, server %v", cerr, serr)
			}
			if peer.Subject.CommonName != "node2" {
				t.Errorf("server saw client %q", peer.Subject.CommonName)
			}
		})
	}
}

func TestSignRefusesALeafThatOutlivesTheRootAboveAnIntermediate(t *testing.T) {
	t.Parallel()
	// The root above ends before the CA that signs: the leaf is held to the root too,
	// since every verifier checks the whole chain.
	root, err := NewRoot(testRand(1), policy, testKey(t, "rsa-ca"), pkix.Name{CommonName: "short root"}, now, now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a := testAuthority(t, "p256-ca")
	intermediate := &Authority{Cert: a.Cert, Key: a.Key, Issuers: []*x509.Certificate{root}}
	leaf := nodeLeaf()
	leaf.NotAfter = now.AddDate(1, 0, 1)
	_, err = intermediate.Sign(testRand(2), policy, leaf, testKey(t, "p256").Public())
	want := `certificate would expire 2026-03-02, after its CA "short root" (2026-03-01): issue it for fewer days (--days), or rotate the CA first (escert ca rotate)`
	if err == nil || err.Error() != want {
		t.Errorf("Sign = %v, want %q", err, want)
	}
}
