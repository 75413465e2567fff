package spec

import (
	"crypto/x509/pkix"
	"reflect"
	"testing"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	dc := func(v ...string) []pkix.AttributeTypeAndValue {
		var out []pkix.AttributeTypeAndValue
		for _, s := range v {
			out = append(out, pkix.AttributeTypeAndValue{Type: oidDomainComponent, Value: s})
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		want    pkix.Name
		wantErr string
	}{
		{name: "plain name is the CN", in: "node1", want: pkix.Name{CommonName: "node1"}},
		{name: "plain name keeps spaces and punctuation", in: "node 1 (eu)", want: pkix.Name{CommonName: "node 1 (eu)"}},
		{name: "CN only", in: "CN=node1", want: pkix.Name{CommonName: "node1"}},
		{
			name: "every attribute",
			in:   "CN=node1,OU=search,OU=ops,O=Example,L=Berlin,ST=Berlin,C=DE,DC=example,DC=com",
			want: pkix.Name{
				CommonName: "node1", OrganizationalUnit: []string{"search", "ops"}, Organization: []string{"Example"},
				Locality: []string{"Berlin"}, Province: []string{"Berlin"}, Country: []string{"DE"},
				ExtraNames: dc("example", "com"),
			},
		},
		{name: "attribute names are case-insensitive", in: "cn=node1,o=Example", want: pkix.Name{CommonName: "node1", Organization: []string{"Example"}}},
		{name: "spaces around separators", in: " CN = node1 , O = Example ", want: pkix.Name{CommonName: "node1", Organization: []string{"Example"}}},
		{name: "escaped comma", in: `CN=node\,1,O=Example\, Inc.`, want: pkix.Name{CommonName: "node,1", Organization: []string{"Example, Inc."}}},
		{name: "escaped equals and backslash", in: `CN=a\=b\\c`, want: pkix.Name{CommonName: `a=b\c`}},
		{name: "CN not first", in: "O=Example,CN=node1", want: pkix.Name{CommonName: "node1", Organization: []string{"Example"}}},
		{name: "value containing an equals sign", in: "CN=a=b", want: pkix.Name{CommonName: "a=b"}},
		{name: "no CN", in: "O=Example", wantErr: `distinguished name "O=Example" has no CN: add CN=<node name>`},
		{name: "empty CN", in: "CN=", wantErr: `"CN=" is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "RDN without equals", in: "CN=node1,Example", wantErr: `"CN=node1,Example" is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "trailing comma", in: "CN=node1,", wantErr: `"CN=node1," is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "unsupported attribute", in: "CN=node1,SERIALNUMBER=1", wantErr: `attribute "SERIALNUMBER" in "CN=node1,SERIALNUMBER=1" is not supported: use CN, OU, O, L, ST, C or DC`},
		{name: "OID attribute", in: "CN=node1,2.5.4.5=1", wantErr: `attribute "2.5.4.5" in "CN=node1,2.5.4.5=1" is not supported: use CN, OU, O, L, ST, C or DC`},
		{name: "three-letter country", in: "CN=node1,C=USA", wantErr: `country "USA" must be a two-letter code such as US`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseName(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseName(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseName(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}
