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
	"sort"
	"strings"
	"time"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/p12"
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
	Perm   Perm
	Text   bool   // shown as a unified diff in a dry run
	Reason string // what changes, for people
}

// Plan is everything an install would change, computed without writing anything.
type Plan struct {
	ConfigDir string
	Changes   []Change
	Notes     []string // what was decided, e.g. settings commented out under --force
	now       time.Time
	// secrets are the plaintext passwords --force takes out of elasticsearch.yml: the
	// old file still holds them, and a dry run's diff must not print them.
	secrets []string
}

// ConflictError lists settings outside escert's block that the block would set too.
type ConflictError struct {
	File     string
	Settings []esconfig.Setting
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, s := range e.Settings {
		parts = append(parts, fmt.Sprintf("%s (line %d)", s.Key, s.Line))
	}
	return fmt.Sprintf("%s: already sets %s outside escert's block: remove them, or re-run with --force to comment them out", e.File, strings.Join(parts, ", "))
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
	// backupDirMode lets the group list the backups but not read them (the files are
	// 0600). Elasticsearch 9 watches its whole config directory for the file realm and
	// refuses to start when it cannot list a subdirectory, so a 0700 directory there
	// stops the node.
	backupDirMode fs.FileMode = 0o750
)

// PlanNode works out what installing a node bundle into a config directory changes:
// certificates into certs/, secure settings merged into elasticsearch.keystore, and
// escert's settings block written into elasticsearch.yml. Re-running with the same
// bundle yields an empty plan.
func PlanNode(o NodeOptions) (*Plan, error) {
	p := &Plan{ConfigDir: o.ConfigDir, now: o.Now}
	if err := CheckConfigDir(o.ConfigDir); err != nil {
		return nil, err
	}
	blockPath := filepath.Join(o.BundleDir, "elasticsearch.yml")
	block, err := infile.Read(blockPath, infile.Settings)
	if err != nil {
		return nil, bundleFileError(blockPath, err)
	}
	blockSettings, err := esconfig.Parse(block)
	if err != nil {
		return nil, &InputError{Path: blockPath, Problem: err.Error() + ": bootstrap the bundle again"}
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
	if err := validateBundle(o.BundleDir, blockSettings, bundleKS); err != nil {
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

// bundleFileError describes a bundle file that cannot be read: a missing one means
// --bundle is not a node bundle.
func bundleFileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &InputError{Path: path, Problem: "missing: --bundle must be a node bundle, DIR/nodes/<name> of an escert bootstrap"}
	}
	return readError(path, err)
}

// readError is a failure to read an input file (infile's too-large refusal among
// them) as bad input that names the file once.
func readError(path string, err error) *InputError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &InputError{Path: path, Problem: pe.Err.Error()}
	}
	return &InputError{Path: path, Problem: err.Error()}
}

// CheckConfigDir refuses a directory that is not a node's config directory, or one
// whose keys are already exposed. Install calls it before taking the directory's lock,
// so a typo'd --es-config gets this line rather than a failure to create the lock.
func CheckConfigDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return &InputError{Path: dir, Problem: "not a readable config directory: point --es-config at the node's config directory (e.g. /etc/elasticsearch)"}
	}
	if !info.IsDir() {
		return &InputError{Path: dir, Problem: "not a directory"}
	}
	// Every installation ships an elasticsearch.yml: a directory without one is a
	// typo'd path, which must not be filled with keys and a new yml.
	if _, err := os.Stat(filepath.Join(dir, "elasticsearch.yml")); err != nil {
		return &InputError{Path: dir, Problem: "holds no readable elasticsearch.yml: point --es-config at the node's config directory (e.g. /etc/elasticsearch)"}
	}
	if info.Mode().Perm()&0o002 != 0 {
		return &InputError{Path: dir, Problem: "is world-writable, so anyone could swap its keys: chmod o-w it first"}
	}
	// A key or keystore that others can already read would stay readable beside the
	// new files: refuse rather than pretend the node is secure.
	for _, pattern := range []string{"*.keystore", "*.p12", "*.pfx", "*.key", "certs/*.p12", "certs/*.pfx", "certs/*.key", "certs/*.jks"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if info, err := os.Stat(m); err == nil && info.Mode().Perm()&0o004 != 0 {
				return &InputError{Path: m, Problem: "is world-readable: chmod o-rwx it, then re-run"}
			}
		}
	}
	return nil
}

// checkFIPSBundle refuses a bundle made without --fips: a FIPS JVM reads no PKCS#12
// keystore, and Elasticsearch needs fips_mode set to run as a FIPS node.
func checkFIPSBundle(dir string, block esconfig.Settings) error {
	if p12s, _ := filepath.Glob(filepath.Join(dir, "certs", "*.p12")); len(p12s) > 0 {
		return &InputError{Path: p12s[0], Problem: "PKCS#12 cannot be loaded in FIPS mode: bootstrap the bundle with --fips (PEM files)"}
	}
	if v, _ := block.Get("xpack.security.fips_mode.enabled"); v != "true" {
		return &InputError{Path: filepath.Join(dir, "elasticsearch.yml"), Problem: "the block does not enable xpack.security.fips_mode: bootstrap the bundle with --fips"}
	}
	return nil
}

// InputError is a problem with the bundle or the config directory: bad input, not a
// failure of the install itself.
type InputError struct {
	Path    string
	Problem string
}

func (e *InputError) Error() string { return e.Path + ": " + e.Problem }

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

// p12Setting is the keystore setting holding the password of a bundle p12 file.
func p12Setting(name string) (string, bool) {
	layer, ok := strings.CutSuffix(name, ".p12")
	if !ok || (layer != "transport" && layer != "http") {
		return "", false
	}
	return "xpack.security." + layer + ".ssl.keystore.secure_password", true
}

func (p *Plan) planCerts(o NodeOptions, bundleKS, nodeKS *eskeystore.Keystore, keep map[string]bool) error {
	entries, err := os.ReadDir(filepath.Join(o.BundleDir, "certs"))
	if err != nil {
		return &InputError{Path: filepath.Join(o.BundleDir, "certs"), Problem: "missing: --bundle must be a node bundle, DIR/nodes/<name> of an escert bootstrap"}
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
		secret := strings.HasSuffix(e.Name(), ".key") || strings.HasSuffix(e.Name(), ".p12")
		if secret {
			mode = keyMode
		}
		perm := o.perm(mode)
		if setting, ok := p12Setting(e.Name()); ok && old != nil && nodeKS != nil {
			if nodePass, has := nodeKS.Get(setting); has {
				same, reencoded, err := reencodeP12(data, bundleKS, setting, old, string(nodePass), o.Rand)
				if err != nil {
					return fmt.Errorf("%s: %w", rel, err)
				}
				keep[setting] = true
				if layer := strings.TrimSuffix(e.Name(), ".p12"); layer == "transport" {
					keep["xpack.security.transport.ssl.truststore.secure_password"] = true
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
		p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: data, Perm: perm, Text: !secret && !strings.HasSuffix(rel, ".p12"), Reason: reason})
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
			return &InputError{Path: path, Problem: fmt.Sprintf("keystore format %d is newer than the given Elasticsearch version reads (format %d): is --es-version right?", target.Version, o.KeystoreVersion)}
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
	perm, err := PermOf(filepath.Join(o.ConfigDir, "elasticsearch.keystore"), keystoreMode)
	if err != nil {
		return err
	}
	if nodeKS == nil {
		perm = o.perm(keystoreMode)
	}
	reason := fmt.Sprintf("created with %d setting(s)", len(added))
	if nodeKS != nil {
		reason = fmt.Sprintf("merged: %d added, %d changed, %d other setting(s) kept", len(added), len(changed), kept-len(changed))
	}
	reason += upgraded
	p.Changes = append(p.Changes, Change{Path: "elasticsearch.keystore", Old: nodeData, New: data, Perm: perm, Reason: reason})
	return nil
}

// planYML works out the new elasticsearch.yml and the plaintext passwords that leave
// it for the keystore (secure setting name to value).
func (p *Plan) planYML(o NodeOptions, blockPath string, blockData []byte, bundleKS, nodeKS *eskeystore.Keystore) (*Change, map[string][]byte, error) {
	block, err := hardenBlock(string(blockData), o)
	if err != nil {
		return nil, nil, &InputError{Path: blockPath, Problem: err.Error()}
	}
	path := filepath.Join(o.ConfigDir, "elasticsearch.yml")
	old, err := readOptional(path, infile.Settings)
	if err != nil {
		return nil, nil, err
	}
	current := old
	moved := map[string][]byte{}
	if current != nil {
		if current, err = p.resolveConflicts(path, current, block, o.Force, secretFates{bundle: bundleKS, node: nodeKS, moved: moved}); err != nil {
			return nil, nil, err
		}
	}
	updated, err := esconfig.ReplaceBlock(current, block)
	if err != nil {
		return nil, nil, &InputError{Path: path, Problem: err.Error()}
	}
	if _, err := esconfig.Parse(updated); err != nil {
		return nil, nil, fmt.Errorf("%s would not parse after the change (%v): please report this", path, err)
	}
	if bytes.Equal(updated, old) {
		return nil, moved, nil
	}
	perm, err := PermOf(path, ymlMode)
	if err != nil {
		return nil, nil, err
	}
	if old == nil {
		perm = o.perm(ymlMode)
	}
	reason := "escert block written"
	if _, _, ok, _ := esconfig.Block(old); ok {
		reason = "escert block replaced"
	}
	return &Change{Path: "elasticsearch.yml", Old: old, New: updated, Perm: perm, Text: true, Reason: reason}, moved, nil
}

// hardenBlock adds the checklist's optional settings inside the bundle's block.
func hardenBlock(block string, o NodeOptions) (string, error) {
	if !strings.HasPrefix(block, esconfig.BlockBegin+"\n") || !strings.HasSuffix(block, esconfig.BlockEnd+"\n") {
		return "", errors.New("not an escert settings block (BEGIN/END markers missing)")
	}
	var extra []string
	if o.Audit {
		extra = append(extra, "xpack.security.audit.enabled: true")
	}
	if o.Enrollment {
		extra = append(extra, "xpack.security.enrollment.enabled: true")
	}
	if len(extra) == 0 {
		return block, nil
	}
	body := strings.TrimSuffix(block, esconfig.BlockEnd+"\n")
	return body + strings.Join(extra, "\n") + "\n" + esconfig.BlockEnd + "\n", nil
}

// resolveConflicts finds settings outside the block that the block also sets (or
// that would clash with it: any TLS setting of a layer the block configures), and
// stops, or with force comments them out line by line with a note.
func (p *Plan) resolveConflicts(path string, data []byte, block string, force bool, fates secretFates) ([]byte, error) {
	outside, err := esconfig.Outside(data)
	if err != nil {
		return nil, &InputError{Path: path, Problem: err.Error()}
	}
	settings, err := esconfig.Parse(outside)
	if err != nil {
		return nil, &InputError{Path: path, Problem: err.Error() + ": fix the file first"}
	}
	ours, err := esconfig.Parse([]byte(block))
	if err != nil {
		return nil, err
	}
	var conflicts []esconfig.Setting
	for _, key := range settings.Keys() {
		if _, clash := ours[key]; clash || strings.HasPrefix(key, "xpack.security.transport.ssl.") || strings.HasPrefix(key, "xpack.security.http.ssl.") {
			conflicts = append(conflicts, settings[key])
		}
	}
	if len(conflicts) == 0 {
		return data, nil
	}
	if !force {
		return nil, &ConflictError{File: path, Settings: conflicts}
	}
	return p.commentOut(path, data, settings, conflicts, fates)
}

// commentOut turns the conflicting settings into comments, each top-level entry as a
// whole: a dotted key with its list items, or a nested mapping such as the
// "xpack.security.http.ssl:" that Elasticsearch's auto-configuration writes. A nested
// mapping that also holds settings escert does not replace is left for the operator.
// A plaintext password is not kept even as a comment: its line becomes a note, and
// the value goes to the keystore unless the bundle brings its own (fates decides).
func (p *Plan) commentOut(path string, data []byte, settings esconfig.Settings, conflicts []esconfig.Setting, fates secretFates) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	groups := map[int][]esconfig.Setting{}
	for _, c := range conflicts {
		groups[c.Top] = append(groups[c.Top], c)
	}
	for _, s := range settings {
		if group, ok := groups[s.Top]; ok && !slices.ContainsFunc(group, func(c esconfig.Setting) bool { return c.Key == s.Key }) {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("line %d: %s shares a nested YAML entry with settings escert replaces, so --force cannot comment them out safely: edit it by hand", s.Line, s.Key)}
		}
	}
	tops := make([]int, 0, len(groups))
	for top := range groups {
		tops = append(tops, top)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(tops)))
	for _, top := range tops {
		i := top - 1
		end := i + 1
		for end < len(lines) && (strings.HasPrefix(lines[end], " ") || strings.HasPrefix(lines[end], "\t") || strings.HasPrefix(lines[end], "-")) {
			end++
		}
		for k := i; k < end; k++ {
			lines[k] = "#" + lines[k]
		}
		group := groups[top]
		sort.Slice(group, func(a, b int) bool { return group[a].Key < group[b].Key })
		if err := p.dropSecrets(path, lines, i, end, group, fates); err != nil {
			return nil, err
		}
		keys := make([]string, len(group))
		for n, c := range group {
			keys[n] = c.Key
		}
		note := fmt.Sprintf("# escert %s: commented out by `escert install --force`; escert's block sets it\n", p.now.UTC().Format(time.DateOnly))
		lines = slices.Insert(lines, i, note)
		p.Notes = append(p.Notes, fmt.Sprintf("elasticsearch.yml: commented out %s (line %d)", strings.Join(keys, ", "), top))
	}
	return []byte(strings.Join(lines, "")), nil
}

// dropSecrets replaces the line of each plaintext password among the settings of the
// commented-out entry lines[start:end] with a note that names the setting but not its
// value. A value that does not sit wholly on its key's line (a block scalar, an
// escaped quoted string) cannot be removed line by line, and is refused rather than
// left behind.
func (p *Plan) dropSecrets(path string, lines []string, start, end int, group []esconfig.Setting, fates secretFates) error {
	notes := map[int][]string{}
	var values []string
	for _, s := range group {
		if !esconfig.IsPlaintextSecret(s.Key) || s.Value == "" && len(s.Values) == 0 {
			continue
		}
		at := s.Line - 1
		if len(s.Values) > 0 || !strings.Contains(lines[at], s.Value) {
			return &InputError{Path: path, Problem: fmt.Sprintf("line %d: the password in %s does not sit on its key's line, so --force cannot remove it safely: move it into elasticsearch.keystore by hand (elasticsearch-keystore add %s) and delete it from the file", s.Line, s.Key, esconfig.SecureName(s.Key))}
		}
		done := fates.decide(s.Key, s.Value)
		notes[at] = append(notes[at], "# escert: "+done+"\n")
		p.Notes = append(p.Notes, fmt.Sprintf("elasticsearch.yml: %s (line %d)", done, s.Line))
		values = append(values, s.Value)
		p.secrets = append(p.secrets, s.Value)
	}
	for at, n := range notes {
		lines[at] = strings.Join(n, "")
	}
	for k := start; k < end; k++ {
		if _, note := notes[k]; note {
			continue
		}
		for _, v := range values {
			if strings.Contains(lines[k], v) {
				return &InputError{Path: path, Problem: fmt.Sprintf("line %d: a password escert removes also appears there, so --force cannot remove it safely: move it into elasticsearch.keystore by hand and delete it from the file", k+1)}
			}
		}
	}
	return nil
}

// secretFates decides what becomes of a plaintext password install --force takes out
// of elasticsearch.yml, and collects those that move into the keystore.
type secretFates struct {
	bundle, node *eskeystore.Keystore // node is nil when the node has no keystore yet
	moved        map[string][]byte    // secure setting name to value
}

// decide drops a password the bundle replaces with its own secure setting and moves
// any other into the keystore; it returns what was done, for the yml and the notes.
func (f secretFates) decide(key, value string) string {
	secure := esconfig.SecureName(key)
	if f.brings(key) {
		return fmt.Sprintf("removed %s (the bundle brings its own secure setting)", key)
	}
	if f.node != nil {
		if current, has := f.node.Get(secure); has && string(current) != value {
			// Elasticsearch refuses to start with both; the keystore's is the one kept.
			return fmt.Sprintf("removed %s (elasticsearch.keystore already holds %s, which is kept)", key, secure)
		}
	}
	f.moved[secure] = []byte(value)
	return fmt.Sprintf("moved %s into elasticsearch.keystore as %s", key, secure)
}

// brings reports that the bundle's keystore holds the secure setting that takes over
// from key. A keystore's key password falls back to the store password, which the
// bundle brings: moving an old key password in would make the bundle's key unreadable.
func (f secretFates) brings(key string) bool {
	if _, has := f.bundle.Get(esconfig.SecureName(key)); has {
		return true
	}
	if store, ok := strings.CutSuffix(key, ".keystore.key_password"); ok {
		_, has := f.bundle.Get(store + ".keystore.secure_password")
		return has
	}
	return false
}

func (o NodeOptions) perm(mode fs.FileMode) Perm {
	if o.Owner == nil {
		return Perm{Mode: mode, UID: -1, GID: -1}
	}
	return Perm{Mode: mode, UID: o.Owner.UID, GID: o.Owner.GID}
}

// Backup copies files (config-relative path to content) into
// <config>/escert-backups/<time>/ with mode 0600, in 0750 directories of the config
// directory's group, and returns that directory ("" when there is nothing to keep).
func Backup(configDir string, now time.Time, files map[string][]byte) (string, error) {
	if len(files) == 0 {
		return "", nil
	}
	config, err := os.Stat(configDir)
	if err != nil {
		return "", fmt.Errorf("back up into %s: %w", configDir, err)
	}
	// Two runs in one second (a re-run after a failure) must not overwrite each
	// other's backups.
	base := filepath.Join(configDir, "escert-backups", now.UTC().Format("20060102T150405Z"))
	dir := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	for rel, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := mkdirAllLike(configDir, filepath.Dir(dst), backupDirMode, config); err != nil {
			return "", fmt.Errorf("create backup directory: %w", err)
		}
		if err := WriteFile(dst, data, 0o600); err != nil {
			return "", fmt.Errorf("back up %s: %w", rel, err)
		}
	}
	return dir, nil
}

// mkdirAllLike creates dir and its missing parents below root with mode, giving each
// new directory the group of like (the config directory), so whoever can list the
// config directory can list them too.
func mkdirAllLike(root, dir string, mode fs.FileMode, like fs.FileInfo) error {
	if dir == root {
		return nil
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := mkdirAllLike(root, filepath.Dir(dir), mode, like); err != nil {
		return err
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil { // the umask may have narrowed it
		return err
	}
	return chownGroupLike(dir, like)
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
	if backupDir, err = Backup(p.ConfigDir, p.now, old); err != nil {
		return "", err
	}
	certsDir := filepath.Join(p.ConfigDir, "certs")
	if _, err := os.Stat(certsDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(certsDir, certsDirMode); err != nil {
			return backupDir, fmt.Errorf("create %s: %w", certsDir, err)
		}
		if owner != nil {
			if err := os.Chown(certsDir, owner.UID, owner.GID); err != nil {
				return backupDir, fmt.Errorf("chown %s: %w", certsDir, err)
			}
		}
		if err := syncDir(p.ConfigDir); err != nil {
			return backupDir, err
		}
	}
	for _, c := range p.Changes {
		if err := WriteFileAs(filepath.Join(p.ConfigDir, filepath.FromSlash(c.Path)), c.New, c.Perm); err != nil {
			return backupDir, err
		}
	}
	return backupDir, nil
}
