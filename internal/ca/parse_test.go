package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestParseCertificates(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca")
	leaf := sign(t, a, nodeLeaf(), testKey(t, "p256").Public())
	rsaCA := testAuthority(t, "rsa-ca").Cert
	chain := EncodeCertificates(leaf, a.Cert)
	keyPEM, err := MarshalKeyPEM(testRand(5), testKey(t, "p256"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want []*x509.Certificate
	}{
		{name: "PEM chain in file order", data: chain, want: []*x509.Certificate{leaf, a.Cert}},
		{name: "DER certificate", data: leaf.Raw, want: []*x509.Certificate{leaf}},
		{name: "bundle of CAs", data: EncodeCertificates(a.Cert, rsaCA), want: []*x509.Certificate{a.Cert, rsaCA}},
		{name: "key and other blocks are skipped", data: bytes.Join([][]byte{keyPEM, chain, fixture(t, "ec-p384.pub")}, nil), want: []*x509.Certificate{leaf, a.Cert}},
		{name: "text between blocks", data: append([]byte("subject=CN=node1\n"), chain...), want: []*x509.Certificate{leaf, a.Cert}},
		{name: "CRLF line endings", data: bytes.ReplaceAll(chain, []byte("\n"), []byte("\r\n")), want: []*x509.Certificate{leaf, a.Cert}},
	}
	for _, tt := range tests {
		got, err := ParseCertificates(tt.data)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d certificates, want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for i := range got {
			if !got[i].Equal(tt.want[i]) {
				t.Errorf("%s: certificate %d is %s, want %s", tt.name, i, got[i].Subject, tt.want[i].Subject)
			}
		}
	}
}

func TestParseCertificatesRefusesBadInput(t *testing.T) {
	t.Parallel()
	cert := testAuthority(t, "p256-ca").Cert
	good := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw[:len(cert.Raw)-10]})
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "empty", data: nil, wantErr: "neither PEM, a DER certificate nor PKCS#7: "},
		{name: "garbage", data: []byte("garbage"), wantErr: "neither PEM, a DER certificate nor PKCS#7: "},
		{name: "truncated DER", data: cert.Raw[:100], wantErr: "neither PEM, a DER certificate nor PKCS#7: "},
		{name: "PEM without certificates", data: fixture(t, "ec-p384.pub"), wantErr: "no PEM certificate found"},
		{name: "PEM marker without a block", data: []byte("-----BEGIN CERTIFICATE-----\nnot base64"), wantErr: "no PEM certificate found"},
		{name: "corrupt first certificate", data: corrupt, wantErr: "certificate 1: "},
		{name: "corrupt second certificate", data: append(good, corrupt...), wantErr: "certificate 2: "},
	}
	for _, tt := range tests {
		certs, err := ParseCertificates(tt.data)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("%s: ParseCertificates = %d certificates, %v; want error %q", tt.name, len(certs), err, tt.wantErr)
		}
	}
}

func TestEncodeCertificates(t *testing.T) {
	t.Parallel()
	a := testAuthority(t, "p256-ca").Cert
	b := testAuthority(t, "rsa-ca").Cert
	if got := EncodeCertificates(); len(got) != 0 {
		t.Errorf("EncodeCertificates() = %q, want nothing", got)
	}
	data := EncodeCertificates(a, b)
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 || !bytes.Equal(block.Bytes, a.Raw) {
		t.Fatalf("first block %+v", block)
	}
	block, rest = pem.Decode(rest)
	if block == nil || !bytes.Equal(block.Bytes, b.Raw) || len(rest) != 0 {
		t.Fatalf("second block %+v, rest %q", block, rest)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN CERTIFICATE-----\n")) || !bytes.HasSuffix(data, []byte("-----END CERTIFICATE-----\n")) {
		t.Errorf("EncodeCertificates output is not plain PEM:\n%s", data)
	}
}
