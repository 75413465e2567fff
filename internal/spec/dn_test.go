package spec

import (
	"testing"

	"github.com/escert/escert/internal/ca"
)

func TestParseNameKeepsTheRDNsAsWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string // the subject in RFC 4514 form, as read back from its DER
		wantCN  string
		wantErr string
	}{
		{name: "plain name is the CN", in: "node1", want: "CN=node1", wantCN: "node1"},
		{name: "plain name keeps spaces and punctuation", in: "node 1 (eu)", want: "CN=node 1 (eu)", wantCN: "node 1 (eu)"},
		{name: "plain name with a comma is escaped when shown", in: "node1, eu", want: `CN=node1\, eu`, wantCN: "node1, eu"},
		{name: "CN only", in: "CN=node1", want: "CN=node1", wantCN: "node1"},
		{
			name: "every attribute, in the order written",
			in:   "CN=node1,OU=search,OU=ops,O=Example,L=Berlin,ST=Berlin,C=DE,DC=example,DC=com",
			want: "CN=node1,OU=search,OU=ops,O=Example,L=Berlin,ST=Berlin,C=DE,DC=example,DC=com", wantCN: "node1",
		},
		{name: "DC before CN stays before", in: "DC=com,DC=mydomain,CN=node5,OU=IT", want: "DC=com,DC=mydomain,CN=node5,OU=IT", wantCN: "node5"},
		{name: "repeated OUs stay separate RDNs", in: "CN=node5,OU=IT,OU=IT,DC=mydomain,DC=com", want: "CN=node5,OU=IT,OU=IT,DC=mydomain,DC=com", wantCN: "node5"},
		{name: "multi-valued RDN", in: "CN=node1+OU=ops,O=Example", want: "CN=node1+OU=ops,O=Example", wantCN: "node1"},
		{name: "multi-valued RDN shows in openssl's order", in: "OU=ops+CN=node1,O=Example", want: "CN=node1+OU=ops,O=Example", wantCN: "node1"},
		{name: "attribute names are case-insensitive", in: "cn=node1,o=Example", want: "CN=node1,O=Example", wantCN: "node1"},
		{name: "spaces around separators", in: " CN = node1 , O = Example ", want: "CN=node1,O=Example", wantCN: "node1"},
		{name: "escaped comma", in: `CN=node\,1,O=Example\, Inc.`, want: `CN=node\,1,O=Example\, Inc.`, wantCN: "node,1"},
		{name: "escaped plus and trailing space", in: `CN=a\+b\ ,O=x`, want: `CN=a\+b\ ,O=x`, wantCN: "a+b "},
		{name: "escaped equals and backslash", in: `CN=a\=b\\c`, want: `CN=a=b\\c`, wantCN: `a=b\c`},
		{name: "hex escapes as openssl writes UTF-8", in: `CN=J\C3\BCrgen,O=Example`, want: "CN=Jürgen,O=Example", wantCN: "Jürgen"},
		{name: "first CN written is the common name", in: "CN=node1,CN=users,DC=example", want: "CN=node1,CN=users,DC=example", wantCN: "node1"},
		{name: "value containing an equals sign", in: "CN=a=b", want: "CN=a=b", wantCN: "a=b"},
		{name: "no CN", in: "O=Example", wantErr: `distinguished name "O=Example" has no CN: add CN=<node name>`},
		{name: "empty CN", in: "CN=", wantErr: `"CN=" is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "RDN without equals", in: "CN=node1,Example", wantErr: `"CN=node1,Example" is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "trailing comma", in: "CN=node1,", wantErr: `"CN=node1," is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "trailing plus", in: "CN=node1+", wantErr: `"CN=node1+" is not a valid distinguished name: write it as CN=node1,O=Example`},
		{name: "lone trailing backslash", in: `CN=node1\`, wantErr: `"CN=node1\\": ends with a lone backslash: escape it as \\`},
		{name: "one type twice in an RDN", in: "CN=a+CN=b", wantErr: `"CN=a+CN=b" names CN twice in one RDN (joined with '+'): separate them with ',' or keep one`},
		{name: "unsupported attribute", in: "CN=node1,SERIALNUMBER=1", wantErr: `attribute "SERIALNUMBER" in "CN=node1,SERIALNUMBER=1" is not supported: use CN, OU, O, L, ST, C or DC`},
		{name: "OID attribute", in: "CN=node1,2.5.4.5=1", wantErr: `attribute "2.5.4.5" in "CN=node1,2.5.4.5=1" is not supported: use CN, OU, O, L, ST, C or DC`},
		{name: "three-letter country", in: "CN=node1,C=USA", wantErr: `country "USA" must be a two-letter code such as US`},
		{name: "non-ASCII DC", in: "CN=node1,DC=bücher", wantErr: `DC "bücher" in "CN=node1,DC=bücher" must be ASCII (a domain label such as example)`},
		{name: "escape making invalid UTF-8", in: `CN=a\FF`, wantErr: `"CN=a\\FF": a \XX escape makes invalid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			der, subject, err := ParseName(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseName(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tt.in, err)
			}
			if got := ca.FormatDN(der); got != tt.want {
				t.Errorf("ParseName(%q) subject = %s, want %s", tt.in, got, tt.want)
			}
			if subject.CommonName != tt.wantCN {
				t.Errorf("ParseName(%q) CommonName = %q, want %q", tt.in, subject.CommonName, tt.wantCN)
			}
		})
	}
}
