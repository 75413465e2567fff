package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/target"
)

// This file reads the inputs of an install, the bundle and the config directory, and
// refuses those that are not what they should be, as bad input naming the file.

// bundleFileError describes a bundle file that cannot be read: a missing one means
// --bundle is not a node bundle.
func bundleFileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &fault.InputError{File: path, Problem: "missing: --bundle must be a node bundle, DIR/nodes/<name> of an escert bootstrap"}
	}
	return readError(path, err)
}

// readError is a failure to read an input file (infile's too-large refusal among
// them) as bad input that names the file once.
func readError(path string, err error) *fault.InputError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fault.InputError{File: path, Problem: pe.Err.Error()}
	}
	return &fault.InputError{File: path, Problem: err.Error()}
}

// CheckConfigDir refuses a directory that is not a node's config directory, or one
// whose keys are already exposed. Install calls it before taking the directory's lock,
// so a typo'd --es-config gets this line rather than a failure to create the lock.
func CheckConfigDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return &fault.InputError{File: dir, Problem: "not a readable config directory: point --es-config at the node's config directory (e.g. /etc/elasticsearch)"}
	}
	if !info.IsDir() {
		return &fault.InputError{File: dir, Problem: "not a directory"}
	}
	// Every installation ships an elasticsearch.yml or opensearch.yml: a directory
	// without one is a typo'd path, which must not be filled with keys and a new yml.
	if _, err := target.Detect(dir); err != nil {
		return &fault.InputError{File: dir, Problem: err.Error() + ": point --es-config at the node's config directory (e.g. /etc/elasticsearch, /etc/opensearch)"}
	}
	if info.Mode().Perm()&0o002 != 0 {
		return &fault.InputError{File: dir, Problem: "is world-writable, so anyone could swap its keys: chmod o-w it first"}
	}
	// A key or keystore that others can already read would stay readable beside the
	// new files: refuse rather than pretend the node is secure.
	for _, sub := range []string{".", "certs"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			if !esconfig.IsSecretFile(e.Name()) {
				continue
			}
			m := filepath.Join(dir, sub, e.Name())
			if info, err := os.Stat(m); err == nil && info.Mode().Perm()&0o004 != 0 {
				return &fault.InputError{File: m, Problem: "is world-readable: chmod o-rwx it, then re-run"}
			}
		}
	}
	return nil
}

// sameTarget is the engine both the bundle and the config directory are for, and
// refuses a bundle made for the other one: an OpenSearch node ignores xpack settings
// and Elasticsearch stops at plugins.security ones.
func sameTarget(bundleDir, configDir string) (target.Target, error) {
	node, err := target.Detect(configDir)
	if err != nil {
		return "", &fault.InputError{File: configDir, Problem: err.Error()}
	}
	made, err := target.Detect(bundleDir)
	if err != nil {
		return "", &fault.InputError{File: bundleDir, Problem: err.Error() + ": --bundle must be a node bundle, DIR/nodes/<name> of an escert bootstrap"}
	}
	if made != node {
		return "", &fault.InputError{File: bundleDir, Problem: fmt.Sprintf("is a bundle for %s, but %s is an %s config directory (%s): bootstrap with --target %s", made.Product(), configDir, node.Product(), node.SettingsFile(), node)}
	}
	return node, nil
}

// checkFIPSBundle refuses a bundle made without --fips. A FIPS node does start on a
// PKCS#12 file, but BCFIPS has no PKCS#12 keystore in approved-only mode, so the JDK's
// SUN provider decrypts the key, outside the validated module (seen on 9.5.4 with
// bc-fips 2.0.1); and Elasticsearch needs fips_mode set to run as a FIPS node.
func checkFIPSBundle(dir string, block esconfig.Settings) error {
	if p12s, _ := filepath.Glob(filepath.Join(dir, "certs", "*.p12")); len(p12s) > 0 {
		return &fault.InputError{File: p12s[0], Problem: "is PKCS#12, which a FIPS JVM decrypts outside its FIPS module (the JDK's own provider): bootstrap the bundle with --fips (PEM files)"}
	}
	if v, _ := block.Get("xpack.security.fips_mode.enabled"); v != "true" {
		return &fault.InputError{File: filepath.Join(dir, "elasticsearch.yml"), Problem: "the block does not enable xpack.security.fips_mode: bootstrap the bundle with --fips"}
	}
	return nil
}

// readOptional reads a file of the config directory; nil when there is none yet.
func readOptional(path string, kind infile.Kind) ([]byte, error) {
	data, err := infile.Read(path, kind)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, readError(path, err)
	}
	return data, nil
}

func readBundleKeystore(o NodeOptions) (*eskeystore.Keystore, error) {
	path := filepath.Join(o.BundleDir, "elasticsearch.keystore")
	data, err := infile.Read(path, infile.Keystore)
	if err != nil {
		return nil, bundleFileError(path, err)
	}
	// A bundle made with --keystore-pass-file shares the node's password.
	var password []byte
	if has, err := eskeystore.HasPassword(data); err == nil && has {
		password = o.KeystorePassword
	}
	ks, err := eskeystore.Decode(data, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}
