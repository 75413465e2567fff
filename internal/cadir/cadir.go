// Package cadir is the one home of a CA directory's files, as `escert ca create`
// writes them and `escert bootstrap` copies them into its ca/ folder: transport-ca.crt
// and .key and http-ca.crt and .key, or ca.crt and ca.key for one CA serving both
// layers; certificates 0644, keys 0600 and PBES2-encrypted when a password is given.
// Files writes such a directory and Load reads one back, refusing a directory or a CA
// that could not issue (both layouts at once, a key of another CA, a certificate that
// is not a CA's or not valid now) as bad input that names the file and the fix.
package cadir

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/spec"
)

// Base is the base name of a CA's files in a CA directory: transport-ca and http-ca
// (.crt and .key), or ca for one CA shared by both layers.
func Base(layer spec.Layer, single bool) string {
	if single {
		return "ca"
	}
	return string(layer) + "-ca"
}

// Files encodes CAs (by layer) as the files of a CA directory below prefix ("ca/" in
// a bootstrap, "" for `escert ca create`): one CA both layers share as ca.*, others
// as <layer>-ca.*. Certificates get atomicfs.PublicMode, keys atomicfs.SecretMode and
// PBES2 encryption when password is given.
func Files(cas map[spec.Layer]*ca.Authority, prefix string, rand io.Reader, password []byte) ([]atomicfs.File, error) {
	t, h := cas[spec.Transport], cas[spec.HTTP]
	single := t != nil && h != nil && t.Cert.Equal(h.Cert)
	var files []atomicfs.File
	for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
		a := cas[layer]
		if a == nil || single && layer == spec.HTTP {
			continue
		}
		base := prefix + Base(layer, single)
		keyPEM, err := ca.MarshalKeyPEM(rand, a.Key, password)
		if err != nil {
			return nil, fmt.Errorf("%s CA key: %w", layer, err)
		}
		files = append(files,
			atomicfs.File{Path: base + ".crt", Mode: atomicfs.PublicMode, Data: ca.EncodeCertificates(a.Cert)},
			atomicfs.File{Path: base + ".key", Mode: atomicfs.SecretMode, Data: keyPEM},
		)
	}
	return files, nil
}

// Load reads and checks the CAs of a CA directory written by `escert ca create` or
// `escert bootstrap` (its ca/ folder), for the layers asked (a CA rotation's next/
// directory may hold the new transport CA alone). A directory of one CA (ca.crt)
// serves both layers, whichever are asked. Each key must match its certificate and
// pass the policy; an encrypted key needs password. Each CA must be able to issue at
// now: every command that issues from a CA directory loads it here, and a CA that
// openssl and Java would reject must stop the run before a bundle is written. A CA
// file may hold the CA's issuers after it, in order: they become its chain.
func Load(dir string, layers []spec.Layer, password []byte, policy fips.Policy, now time.Time) (map[spec.Layer]*ca.Authority, error) {
	cas := map[spec.Layer]*ca.Authority{}
	single := fileExists(filepath.Join(dir, Base("", true)+".crt"))
	if single {
		var perLayer []string
		for _, layer := range []spec.Layer{spec.Transport, spec.HTTP} {
			if name := Base(layer, false) + ".crt"; fileExists(filepath.Join(dir, name)) {
				perLayer = append(perLayer, name)
			}
		}
		if len(perLayer) > 0 {
			// Either layout alone is valid; which one the nodes trust only the operator knows.
			return nil, fault.BadFile(dir, "holds both ca.crt (one CA for both layers) and %s (one CA per layer), and escert would use only one: "+
				"remove ca.crt and ca.key if the nodes trust the per-layer CAs, or transport-ca.* and http-ca.* if they trust ca.crt", strings.Join(perLayer, " and "))
		}
		a, err := loadAuthority(dir, Base("", true), password, policy, now)
		if err != nil {
			return nil, err
		}
		cas[spec.Transport], cas[spec.HTTP] = a, a
		return cas, nil
	}
	for _, layer := range layers {
		a, err := loadAuthority(dir, Base(layer, false), password, policy, now)
		if err != nil {
			return nil, err
		}
		cas[layer] = a
	}
	return cas, nil
}

func loadAuthority(dir, base string, password []byte, policy fips.Policy, now time.Time) (*ca.Authority, error) {
	certPath := filepath.Join(dir, base+".crt")
	keyPath := filepath.Join(dir, base+".key")
	certPEM, err := infile.Read(certPath, infile.PEM)
	if err != nil {
		return nil, &fault.InputError{File: certPath, Problem: infile.Problem(err, "run `escert ca create --out "+dir+"` first or point --ca-dir at the bootstrap's ca/ folder")}
	}
	certs, err := ca.ParseCertificates(certPEM)
	if err != nil {
		return nil, &fault.InputError{File: certPath, Problem: err.Error()}
	}
	if problem := checkCAChain(certs, now); problem != "" {
		return nil, &fault.InputError{File: certPath, Problem: problem}
	}
	cert := certs[0]
	keyPEM, err := infile.Read(keyPath, infile.Key)
	if err != nil {
		return nil, &fault.InputError{File: keyPath, Problem: infile.Problem(err, "the CA key must sit beside its certificate")}
	}
	key, err := ca.ParseKeyPEM(keyPEM, password)
	if errors.Is(err, ca.ErrKeyPassword) {
		return nil, &fault.InputError{File: keyPath, Problem: "key is encrypted and the passphrase is missing or wrong: give it with --ca-pass-file or ESCERT_CA_PASSWORD"}
	}
	if err != nil {
		return nil, &fault.InputError{File: keyPath, Problem: err.Error()}
	}
	if err := ca.KeyMatches(cert, key); err != nil {
		return nil, &fault.InputError{File: keyPath, Problem: "does not match the CA certificate " + certPath + ": restore the key that belongs to it"}
	}
	if err := policy.CheckPublicKey(key.Public()); err != nil {
		return nil, &fault.InputError{File: keyPath, Problem: err.Error()}
	}
	return &ca.Authority{Cert: cert, Key: key, Issuers: certs[1:]}, nil
}

// checkCAChain accepts a CA file that holds the CA and, for an intermediate CA, its
// issuers in order, each able to issue at now; it returns what is wrong otherwise.
// Any other certificate in the file would be silently ignored, so it is refused.
func checkCAChain(certs []*x509.Certificate, now time.Time) string {
	for i, c := range certs {
		which := "the CA"
		if i > 0 {
			which = fmt.Sprintf("certificate %d (%s)", i+1, ca.FormatDN(c.RawSubject))
			// The signature alone: c's fitness as a CA is judged below, by name.
			prev := certs[i-1]
			if bytes.Equal(prev.RawIssuer, prev.RawSubject) || !bytes.Equal(prev.RawIssuer, c.RawSubject) ||
				c.CheckSignature(prev.SignatureAlgorithm, prev.RawTBSCertificate, prev.Signature) != nil {
				return fmt.Sprintf("%s did not issue the certificate before it: the file may hold only the CA certificate, followed by the CAs that issued it in order; remove the others", which)
			}
		}
		switch {
		case !c.IsCA:
			return which + " has no basicConstraints CA:TRUE, so it is not a CA certificate: point --ca-dir at a CA's files"
		case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
			// Without the extension a CA may sign (RFC 5280), as certutil's CAs before
			// 8.18 do; with it, keyCertSign must be among the usages.
			return which + " lacks keyCertSign in its keyUsage, so openssl and Java reject every certificate it signs: use a CA that may sign certificates (escert ca create makes one)"
		case now.Before(c.NotBefore):
			return fmt.Sprintf("%s is not valid before %s and this machine's clock says %s: fix the clock, or wait", which, c.NotBefore.UTC().Format(time.DateTime+" MST"), now.UTC().Format(time.DateTime+" MST"))
		case now.After(c.NotAfter):
			return fmt.Sprintf("%s expired on %s, and so has every certificate it signed: create new CAs (escert ca create) and issue the nodes from them", which, c.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
