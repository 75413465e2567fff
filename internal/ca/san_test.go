package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestMarshalSANEncoding pins the DER of the subjectAltName extension, written out by
// hand from RFC 5280: otherName is [0] IMPLICIT SEQUENCE { type-id, [0] EXPLICIT value }.
func TestMarshalSANEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		leaf Leaf
		want string // hex DER of the extension value
	}{
		{
			name: "one otherName",
			leaf: Leaf{OtherNames: []string{"a"}},
			// SEQUENCE { [0] { OID 2.5.4.3, [0] { UTF8String "a" } } }
			want: "300c" + "a00a" + "0603550403" + "a003" + "0c0161",
		},
		{
			name: "node name",
			leaf: Leaf{OtherNames: []string{"node1.node.escert"}},
			want: "301c" + "a01a" + "0603550403" + "a013" + "0c11" + hex.EncodeToString([]byte("node1.node.escert")),
		},
		{
			name: "DNS, IPv4, IPv6 and otherName in that order",
			leaf: Leaf{
				DNSNames:   []string{"n1"},
				IPs:        []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
				OtherNames: []string{"é"},
			},
			want: "3029" + "82026e31" + "8704c0000201" + "871020010db8000000000000000000000001" +
				"a00b" + "0603550403" + "a004" + "0c02c3a9",
		},
		{
			name: "IPv4-mapped IPv6 is written as 4 bytes",
			leaf: Leaf{IPs: []net.IP{net.ParseIP("::ffff:192.0.2.1")}},
			want: "3006" + "8704c0000201",
		},
	}
	for _, tt := range tests {
		ext, err := marshalSAN(tt.leaf)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !ext.Id.Equal(oidSubjectAltName) || ext.Critical {
			t.Errorf("%s: extension %v critical %v, want non-critical 2.5.29.17", tt.name, ext.Id, ext.Critical)
		}
		if got := hex.EncodeToString(ext.Value); got != tt.want {
			t.Errorf("%s: DER\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestMarshalSANRefusesAnEmptyName(t *testing.T) {
	t.Parallel()
	_, err := marshalSAN(Leaf{Subject: pkix.Name{CommonName: "x"}})
	if err == nil || err.Error() != `certificate for "x" has no subject alternative name` {
		t.Errorf("marshalSAN without names = %v", err)
	}
}

// certWithSAN is a certificate as ParseCertificate would return it, holding only a
// raw subjectAltName: OtherNames reads nothing else.
func certWithSAN(der []byte) *x509.Certificate {
	return &x509.Certificate{Extensions: []pkix.Extension{{Id: oidSubjectAltName, Value: der}}}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestOtherNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cert    *x509.Certificate
		want    []string
		wantErr string
	}{
		{name: "no extensions", cert: &x509.Certificate{}},
		{name: "SAN without otherName", cert: certWithSAN(mustHex("3004 8202 6e31"))},
		{name: "one otherName", cert: certWithSAN(mustHex("300c a00a 0603550403 a003 0c0161")), want: []string{"a"}},
		{
			name: "otherName with another type-id is skipped",
			// UPN 1.3.6.1.4.1.311.20.2.3, then commonName "b".
			cert: certWithSAN(mustHex("3022" + "a014 060a2b0601040182371402 03 a006 0c04 75406578" + "a00a 0603550403 a003 0c0162")),
			want: []string{"b"},
		},
		{
			name:    "value not wrapped in [0] EXPLICIT",
			cert:    certWithSAN(mustHex("300a a008 0603550403 0c0161")),
			wantErr: "malformed otherName value: want [0] EXPLICIT",
		},
		{
			name:    "value that is not a UTF8String",
			cert:    certWithSAN(mustHex("300c a00a 0603550403 a003 020101")),
			wantErr: "malformed otherName value: ",
		},
		{
			name:    "invalid UTF-8",
			cert:    certWithSAN(mustHex("300c a00a 0603550403 a003 0c01ff")),
			wantErr: "malformed otherName value: ",
		},
		{name: "truncated SAN", cert: certWithSAN(mustHex("300c a00a 0603")), wantErr: "malformed subjectAltName"},
		{name: "trailing bytes after the SAN", cert: certWithSAN(mustHex("3004 8202 6e31 00")), wantErr: "malformed subjectAltName"},
		{name: "otherName without value", cert: certWithSAN(mustHex("3007 a005 0603550403")), wantErr: "malformed otherName: "},
	}
	for _, tt := range tests {
		got, err := OtherNames(tt.cert)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("%s: OtherNames = %q, %v; want error %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: OtherNames = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestOtherNamesRoundTripThroughASignedCertificate(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	leaf := nodeLeaf()
	leaf.OtherNames = []string{"node1.node.escert", "node1.cluster.local", "nœud-1", strings.Repeat("x", 300)}
	cert := sign(t, a, leaf, testKey(t, "p256").Public())
	got, err := OtherNames(cert)
	if err != nil || !slices.Equal(got, leaf.OtherNames) {
		t.Errorf("OtherNames = %q, %v; want %q", got, err, leaf.OtherNames)
	}
	// Go's own parser still reads the other kinds of name from the same extension.
	if !slices.Equal(cert.DNSNames, leaf.DNSNames) || len(cert.IPAddresses) != len(leaf.IPs) {
		t.Errorf("DNSNames %q IPAddresses %v, want %q %v", cert.DNSNames, cert.IPAddresses, leaf.DNSNames, leaf.IPs)
	}
	// A certificate made only of otherNames is still a valid certificate.
	leaf.DNSNames, leaf.IPs, leaf.OtherNames = nil, nil, []string{"only"}
	cert = sign(t, a, leaf, testKey(t, "p256").Public())
	if got, err := OtherNames(cert); err != nil || !slices.Equal(got, []string{"only"}) {
		t.Errorf("OtherNames = %q, %v", got, err)
	}
	// The CA has no SAN at all.
	if got, err := OtherNames(a.Cert); err != nil || got != nil {
		t.Errorf("OtherNames(CA) = %q, %v; want none", got, err)
	}
	if _, ok := extension(cert, asn1.ObjectIdentifier{2, 5, 29, 17}); !ok {
		t.Error("no subjectAltName extension")
	}
}
