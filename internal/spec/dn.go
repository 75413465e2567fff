package spec

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

var oidDomainComponent = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}

// ParseName turns an instance name into a subject: a plain name becomes CN=<name>; a
// name containing '=' is read as a distinguished name in RFC 4514 string form
// ("CN=node1,OU=search,O=Example"), as elasticsearch-certutil reads it.
func ParseName(name string) (pkix.Name, error) {
	if !strings.Contains(name, "=") {
		return pkix.Name{CommonName: name}, nil
	}
	var subject pkix.Name
	for _, rdn := range splitUnescaped(name, ',') {
		attr, value, ok := strings.Cut(rdn, "=")
		attr = strings.ToUpper(strings.TrimSpace(attr))
		value = unescape(strings.TrimSpace(value))
		if !ok || value == "" {
			return pkix.Name{}, fmt.Errorf("%q is not a valid distinguished name: write it as CN=node1,O=Example", name)
		}
		switch attr {
		case "CN":
			subject.CommonName = value
		case "OU":
			subject.OrganizationalUnit = append(subject.OrganizationalUnit, value)
		case "O":
			subject.Organization = append(subject.Organization, value)
		case "L":
			subject.Locality = append(subject.Locality, value)
		case "ST":
			subject.Province = append(subject.Province, value)
		case "C":
			if len(value) != 2 {
				return pkix.Name{}, fmt.Errorf("country %q must be a two-letter code such as US", value)
			}
			subject.Country = append(subject.Country, value)
		case "DC":
			subject.ExtraNames = append(subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidDomainComponent, Value: value})
		default:
			return pkix.Name{}, fmt.Errorf("attribute %q in %q is not supported: use CN, OU, O, L, ST, C or DC", attr, name)
		}
	}
	if subject.CommonName == "" {
		return pkix.Name{}, fmt.Errorf("distinguished name %q has no CN: add CN=<node name>", name)
	}
	return subject, nil
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

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
