package realtest

import (
	"fmt"
	"strings"
	"testing"
)

// OpenSSLVerify runs
//
//	openssl verify -x509_strict -purpose <purpose> -no-CApath -no-CAstore -CAfile <caFile> [-untrusted <file>]... <certFile>
//
// and returns nil when openssl accepts the chain, else an error with openssl's output.
// purpose is an openssl purpose name: sslserver, sslclient or any (and the others
// openssl knows). -x509_strict adds the RFC 5280 checks that Python 3.13 turns on by
// default (CA key usage, AKI, critical basicConstraints, ...). -no-CApath and
// -no-CAstore keep the system trust store out, so only caFile is trusted; untrusted
// files offer intermediates. Only the first certificate of certFile is verified.
func OpenSSLVerify(t testing.TB, caFile, certFile, purpose string, untrusted ...string) error {
	t.Helper()
	openssl := Require(t, "openssl")
	args := []string{"verify", "-x509_strict", "-purpose", purpose, "-no-CApath", "-no-CAstore", "-CAfile", absPath(t, caFile)}
	for _, u := range untrusted {
		args = append(args, "-untrusted", absPath(t, u))
	}
	args = append(args, absPath(t, certFile))
	res, err := run(openssl, args, nil)
	if err != nil {
		return err
	}
	// openssl prints "<file>: OK" on success; check it as well as the exit code.
	if res.code != 0 || !strings.HasSuffix(strings.TrimSpace(res.stdout), ": OK") {
		out := strings.TrimSpace(res.stdout + "\n" + res.stderr)
		return fmt.Errorf("openssl verify %s: %s", certFile, out)
	}
	return nil
}

// OpenSSLSubject returns the subject of the first certificate in certFile as
//
//	openssl x509 -noout -subject -nameopt RFC2253,-esc_msb
//
// prints it: RFC 4514 form, most specific RDN first, UTF-8 left unescaped.
func OpenSSLSubject(t testing.TB, certFile string) (string, error) {
	t.Helper()
	openssl := Require(t, "openssl")
	res, err := run(openssl, []string{"x509", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb", "-in", absPath(t, certFile)}, nil)
	if err != nil {
		return "", err
	}
	subject, ok := strings.CutPrefix(strings.TrimRight(res.stdout, "\n"), "subject=")
	if res.code != 0 || !ok {
		return "", fmt.Errorf("openssl x509 -subject %s: %w: %s", certFile, ErrLoad, res.message())
	}
	return subject, nil
}
