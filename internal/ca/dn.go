package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Distinguished names go into certificates exactly as the operator wrote them and come
// back out in the same string: Elasticsearch's PKI realm and its role mappings compare
// DNs, so order, repetition and grouping of the RDNs must survive. pkix.Name cannot
// carry that: ToRDNSequence sorts attributes by type and folds repeated ones into a
// single multi-valued RDN, and Name.String prints DC as a hex-encoded OID.

// dnAttributes are the attribute types written by name: RFC 4514's short names, which
// openssl and Java print too, and Go's names for the others it knows. ParseDN takes
// those marked parse, the ones node and client DNs use; any other type is shown as
// OID=#hex.
var dnAttributes = []struct {
	name  string
	oid   asn1.ObjectIdentifier
	parse bool
}{
	{"CN", asn1.ObjectIdentifier{2, 5, 4, 3}, true},
	{"OU", asn1.ObjectIdentifier{2, 5, 4, 11}, true},
	{"O", asn1.ObjectIdentifier{2, 5, 4, 10}, true},
	{"L", asn1.ObjectIdentifier{2, 5, 4, 7}, true},
	{"ST", asn1.ObjectIdentifier{2, 5, 4, 8}, true},
	{"C", oidCountry, true},
	{"DC", oidDomainComponent, true},
	{"STREET", asn1.ObjectIdentifier{2, 5, 4, 9}, false},
	{"POSTALCODE", asn1.ObjectIdentifier{2, 5, 4, 17}, false},
	{"SERIALNUMBER", asn1.ObjectIdentifier{2, 5, 4, 5}, false},
	{"UID", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, false},
}

var (
	oidDomainComponent = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidCountry         = asn1.ObjectIdentifier{2, 5, 4, 6}
)

func parsedAttributeNames() string {
	var names []string
	for _, a := range dnAttributes {
		if a.parse {
			names = append(names, a.name)
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseDN encodes a distinguished name written in RFC 4514 string form
// ("CN=node1,OU=search,DC=example,DC=com") as a subject's DER. The string lists the
// most specific RDN first, so the DER sequence is its reverse; every comma-separated
// part is its own RDN and '+' joins attributes into one multi-valued RDN, as written.
// Values are PrintableString when they fit, else UTF8String (as Go and Java write
// them), and DC is an IA5String, as RFC 4519 defines it. Backslash escapes the next
// character or, followed by two hex digits, stands for that byte (RFC 4514 section
// 2.4), so a DN copied from openssl's output parses back to the same name.
func ParseDN(s string) ([]byte, error) {
	invalid := fmt.Errorf("%q is not a valid distinguished name: write it as CN=node1,O=Example", s)
	parts := splitUnescaped(s, ',')
	rdns := make(pkix.RDNSequence, len(parts))
	for i, part := range parts {
		var rdn pkix.RelativeDistinguishedNameSET
		for _, av := range splitUnescaped(part, '+') {
			attr, raw, ok := strings.Cut(av, "=")
			if !ok {
				return nil, invalid
			}
			attr = strings.ToUpper(strings.TrimSpace(attr))
			value, err := unescapeValue(raw)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", s, err)
			}
			if value == "" {
				return nil, invalid
			}
			atv, err := attributeValue(attr, value, s)
			if err != nil {
				return nil, err
			}
			for _, seen := range rdn {
				if seen.Type.Equal(atv.Type) {
					return nil, fmt.Errorf("%q names %s twice in one RDN (joined with '+'): separate them with ',' or keep one", s, attr)
				}
			}
			rdn = append(rdn, atv)
		}
		rdns[len(parts)-1-i] = rdn
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, fmt.Errorf("encode distinguished name %q: %w", s, err)
	}
	return der, nil
}

func attributeValue(attr, value, dn string) (pkix.AttributeTypeAndValue, error) {
	for _, a := range dnAttributes {
		if a.name != attr || !a.parse {
			continue
		}
		switch {
		case a.oid.Equal(oidCountry) && !isCountryCode(value):
			return pkix.AttributeTypeAndValue{}, fmt.Errorf("country %q must be a two-letter code such as US", value)
		case a.oid.Equal(oidDomainComponent):
			for i := 0; i < len(value); i++ {
				if value[i] >= utf8.RuneSelf {
					return pkix.AttributeTypeAndValue{}, fmt.Errorf("DC %q in %q must be ASCII (a domain label such as example)", value, dn)
				}
			}
			return pkix.AttributeTypeAndValue{Type: a.oid, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(value)}}, nil
		}
		// encoding/asn1 writes a Go string as PrintableString when it can, else UTF8String.
		return pkix.AttributeTypeAndValue{Type: a.oid, Value: value}, nil
	}
	return pkix.AttributeTypeAndValue{}, fmt.Errorf("attribute %q in %q is not supported: use %s", attr, dn, parsedAttributeNames())
}

func isCountryCode(s string) bool {
	return len(s) == 2 && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == ""
}

// splitUnescaped splits s at sep characters not preceded by a backslash.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescapeValue resolves RFC 4514 escapes and drops the unescaped spaces around the
// value (RFC 1779 allowed them, and certutil's parser does too).
func unescapeValue(s string) (string, error) {
	s = strings.TrimLeft(s, " ")
	b := make([]byte, 0, len(s))
	keep := 0 // length of b up to its last byte that is not an unescaped space
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
			continue
		}
		switch {
		case i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			b = append(b, v[0])
			i += 2
		case i+1 < len(s):
			b = append(b, s[i+1])
			i++
		default:
			return "", errors.New("ends with a lone backslash: escape it as \\\\")
		}
		keep = len(b)
	}
	if !utf8.Valid(b[:keep]) {
		return "", errors.New("a \\XX escape makes invalid UTF-8")
	}
	return string(b[:keep]), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// FormatDN writes a subject's or issuer's DER in RFC 4514 string form, most specific
// RDN first: the string openssl x509 -nameopt RFC2253 prints, and for a DN escert
// issued from an instance name, that name as written. The attributes of a
// multi-valued RDN, a SET that DER sorts, come backwards as openssl lists them (RFC
// 4514 leaves their order free, and DN matching ignores it). An attribute type
// without a name, or a value that is not a string, is written as OID=#hex (RFC 4514
// section 2.4).
func FormatDN(der []byte) string { return formatDN(der, false) }

// FormatDNAsJava is der in the RFC 2253 form Java's X500Principal.getName() gives,
// the string OpenSearch's security plugin compares plugins.security.nodes_dn and
// authcz.admin_dn with: as FormatDN, but a multi-valued RDN's attributes in DER
// order, and by name only the types Java names (RFC 2253's, with DC and UID); the
// others as OID=#hex.
func FormatDNAsJava(der []byte) string { return formatDN(der, true) }

// javaNames are the attribute types X500Principal's RFC 2253 form writes by name.
var javaNames = map[string]bool{"CN": true, "C": true, "L": true, "ST": true, "O": true, "OU": true, "STREET": true, "DC": true, "UID": true}

func formatDN(der []byte, java bool) string {
	var rdns []rawRDNSET
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) > 0 {
		return "#" + hex.EncodeToString(der)
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for k := range rdns[i] {
			j := len(rdns[i]) - 1 - k
			if java {
				j = k
			}
			atv := rdns[i][j]
			if k > 0 {
				b.WriteByte('+')
			}
			name := atv.Type.String()
			for _, a := range dnAttributes {
				if a.oid.Equal(atv.Type) && (!java || javaNames[a.name]) {
					name = a.name
				}
			}
			value, ok := stringValue(atv.Value)
			if !ok || name == atv.Type.String() {
				b.WriteString(atv.Type.String() + "=#" + hex.EncodeToString(atv.Value.FullBytes))
				continue
			}
			b.WriteString(name + "=" + escapeValue(value))
		}
	}
	return b.String()
}

// rawRDNSET is one RDN with its values undecoded: encoding/asn1 reads a slice type
// whose name ends in SET as a SET OF.
type rawRDNSET []struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// stringValue decodes the directory string types certificates use.
func stringValue(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, asn1.TagT61String:
		return string(v.Bytes), utf8.Valid(v.Bytes)
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// escapeValue escapes what RFC 4514 section 2.4 requires, and control characters as
// \XX, as openssl's RFC2253 output does.
func escapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`"+,;<>\`, c) >= 0,
			i == 0 && (c == ' ' || c == '#'),
			i == len(v)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
