package ca

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummaryShowsSubjectsAsOpenSSLDoes has openssl make certificates with the
// subjects other tools write (DC components, repeated and multi-valued RDNs, escapes,
// BMPString) and checks that escert's summary,
// which the manifest and `escert inspect` show, prints each as openssl
// -nameopt RFC2253 does: the DER's own order, never one Go re-sorted.
func TestSummaryShowsSubjectsAsOpenSSLDoes(t *testing.T) {
	t.Parallel()
	requireOpenSSL(t)
	tests := []struct {
		name string
		args []string // how openssl is told the subject
	}{
		{"DC and OU after CN", []string{"-subj", "/DC=com/DC=mydomain/OU=IT/CN=node5"}},
		{"DC between other RDNs", []string{"-subj", "/CN=node5/DC=com/OU=IT"}},
		{"repeated OU", []string{"-subj", "/O=Example/OU=search/OU=ops/CN=node6"}},
		{"multi-valued RDN", []string{"-multivalue-rdn", "-subj", "/O=Example/CN=node9+OU=ops+L=Berlin"}},
		{"escaped specials", []string{"-subj", `/O=Example, Inc./CN=a\+b;c<d>e"f\\g`}},
		{"leading hash and trailing space", []string{"-subj", "/CN=#node /O= x"}},
		{"UTF-8 as BMPString", []string{"-utf8", "-subj", "/CN=Jürgen/O=Bücher", "-config", "bmp.cnf"}},
		{"UID", []string{"-subj", "/DC=com/OU=people/UID=jdoe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// MASK:0x800 (B_ASN1_BMPSTRING) makes openssl write every value as a BMPString.
			os.WriteFile(filepath.Join(dir, "bmp.cnf"), []byte("[req]\ndistinguished_name=dn\nstring_mask=MASK:0x800\n[dn]\n"), 0o600)
			cert := filepath.Join(dir, "cert.pem")
			args := []string{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
				"-keyout", filepath.Join(dir, "key.pem"), "-out", cert, "-days", "1"}
			for _, a := range tt.args {
				if a == "bmp.cnf" {
					a = filepath.Join(dir, a)
				}
				args = append(args, a)
			}
			if out, err := openssl(t, args...); err != nil {
				t.Fatalf("openssl req: %v\n%s", err, out)
			}
			out, err := openssl(t, "x509", "-in", cert, "-noout", "-subject", "-issuer", "-nameopt", "RFC2253,-esc_msb")
			if err != nil {
				t.Fatalf("openssl x509: %v\n%s", err, out)
			}
			lines := strings.Split(out, "\n")
			data, err := os.ReadFile(cert)
			if err != nil {
				t.Fatal(err)
			}
			certs, err := ParseCertificates(data)
			if err != nil {
				t.Fatal(err)
			}
			s := Summarize(certs[0])
			if want := strings.TrimPrefix(lines[0], "subject="); s.Subject != want {
				t.Errorf("subject shown as %q, openssl shows %q", s.Subject, want)
			}
			if want := strings.TrimPrefix(lines[1], "issuer="); s.Issuer != want {
				t.Errorf("issuer shown as %q, openssl shows %q", s.Issuer, want)
			}
		})
	}
}
