package issuer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/fips"
	"github.com/escert/escert/internal/spec"
)

// CAFileBase is the base name of a CA's files in a CA directory: transport-ca and
// http-ca (.crt and .key), or ca for one CA shared by both layers.
func CAFileBase(layer spec.Layer, single bool) string {
	if single {
		return "ca"
	}
	return string(layer) + "-ca"
}

// CADirError is a problem with a CA directory's files: bad input, not a failure.
type CADirError struct {
	File    string
	Problem string
}

func (e *CADirError) Error() string { return e.File + ": " + e.Problem }

// LoadLocal reads the CAs of a CA directory written by `escert ca create` or
// `escert bootstrap` (its ca/ folder). Each key must match its certificate and pass
// the policy; an encrypted key needs password.
func LoadLocal(dir string, password []byte, policy fips.Policy, rand io.Reader, now func() time.Time) (*Local, error) {
	return LoadLocalLayers(dir, []spec.Layer{spec.Transport, spec.HTTP}, password, policy, rand, now)
}

// LoadLocalLayers is LoadLocal for some layers only: a CA rotation's next/ directory
// may hold the new transport CA alone.
func LoadLocalLayers(dir string, layers []spec.Layer, password []byte, policy fips.Policy, rand io.Reader, now func() time.Time) (*Local, error) {
	l := &Local{CAs: map[spec.Layer]*ca.Authority{}, Policy: policy, Rand: rand, Now: now}
	single := fileExists(filepath.Join(dir, CAFileBase("", true)+".crt"))
	if single {
		a, err := loadAuthority(dir, CAFileBase("", true), password, policy)
		if err != nil {
			return nil, err
		}
		l.CAs[spec.Transport], l.CAs[spec.HTTP] = a, a
		return l, nil
	}
	for _, layer := range layers {
		a, err := loadAuthority(dir, CAFileBase(layer, false), password, policy)
		if err != nil {
			return nil, err
		}
		l.CAs[layer] = a
	}
	return l, nil
}

func loadAuthority(dir, base string, password []byte, policy fips.Policy) (*ca.Authority, error) {
	certPath := filepath.Join(dir, base+".crt")
	keyPath := filepath.Join(dir, base+".key")
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, &CADirError{File: certPath, Problem: readProblem(err, "run `escert ca create --out "+dir+"` first or point --ca-dir at the bootstrap's ca/ folder")}
	}
	certs, err := ca.ParseCertificates(certPEM)
	if err != nil {
		return nil, &CADirError{File: certPath, Problem: err.Error()}
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, &CADirError{File: certPath, Problem: "not a CA certificate (basicConstraints CA:TRUE missing)"}
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, &CADirError{File: keyPath, Problem: readProblem(err, "the CA key must sit beside its certificate")}
	}
	key, err := ca.ParseKeyPEM(keyPEM, password)
	if errors.Is(err, ca.ErrKeyPassword) {
		return nil, &CADirError{File: keyPath, Problem: "key is encrypted and the passphrase is missing or wrong: give it with --ca-pass-file or ESCERT_CA_PASSWORD"}
	}
	if err != nil {
		return nil, &CADirError{File: keyPath, Problem: err.Error()}
	}
	if err := ca.KeyMatches(cert, key); err != nil {
		return nil, &CADirError{File: keyPath, Problem: "does not match the CA certificate " + certPath + ": restore the key that belongs to it"}
	}
	if err := policy.CheckPublicKey(key.Public()); err != nil {
		return nil, &CADirError{File: keyPath, Problem: err.Error()}
	}
	return &ca.Authority{Cert: cert, Key: key}, nil
}

func readProblem(err error, fix string) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "missing: " + fix
	}
	if errors.Is(err, fs.ErrPermission) {
		return "cannot read it (permission denied): run as a user who can"
	}
	return fmt.Sprint(err)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
