package inspect

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Render writes a report for people.
func Render(w io.Writer, r *Report) {
	fmt.Fprintf(w, "%s: %s\n", r.File, r.Kind)
	for i, c := range r.Certificates {
		RenderCertificate(w, fmt.Sprintf("certificate %d", i+1), c)
	}
	if r.Key != nil {
		enc := "unencrypted"
		if r.Key.Encrypted {
			enc = "encrypted"
		}
		fmt.Fprintf(w, "  private key: %s, %s, %s (key material not shown)\n", r.Key.Type, r.Key.Format, enc)
	}
	if p := r.PKCS12; p != nil {
		fmt.Fprintf(w, "  encryption: %s\n", p.Encryption)
		if p.Unverified {
			fmt.Fprintf(w, "  read without a password: key not decrypted, MAC not verified (entries unauthenticated)\n")
		}
		for _, k := range p.Keys {
			fmt.Fprintf(w, "  key entry %q: %s, chain of %d\n", k.Alias, k.Key, len(k.Chain))
			for i, c := range k.Chain {
				RenderCertificate(w, fmt.Sprintf("  chain[%d]", i), c)
			}
		}
		for _, t := range p.Trusted {
			RenderCertificate(w, fmt.Sprintf("trusted entry %q", t.Alias), t.Cert)
		}
	}
	if k := r.Keystore; k != nil {
		fmt.Fprintf(w, "  format version %d, password protected: %t\n", k.Version, k.HasPassword)
		fmt.Fprintf(w, "  %d setting(s) (values not shown):\n", len(k.Settings))
		for _, s := range k.Settings {
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
}

// RenderCertificate writes one certificate's summary under a label, as inspect and
// probe show chains.
func RenderCertificate(w io.Writer, label string, c CertReport) {
	fmt.Fprintf(w, "  %s: %s\n", label, c.Subject)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "      %-10s %s\n", k, v)
		}
	}
	line("issuer", c.Issuer)
	line("valid", fmt.Sprintf("%s to %s (%d days left)", c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), c.DaysLeft))
	line("key", c.Key+", signed "+c.Signature)
	if c.IsCA {
		line("ca", "yes")
	}
	line("dns", strings.Join(c.DNSNames, ", "))
	line("ip", strings.Join(c.IPs, ", "))
	line("othername", strings.Join(c.OtherNames, ", "))
	line("usage", strings.Join(append(append([]string{}, c.KeyUsage...), c.ExtKeyUsage...), ", "))
	line("serial", c.Serial)
	line("sha256", c.SHA256)
}
