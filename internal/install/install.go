// Package install puts a node bundle into an Elasticsearch node's config directory.
// It reads and checks the bundle before anything else (every file the block names is
// there, opens with the bundle's passwords, and is this node's, issued by the
// bundle's CA), plans every change without writing (certificates into certs/, secure
// settings merged into elasticsearch.keystore, escert's settings block in
// elasticsearch.yml, settings that conflict with it commented out), shows the plan
// as a diff, and applies it through package atomicfs in an order that keeps the node
// loadable at every step.
package install

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/p12"
	"github.com/escert/escert/internal/target"
)

// NodeOptions say how a node bundle goes into a config directory.
type NodeOptions struct {
	BundleDir string // DIR/nodes/<name> of a bootstrap
	ConfigDir string // the node's config directory, e.g. /etc/elasticsearch
	// KeystorePassword opens the node's elasticsearch.keystore (nil: it has none) and
	// protects a keystore created here.
	KeystorePassword []byte
	// Owner gets the files: uid 0 (root) and the group Elasticsearch runs as, so the
	// node can read but not rewrite its configuration. nil keeps the process's.
	Owner      *Owner
	Audit      bool // add xpack.security.audit.enabled: true to the block
	Enrollment bool // add xpack.security.enrollment.enabled: true to the block
	Force      bool // comment out conflicting settings instead of stopping
	// FIPS refuses bundles a FIPS 140 mode Elasticsearch cannot load: PKCS#12 files,
	// or a block without fips_mode.
	FIPS bool
	// KeystoreVersion is the keystore format the node's Elasticsearch reads and
	// upgrades to on start (eskeystore.VersionFor), 0 when unknown. The node's
	// keystore is written in it: a node whose config directory it cannot write (the
	// packages' root:elasticsearch 2750) refuses to start with an older one, since it
	// cannot upgrade the file.
	KeystoreVersion int
	Now             time.Time
	Rand            io.Reader
	// Notify hears what a write did besides writing (atomicfs.Writer's Notify).
	Notify func(msg string)
}

// Owner is who a file belongs to.
type Owner struct {
	UID, GID int
	Group    string
}

// Change is one file the plan writes.
type Change struct {
	Path   string // relative to the config directory, slash-separated
	Old    []byte // nil when the file is new
	New    []byte
	Perm   atomicfs.Perm
	Text   bool   // shown as a unified diff in a dry run
	Reason string // what changes, for people
}

// Plan is everything an install would change, computed without writing anything.
type Plan struct {
	ConfigDir string
	Changes   []Change
	Notes     []string // what was decided, e.g. settings commented out under --force
	now       time.Time
	write     atomicfs.Writer
	// secrets are the plaintext passwords --force takes out of elasticsearch.yml: the
	// old file still holds them, and a dry run's diff must not print them.
	secrets []string
	// target is the engine the config directory is for.
	target target.Target
}

// Modes of what install writes. Elasticsearch only reads keys and certificates, so
// they are group-readable and never group-writable; the keystore keeps Elasticsearch's
// own 0660 because elasticsearch-keystore and upgrades rewrite it.
const (
	certsDirMode fs.FileMode = 0o750
	keyMode      fs.FileMode = 0o640
	certMode     fs.FileMode = 0o644
	keystoreMode fs.FileMode = 0o660
	ymlMode      fs.FileMode = 0o660
)

// PlanNode works out what installing a node bundle into a config directory changes:
// certificates into certs/, secure settings merged into elasticsearch.keystore, and
// escert's settings block written into elasticsearch.yml. Re-running with the same
// bundle yields an empty plan.
func PlanNode(o NodeOptions) (*Plan, error) {
	p := &Plan{ConfigDir: o.ConfigDir, now: o.Now, write: atomicfs.Writer{Notify: o.Notify}}
	if err := CheckConfigDir(o.ConfigDir); err != nil {
		return nil, err
	}
	var err error
	if p.target, err = sameTarget(o.BundleDir, o.ConfigDir); err != nil {
		return nil, err
	}
	if p.target == target.OpenSearch {
		return p, p.planOpenSearch(o)
	}
	blockPath := filepath.Join(o.BundleDir, "elasticsearch.yml")
	block, err := infile.Read(blockPath, infile.Settings)
	if err != nil {
		return nil, bundleFileError(blockPath, err)
	}
	blockSettings, err := esconfig.Parse(block)
	if err != nil {
		return nil, &fault.InputError{File: blockPath, Problem: err.Error() + ": bootstrap the bundle again"}
	}
	if o.FIPS {
		if err := checkFIPSBundle(o.BundleDir, blockSettings); err != nil {
			return nil, err
		}
	}
	bundleKS, err := readBundleKeystore(o)
	if err != nil {
		return nil, err
	}
	// Nothing is planned, let alone written, from a bundle the node could not start with.
	if err := validateBundle(o.BundleDir, "elasticsearch.yml", nodetls.Read(o.BundleDir, blockSettings, bundleKS)); err != nil {
		return nil, err
	}
	nodeKSPath := filepath.Join(o.ConfigDir, "elasticsearch.keystore")
	nodeKSData, err := readOptional(nodeKSPath, infile.Keystore)
	if err != nil {
		return nil, err
	}
	var nodeKS *eskeystore.Keystore
	if nodeKSData != nil {
		nodeKS, err = eskeystore.Decode(nodeKSData, o.KeystorePassword)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nodeKSPath, err)
		}
	}
	// Passwords the node keeps: a p12 already in place is re-encrypted with the
	// password its keystore holds, since Elasticsearch reloads files but not passwords.
	keep := map[string]bool{}
	if err := p.planCerts(o, bundleKS, nodeKS, keep); err != nil {
		return nil, err
	}
	// The yml is worked out before the keystore, which takes the plaintext passwords
	// the yml gives up, and written after it, so the node never lacks either.
	yml, moved, err := p.planYML(o, blockPath, block, bundleKS, nodeKS)
	if err != nil {
		return nil, err
	}
	if err := p.planKeystore(o, bundleKS, nodeKS, nodeKSData, keep, moved); err != nil {
		return nil, err
	}
	if yml != nil {
		p.Changes = append(p.Changes, *yml)
	}
	return p, nil
}

// p12Layer is the layer whose keystore a bundle's p12 file is (transport.p12, http.p12).
func p12Layer(name string) (string, bool) {
	layer, ok := strings.CutSuffix(name, ".p12")
	return layer, ok && (layer == esconfig.Transport || layer == esconfig.HTTP)
}

func (p *Plan) planCerts(o NodeOptions, bundleKS, nodeKS *eskeystore.Keystore, keep map[string]bool) error {
	entries, err := os.ReadDir(filepath.Join(o.BundleDir, "certs"))
	if err != nil {
		return &fault.InputError{File: filepath.Join(o.BundleDir, "certs"), Problem: "missing: --bundle must be a node bundle, DIR/nodes/<name> of an escert bootstrap"}
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		rel := "certs/" + e.Name()
		kind := certsKind(e.Name())
		data, err := infile.Read(filepath.Join(o.BundleDir, rel), kind)
		if err != nil {
			return bundleFileError(filepath.Join(o.BundleDir, rel), err)
		}
		target := filepath.Join(o.ConfigDir, filepath.FromSlash(rel))
		old, err := readOptional(target, kind)
		if err != nil {
			return err
		}
		mode := certMode
		secret := esconfig.IsSecretFile(e.Name())
		if secret {
			mode = keyMode
		}
		perm := o.Owner.perm(mode)
		if layer, ok := p12Layer(e.Name()); ok && old != nil && nodeKS != nil {
			setting := esconfig.SSLPrefix(layer) + "keystore.secure_password"
			if nodePass, has := nodeKS.Get(setting); has {
				same, reencoded, err := reencodeP12(data, bundleKS, setting, old, string(nodePass), o.Rand)
				if err != nil {
					return fmt.Errorf("%s: %w", rel, err)
				}
				keep[setting] = true
				if layer == esconfig.Transport {
					keep[esconfig.SSLPrefix(layer)+"truststore.secure_password"] = true
				}
				if same {
					continue
				}
				data = reencoded
			}
		}
		if old != nil && bytes.Equal(old, data) {
			continue
		}
		reason := "new"
		if old != nil {
			reason = "replaced (old copy backed up)"
		}
		p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: data, Perm: perm, Text: !secret, Reason: reason})
	}
	return nil
}

// certsKind is what a file of a bundle's certs/ holds, by its name.
func certsKind(name string) infile.Kind {
	switch filepath.Ext(name) {
	case ".p12":
		return infile.PKCS12
	case ".key":
		return infile.Key
	case ".yml":
		return infile.Settings
	}
	return infile.PEM
}

// reencodeP12 opens the bundle's p12 and re-encrypts it with the password the node
// already uses. same reports that the node's p12 already holds the same key and
// certificates, so nothing needs writing.
func reencodeP12(bundleData []byte, bundleKS *eskeystore.Keystore, setting string, nodeData []byte, nodePass string, rand io.Reader) (same bool, out []byte, err error) {
	bundlePass, _ := bundleKS.Get(setting)
	fresh, err := p12.Decode(bundleData, string(bundlePass))
	if err != nil {
		return false, nil, fmt.Errorf("open the bundle's file with its keystore password: %w", err)
	}
	if len(fresh.Keys) != 1 {
		return false, nil, errors.New("the bundle's file must hold exactly one key entry")
	}
	if current, err := p12.Decode(nodeData, nodePass); err == nil && sameP12(current, fresh) {
		return true, nil, nil
	}
	out, err = p12.Encode(rand, nodePass, &fresh.Keys[0], fresh.Trusted)
	return false, out, err
}

func sameP12(a, b *p12.Contents) bool {
	if len(a.Keys) != len(b.Keys) || len(a.Trusted) != len(b.Trusted) {
		return false
	}
	for i := range a.Keys {
		ka, kb := a.Keys[i], b.Keys[i]
		if ka.Alias != kb.Alias || !slices.EqualFunc(ka.Chain, kb.Chain, (*x509.Certificate).Equal) {
			return false
		}
		if e, ok := ka.Key.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !e.Equal(kb.Key) {
			return false
		}
	}
	for i := range a.Trusted {
		if a.Trusted[i].Alias != b.Trusted[i].Alias || !a.Trusted[i].Cert.Equal(b.Trusted[i].Cert) {
			return false
		}
	}
	return true
}

func (p *Plan) planKeystore(o NodeOptions, bundleKS, nodeKS *eskeystore.Keystore, nodeData []byte, keep map[string]bool, moved map[string][]byte) error {
	target, kept := nodeKS, 0
	if nodeKS != nil {
		kept = len(nodeKS.Names())
	}
	if target == nil {
		version := bundleKS.Version
		if o.KeystoreVersion > 0 {
			version = o.KeystoreVersion
		}
		var err error
		if target, err = eskeystore.New(version, o.Rand); err != nil {
			return err
		}
		if o.KeystoreVersion == 0 && version < eskeystore.LatestVersion {
			p.Notes = append(p.Notes, fmt.Sprintf("elasticsearch.keystore: created in format %d, the bundle's; Elasticsearch 8.18 and later upgrade it to format %d on start, and refuse to start when they cannot (a config directory they cannot write, or a keystore they do not own): give --es-version so install writes the node's format", version, eskeystore.LatestVersion))
		}
	}
	upgraded := ""
	if o.KeystoreVersion > 0 && target.Version != o.KeystoreVersion {
		path := filepath.Join(o.ConfigDir, "elasticsearch.keystore")
		if target.Version > o.KeystoreVersion {
			return &fault.InputError{File: path, Problem: fmt.Sprintf("keystore format %d is newer than the given Elasticsearch version reads (format %d): is --es-version right?", target.Version, o.KeystoreVersion)}
		}
		upgraded = fmt.Sprintf(", upgraded from format %d to %d", target.Version, o.KeystoreVersion)
		target.Version = o.KeystoreVersion
	}
	var added, changed []string
	values := map[string][]byte{}
	for name, value := range moved {
		values[name] = value
	}
	for _, name := range bundleKS.Names() {
		if name != eskeystore.SeedSetting && !keep[name] {
			values[name], _ = bundleKS.Get(name)
		}
	}
	names := slices.Sorted(maps.Keys(values))
	for _, name := range names {
		value := values[name]
		current, has := target.Get(name)
		switch {
		case !has:
			added = append(added, name)
		case !bytes.Equal(current, value):
			changed = append(changed, name)
		default:
			continue
		}
		if err := target.Set(name, value); err != nil {
			return err
		}
	}
	if nodeKS != nil && len(added)+len(changed) == 0 && upgraded == "" {
		return nil
	}
	data, err := target.Encode(o.KeystorePassword, o.Rand)
	if err != nil {
		return fmt.Errorf("elasticsearch.keystore: %w", err)
	}
	perm, err := atomicfs.PermOf(filepath.Join(o.ConfigDir, "elasticsearch.keystore"), keystoreMode)
	if err != nil {
		return err
	}
	if nodeKS == nil {
		perm = o.Owner.perm(keystoreMode)
	}
	reason := fmt.Sprintf("created with %d setting(s)", len(added))
	if nodeKS != nil {
		reason = fmt.Sprintf("merged: %d added, %d changed, %d other setting(s) kept", len(added), len(changed), kept-len(changed))
	}
	reason += upgraded
	p.Changes = append(p.Changes, Change{Path: "elasticsearch.keystore", Old: nodeData, New: data, Perm: perm, Reason: reason})
	return nil
}

// perm is mode with the owner o, or the process's when o is nil.
func (o *Owner) perm(mode fs.FileMode) atomicfs.Perm {
	if o == nil {
		return atomicfs.Perm{Mode: mode, UID: -1, GID: -1}
	}
	return atomicfs.Perm{Mode: mode, UID: o.UID, GID: o.GID}
}

// Diff writes what the plan would change: a unified diff for text files, a summary
// line for keystores, keys and PKCS#12 files (whose bytes mean nothing to people and
// must not be shown).
func (p *Plan) Diff(w io.Writer) {
	for _, c := range p.Changes {
		if c.Text {
			old := ""
			if c.Old != nil {
				old = string(c.Old)
			}
			for _, secret := range p.secrets {
				old = strings.ReplaceAll(old, secret, "<password not shown>")
			}
			unifiedDiff(w, c.Path, old, string(c.New))
			continue
		}
		fmt.Fprintf(w, "--- a/%s\n+++ b/%s\n(binary or secret file: %s, mode %04o)\n", c.Path, c.Path, c.Reason, c.Perm.Mode)
	}
}

// Apply writes the plan: backups of every replaced file first, then certificates,
// then the keystore, then elasticsearch.yml, each atomically. That order keeps every
// intermediate state loadable: new certificate files are unreferenced until the yml
// names them, and a replaced p12 keeps the password the keystore already holds.
// It returns the backup directory ("" when nothing was replaced).
func (p *Plan) Apply(owner *Owner) (backupDir string, err error) {
	if len(p.Changes) == 0 {
		return "", nil
	}
	old := map[string][]byte{}
	for _, c := range p.Changes {
		if c.Old != nil {
			old[c.Path] = c.Old
		}
	}
	if backupDir, err = p.write.Backup(p.ConfigDir, p.now, old); err != nil {
		return "", err
	}
	if err := atomicfs.MakeDir(filepath.Join(p.ConfigDir, "certs"), owner.perm(certsDirMode)); err != nil {
		return backupDir, err
	}
	for _, c := range p.Changes {
		if err := p.write.WriteFileAs(filepath.Join(p.ConfigDir, filepath.FromSlash(c.Path)), c.New, c.Perm); err != nil {
			return backupDir, err
		}
	}
	return backupDir, nil
}
