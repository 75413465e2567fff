// Package check grades one Elasticsearch node's security against Elastic's "secure
// your cluster" checklist: security and TLS on, certificates verified, secrets in
// elasticsearch.keystore and not in elasticsearch.yml, every file the settings name
// present, readable with the keystore's passwords and valid, key files private,
// Elasticsearch unable to rewrite its own configuration and not running as root,
// audit logging on, no certificate about to expire, no anonymous access, no open
// CORS, TLS 1.2 or later with strong suites, IP filtering on a node bound beyond
// loopback, and in FIPS mode, keys kept inside the FIPS module. Kibana checks the
// kibana.yml settings the checklist asks of Kibana.
//
// It reads the config directory, file modes and the process list; it writes nothing.
// A finding never carries a secret's value, only the name of the setting holding it.
package check

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/expiry"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/target"
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
	// Node is the node concerned, by node.name, in the live check of a cluster.
	Node string `json:"node,omitempty"`
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
		return nil, unusable("config directory %s: %w", dir, pathErr(err))
	}
	if !info.IsDir() {
		return nil, unusable("config directory %s: not a directory", dir)
	}
	if t, err := target.Detect(dir); err == nil && t == target.OpenSearch {
		return openSearchNode(dir, info, now, opts)
	}
	c, err := newChecker(dir, ymlName, now, opts)
	if err != nil {
		return nil, err
	}
	if err := c.openKeystore(password); err != nil {
		return nil, err
	}
	c.node = nodetls.Read(dir, c.settings, c.keystore)
	procs, _ := elasticsearchProcesses(opts.Proc)

	c.checkSecurity()
	c.checkLayers()
	c.checkVerification()
	c.checkPlaintextSecrets()
	c.checkAudit()
	c.checkExposure()
	c.checkCORS()
	c.checkAnonymous()
	c.checkProtocols()
	c.checkFIPS()
	for _, l := range c.tlsConfigs() {
		c.checkTLS(l)
	}
	c.checkKeystoreNeeded()
	c.checkProcesses(procs)
	id := resolveIdentity(opts.Elasticsearch, "elasticsearch", procs, info)
	c.checkModes(id)
	c.checkKeystoreFormat(id)
	if c.fatal != nil {
		return nil, c.fatal
	}
	return Merge(c.findings), nil
}

// newChecker reads the settings file ymlFile of the config directory dir.
func newChecker(dir, ymlFile string, now time.Time, opts Options) (*checker, error) {
	ymlPath := filepath.Join(dir, ymlFile)
	data, err := infile.Read(ymlPath, infile.Settings)
	if err != nil {
		return nil, unusable("%s: %w", ymlPath, pathErr(err))
	}
	settings, err := esconfig.Parse(data)
	if err != nil {
		return nil, unusable("%s: %w", ymlPath, err)
	}
	return &checker{
		dir:      dir,
		ymlFile:  ymlFile,
		settings: settings,
		now:      now,
		warn:     expiry.Days(opts.WarnDays),
		seen:     map[string]bool{},
		certSeen: map[string]bool{},
		refs:     map[string]bool{},
		p12Cache: map[string]p12Result{},
	}, nil
}

// Merge joins the findings of several checks (a node's and its Kibana's), problems
// first, each list's order otherwise kept.
func Merge(lists ...[]Finding) []Finding {
	var out []Finding
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Severity == Problem && out[j].Severity != Problem
	})
	return out
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
	ymlFile  string // the settings file's name: elasticsearch.yml or opensearch.yml
	settings esconfig.Settings
	now      time.Time
	warn     expiry.Window        // --warn-days
	keystore *eskeystore.Keystore // nil when there is none
	// keystorePasswordLen is the length of the password that opened it, which FIPS
	// mode bounds; the password itself is not kept.
	keystorePasswordLen int
	node                nodetls.Node // the TLS the settings configure
	findings            []Finding
	seen                map[string]bool // findings already reported (ID, file, message)
	certSeen            map[string]bool // certificates already checked for expiry, by fingerprint
	refs                map[string]bool // files the settings name, absolute; true for key material
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
	c.add(sev, id, c.ymlFile, c.settings[key].Line, key, message, fix)
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

// openKeystore decrypts elasticsearch.keystore when there is one.
func (c *checker) openKeystore(password PasswordFunc) error {
	path := filepath.Join(c.dir, keystoreName)
	data, err := infile.Read(path, infile.Keystore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unusable("%s: %w", path, pathErr(err))
	}
	var pw []byte
	if password != nil {
		if pw, err = password(data); err != nil {
			return err
		}
	}
	ks, err := eskeystore.Decode(data, pw)
	if err != nil {
		return unusable("%s: %w", path, err)
	}
	c.keystore, c.keystorePasswordLen = ks, len(pw)
	return nil
}

// unusable is an error that makes the check unusable: bad input to fix and re-run.
func unusable(format string, args ...any) error { return fault.New(fault.Input, format, args...) }

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
