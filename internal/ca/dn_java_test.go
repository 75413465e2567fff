package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// TestFormatDNAsJavaOrdersAMultiValuedRDNAsJavaDoes: OpenSearch compares nodes_dn and
// admin_dn with X500Principal's RFC 2253 string, which lists a multi-valued RDN's
// attributes in DER order (keytool shows node9 of spec/testdata/dn-instances.yml as
// "OU=ops + CN=node9"), where openssl and FormatDN list them backwards; the rest of
// the string is the same.
func TestFormatDNAsJavaOrdersAMultiValuedRDNAsJavaDoes(t *testing.T) {
	postal := asn1.ObjectIdentifier{2, 5, 4, 17}
	for _, tc := range []struct {
		name, dn, openssl, java string
	}{
		{"plain", "CN=node1", "CN=node1", "CN=node1"},
		{"DC and escapes", `CN=node\,3,OU=search,DC=example,DC=com`, `CN=node\,3,OU=search,DC=example,DC=com`, `CN=node\,3,OU=search,DC=example,DC=com`},
		{"multi-valued RDN", "CN=node9+OU=ops,O=Example", "CN=node9+OU=ops,O=Example", "OU=ops+CN=node9,O=Example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := ParseDN(tc.dn)
			if err != nil {
				t.Fatal(err)
			}
			if got := FormatDN(der); got != tc.openssl {
				t.Errorf("FormatDN = %q, want %q", got, tc.openssl)
			}
			if got := FormatDNAsJava(der); got != tc.java {
				t.Errorf("FormatDNAsJava = %q, want %q", got, tc.java)
			}
		})
	}
	// Java names only RFC 2253's attribute types (and DC, UID): a postal code is an OID.
	der, err := asn1.Marshal(pkix.RDNSequence{{{Type: postal, Value: "10115"}}, {{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "node1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FormatDNAsJava(der), "CN=node1,2.5.4.17=#13053130313135"; got != want {
		t.Errorf("FormatDNAsJava = %q, want %q", got, want)
	}
	if got, want := FormatDN(der), "CN=node1,POSTALCODE=10115"; got != want {
		t.Errorf("FormatDN = %q, want %q", got, want)
	}
}
