package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
)

// utf8BOM is what Windows editors put before a file's text. openssl reads past it;
// encoding/pem, which looks for "-----BEGIN" at a line start, would skip the first
// block, the only one of a CA or key file.
var utf8BOM = []byte("\xef\xbb\xbf")

// DecodePEM is pem.Decode for files people hand escert: it reads past a UTF-8 BOM.
func DecodePEM(data []byte) (*pem.Block, []byte) {
	return pem.Decode(bytes.TrimPrefix(data, utf8BOM))
}

// ParseCertificates reads every certificate in PEM data (a chain or bundle, in file
// order), a single DER certificate, or a PKCS#7 certificate bundle (.p7b, .p7c: PEM
// "PKCS7" or DER), which Windows CAs hand out; a bundle's certificates come in its
// order, which PKCS#7 does not fix.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		cert, err := x509.ParseCertificate(data)
		if err == nil {
			return []*x509.Certificate{cert}, nil
		}
		if certs, perr := parsePKCS7(data); perr == nil {
			return certs, nil
		}
		return nil, fmt.Errorf("neither PEM, a DER certificate nor PKCS#7: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = DecodePEM(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, cert)
		case "PKCS7":
			bundle, err := parsePKCS7(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS7 block: %w", err)
			}
			certs = append(certs, bundle...)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// EncodeCertificates writes certificates as concatenated PEM blocks, in order.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// ParseCSR reads a PEM (or DER) certificate request and checks its signature.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	if block, _ := DecodePEM(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("a PEM %q block, not a CERTIFICATE REQUEST", block.Type)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("not a certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the request's signature does not verify: %w", err)
	}
	return csr, nil
}

// oidSignedData is PKCS#7's signedData content type (RFC 5652 section 5.1).
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// parsePKCS7 reads the certificates of a PKCS#7 SignedData (a "certs-only" bundle, or
// any SignedData: its signatures are not checked, only its certificates taken).
func parsePKCS7(der []byte) ([]*x509.Certificate, error) {
	var info struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("not a PKCS#7 structure")
	}
	if !info.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("PKCS#7 content %v, not signedData", info.ContentType)
	}
	var signed struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if rest, err := asn1.Unmarshal(info.Content.Bytes, &signed); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed PKCS#7 signedData")
	}
	if len(signed.Certificates.Bytes) == 0 {
		return nil, errors.New("the PKCS#7 bundle holds no certificate")
	}
	// [0] IMPLICIT SET OF Certificate: its contents are the certificates' DER, back to
	// back, which x509.ParseCertificates reads as a sequence.
	certs, err := x509.ParseCertificates(signed.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7 bundle: %w", err)
	}
	return certs, nil
}
