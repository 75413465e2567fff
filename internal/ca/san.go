package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"unicode/utf8"
)

// Go's x509 package cannot write otherName SANs, so escert builds the whole
// subjectAltName extension itself (RFC 5280 section 4.2.1.6) whenever it issues.
const (
	tagOtherName = 0
	tagDNSName   = 2
	tagIPAddress = 7
)

// otherName is RFC 5280's OtherName; Value is the [0] EXPLICIT wrapper, built and
// read by hand because encoding/asn1 writes a RawValue's FullBytes verbatim and would
// drop an explicit tag.
type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue
}

func marshalSAN(leaf Leaf) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, dns := range leaf.DNSNames {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDNSName, Bytes: []byte(dns)})
	}
	for _, ip := range leaf.IPs {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIPAddress, Bytes: b})
	}
	for _, cn := range leaf.OtherNames {
		// encoding/asn1 writes a UTF8String without checking it.
		if !utf8.ValidString(cn) {
			return pkix.Extension{}, fmt.Errorf("encode otherName %q: not valid UTF-8", cn)
		}
		utf8String, err := asn1.MarshalWithParams(cn, "utf8")
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("encode otherName %q: %w", cn, err)
		}
		value := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8String}
		der, err := asn1.Marshal(otherName{TypeID: OIDOtherNameCommonName, Value: value})
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("encode otherName %q: %w", cn, err)
		}
		// Re-tag the SEQUENCE as [0] IMPLICIT, constructed.
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(der, &raw); err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagOtherName, IsCompound: true, Bytes: raw.Bytes})
	}
	if len(names) == 0 {
		return pkix.Extension{}, fmt.Errorf("certificate for %q has no subject alternative name", leaf.Subject.CommonName)
	}
	value, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: value}, nil
}

// OtherNames returns the UTF8String values of a certificate's otherName SANs with
// type-id 2.5.4.3, the names Elasticsearch's transport trust restrictions match.
func OtherNames(cert *x509.Certificate) ([]string, error) {
	var out []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("malformed subjectAltName")
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != tagOtherName {
				continue
			}
			var on otherName
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil {
				return nil, fmt.Errorf("malformed otherName: %w", err)
			}
			if !on.TypeID.Equal(OIDOtherNameCommonName) {
				continue
			}
			if on.Value.Class != asn1.ClassContextSpecific || on.Value.Tag != 0 || !on.Value.IsCompound {
				return nil, fmt.Errorf("malformed otherName value: want [0] EXPLICIT")
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil {
				return nil, fmt.Errorf("malformed otherName value: %w", err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}
