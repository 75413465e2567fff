// Package check grades one Elasticsearch node's security against Elastic's "secure
// your cluster" checklist: security and TLS on, certificates verified, secrets in
// elasticsearch.keystore and not in elasticsearch.yml, every file the settings name
// present, readable with the keystore's passwords and valid, key files private,
// Elasticsearch unable to rewrite its own configuration and not running as root,
// audit logging on, and no certificate about to expire.
//
// It reads the config directory, file modes and the process list; it writes nothing.
// A finding never carries a secret's value, only the name of the setting holding it.
package check

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/escert/escert/internal/ca"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
)

// Severity grades a finding.
type Severity string

// The severities. Only what needs attention is a finding: a passed check is silent.
const (
	// Problem: the node is exposed, or will not start, as configured.
	Problem Severity = "problem"
	// Warning: not broken today, but short of the checklist or about to break.
	Warning Severity = "warning"
)

// Finding is one thing to fix.
type Finding struct {
	Severity Severity `json:"severity"`
	// ID names the check, stable across releases (e.g. "security-disabled"), for
	// scripts that grep or allow-list findings.
	ID string `json:"id"`
	// File is the file concerned, relative to the config directory when inside it
	// ("elasticsearch.yml", "certs/http.p12"); Line is a line of that file, when known.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Setting is the elasticsearch.yml or elasticsearch.keystore setting concerned.
	Setting string `json:"setting,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// PasswordFunc returns the password of the elasticsearch.keystore whose bytes are
// given; it is called only when the keystore exists, and should return nil for a
// keystore without a password (eskeystore.HasPassword tells).
type PasswordFunc func(keystore []byte) ([]byte, error)

// Identity is the account Elasticsearch runs as. UID or GID -1 is unknown.
type Identity struct {
	Name     string
	UID, GID int
}

// Options tune a check. The zero value warns only about expired certificates, reads
// /proc and looks the elasticsearch account up.
type Options struct {
	// WarnDays: a certificate expiring within this many days is a warning.
	WarnDays int
	// Proc is the /proc file system to look for Elasticsearch processes in; nil
	// means the machine's /proc. Tests pass a fake tree.
	Proc fs.FS
	// Elasticsearch is the account Elasticsearch runs as; nil means: the
	// "elasticsearch" user and group when they exist, else the user of a running
	// Elasticsearch process, and the config directory's group when it is not root's.
	Elasticsearch *Identity
}

// File names inside the config directory.
const (
	ymlName      = "elasticsearch.yml"
	keystoreName = "elasticsearch.keystore"
)

// Node checks the node whose config directory is dir, as of now. It returns the
// findings, problems first. An error means the input is unusable: the directory or
// elasticsearch.yml is missing or unparsable, elasticsearch.keystore is corrupt or its
// password wrong (errors.Is(err, eskeystore.ErrWrongPassword)), or a file cannot be
// read for lack of permission.
func Node(dir string, password PasswordFunc, now time.Time, opts Options) ([]Finding, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("config directory %s: %w", dir, pathErr(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("config directory %s: not a directory", dir)
	}
	ymlPath := filepath.Join(dir, ymlName)
	data, err := infile.Read(ymlPath, infile.Settings)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ymlPath, pathErr(err))
	}
	settings, err := esconfig.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ymlPath, err)
	}
	c := &checker{
		dir:      dir,
		settings: settings,
		now:      now,
		warn:     time.Duration(opts.WarnDays) * 24 * time.Hour,
		seen:     map[string]bool{},
		certSeen: map[string]bool{},
		refs:     map[string]bool{},
		p12Cache: map[string]p12Result{},
	}
	if err := c.openKeystore(password); err != nil {
		return nil, err
	}
	procs, _ := elasticsearchProcesses(opts.Proc)

	c.checkSecurity()
	c.checkLayers()
	c.checkVerification()
	c.checkPlaintextSecrets()
	c.checkAudit()
	for _, prefix := range tlsPrefixes(settings) {
		c.checkTLS(prefix)
	}
	c.checkKeystoreNeeded()
	c.checkProcesses(procs)
	id := resolveIdentity(opts.Elasticsearch, procs, info)
	c.checkModes(id)
	c.checkKeystoreFormat(id)
	if c.fatal != nil {
		return nil, c.fatal
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		return c.findings[i].Severity == Problem && c.findings[j].Severity != Problem
	})
	return c.findings, nil
}

// Count returns the number of problems and warnings.
func Count(findings []Finding) (problems, warnings int) {
	for _, f := range findings {
		if f.Severity == Problem {
			problems++
		} else {
			warnings++
		}
	}
	return problems, warnings
}

type checker struct {
	dir      string
	settings esconfig.Settings
	now      time.Time
	warn     time.Duration
	keystore *eskeystore.Keystore // nil when there is none
	findings []Finding
	seen     map[string]bool // findings already reported (ID, file, message)
	certSeen map[string]bool // certificates already checked for expiry, by fingerprint
	refs     map[string]bool // files the settings name, absolute; true for key material
	// needKeystore lists the secure settings a missing keystore would have to hold.
	needKeystore []string
	p12Cache     map[string]p12Result
	// fatal is the first error that makes the whole check unusable.
	fatal error
}

func (c *checker) add(sev Severity, id, file string, line int, setting, message, fix string) {
	key := id + "\x00" + file + "\x00" + message
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.findings = append(c.findings, Finding{Severity: sev, ID: id, File: file, Line: line, Setting: setting, Message: message, Fix: fix})
}

// addSetting reports a finding about an elasticsearch.yml setting, at its line.
func (c *checker) addSetting(sev Severity, id, key, message, fix string) {
	c.add(sev, id, ymlName, c.settings[key].Line, key, message, fix)
}

// value returns a setting's scalar value and whether it is set to anything.
func (c *checker) value(key string) (string, bool) {
	s, ok := c.settings[key]
	return s.Value, ok && (s.Value != "" || len(s.Values) > 0)
}

// display names a path for a finding: relative to the config directory when inside it.
func (c *checker) display(path string) string {
	if rel, err := filepath.Rel(c.dir, path); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	return path
}

// resolve makes a path from a setting absolute: relative paths start at the config
// directory, as in Elasticsearch.
func (c *checker) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.dir, p)
}

// openKeystore decrypts elasticsearch.keystore when there is one.
func (c *checker) openKeystore(password PasswordFunc) error {
	path := filepath.Join(c.dir, keystoreName)
	data, err := infile.Read(path, infile.Keystore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, pathErr(err))
	}
	var pw []byte
	if password != nil {
		if pw, err = password(data); err != nil {
			return err
		}
	}
	ks, err := eskeystore.Decode(data, pw)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	c.keystore = ks
	return nil
}

// secret returns a secure setting from the keystore.
func (c *checker) secret(name string) ([]byte, bool) {
	if c.keystore == nil {
		return nil, false
	}
	v, ok := c.keystore.Get(name)
	return v, ok && len(v) > 0
}

// read reads a file a setting names, expected to hold kind. A missing file is a
// finding; a file this process may not read makes the check unusable, since nothing
// could be said about it.
func (c *checker) read(path, setting string, kind infile.Kind) ([]byte, bool) {
	data, err := infile.Read(path, kind)
	switch {
	case err == nil:
		return data, true
	case errors.Is(err, fs.ErrNotExist):
		c.add(Problem, "file-missing", c.display(path), 0, setting,
			fmt.Sprintf("%s names %s, which does not exist: Elasticsearch will not start", setting, c.display(path)),
			"put the file in place or correct the path (a relative path starts at the config directory)")
	case errors.Is(err, fs.ErrPermission):
		if c.fatal == nil {
			c.fatal = fmt.Errorf("%s: %w: run escert check as root or as the user Elasticsearch runs as", path, pathErr(err))
		}
	default:
		c.add(Problem, "file-unparsable", c.display(path), 0, setting,
			fmt.Sprintf("%s cannot be read: %v", c.display(path), pathErr(err)),
			"point "+setting+" at a regular file")
	}
	return nil, false
}

// noteCerts checks certificates' dates, once per certificate.
func (c *checker) noteCerts(file, setting string, certs ...*x509.Certificate) {
	for _, cert := range certs {
		fp := ca.Fingerprint(cert)
		if c.certSeen[fp] {
			continue
		}
		c.certSeen[fp] = true
		what, fix := "certificate", "issue a new one (escert cert --name <node> --ca-dir <ca>) and install it"
		if cert.IsCA {
			what, fix = "CA certificate", "rotate the CA: create a new one (escert ca create), add it to every node's trust, then reissue the node certificates from it"
		}
		dates := fmt.Sprintf("valid %s to %s", day(cert.NotBefore), day(cert.NotAfter))
		switch {
		case c.now.After(cert.NotAfter):
			c.add(Problem, "cert-expired", file, 0, setting,
				fmt.Sprintf("%s %q expired on %s (%s)", what, ca.FormatDN(cert.RawSubject), day(cert.NotAfter), dates), fix)
		case c.now.Before(cert.NotBefore):
			c.add(Problem, "cert-not-yet-valid", file, 0, setting,
				fmt.Sprintf("%s %q is not valid before %s (%s)", what, ca.FormatDN(cert.RawSubject), day(cert.NotBefore), dates),
				"check this machine's clock, or reissue the certificate")
		case cert.NotAfter.Sub(c.now) < c.warn:
			left := int(cert.NotAfter.Sub(c.now).Hours() / 24)
			c.add(Warning, "cert-expiring", file, 0, setting,
				fmt.Sprintf("%s %q expires on %s, in %d days (%s)", what, ca.FormatDN(cert.RawSubject), day(cert.NotAfter), left, dates), fix)
		}
	}
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isSpecialHost reports Elasticsearch's special network values (_local_, _site_,
// _eth0:ipv4_...) and wildcard addresses: they name no host a certificate could cover.
func isSpecialHost(h string) bool {
	h = strings.Trim(h, "[]")
	return strings.HasPrefix(h, "_") && strings.HasSuffix(h, "_") || h == "0.0.0.0" || h == "::" || h == ""
}
