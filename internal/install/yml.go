package install

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/escert/escert/internal/atomicfs"
	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/eskeystore"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/target"
)

// This file edits elasticsearch.yml: escert's block in, the settings outside it that
// would clash with the block stopped at or, with --force, commented out, and their
// plaintext passwords moved into the keystore.

// ConflictError lists settings outside escert's block that the block would set too.
type ConflictError struct {
	File     string
	Settings []esconfig.Setting
}

// Kind is bad input: the operator edits the file or re-runs with --force.
func (e *ConflictError) Kind() fault.Kind { return fault.Input }

func (e *ConflictError) Error() string {
	var parts []string
	for _, s := range e.Settings {
		parts = append(parts, fmt.Sprintf("%s (line %d)", s.Key, s.Line))
	}
	return fmt.Sprintf("%s: already sets %s outside escert's block: remove them, or re-run with --force to comment them out", e.File, strings.Join(parts, ", "))
}

// planYML works out the new elasticsearch.yml and the plaintext passwords that leave
// it for the keystore (secure setting name to value).
func (p *Plan) planYML(o NodeOptions, blockPath string, blockData []byte, bundleKS, nodeKS *eskeystore.Keystore) (*Change, map[string][]byte, error) {
	block, err := hardenBlock(string(blockData), o)
	if err != nil {
		return nil, nil, &fault.InputError{File: blockPath, Problem: err.Error()}
	}
	path := filepath.Join(o.ConfigDir, p.target.SettingsFile())
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
		return nil, nil, &fault.InputError{File: path, Problem: err.Error()}
	}
	if _, err := esconfig.Parse(updated); err != nil {
		return nil, nil, fmt.Errorf("%s would not parse after the change (%v): please report this", path, err)
	}
	if bytes.Equal(updated, old) {
		return nil, moved, nil
	}
	perm, err := atomicfs.PermOf(path, ymlMode)
	if err != nil {
		return nil, nil, err
	}
	if old == nil {
		perm = o.Owner.perm(ymlMode)
	}
	reason := "escert block written"
	if _, _, ok, _ := esconfig.Block(old); ok {
		reason = "escert block replaced"
	}
	return &Change{Path: p.target.SettingsFile(), Old: old, New: updated, Perm: perm, Text: true, Reason: reason}, moved, nil
}

// tlsPrefixes start the settings of the TLS layers the block configures: any of them
// set outside the block is another TLS setup.
func (p *Plan) tlsPrefixes() []string {
	if p.target == target.OpenSearch {
		return []string{"plugins.security.ssl."}
	}
	return []string{esconfig.SSLPrefix(esconfig.Transport), esconfig.SSLPrefix(esconfig.HTTP)}
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
		return nil, &fault.InputError{File: path, Problem: err.Error()}
	}
	settings, err := esconfig.Parse(outside)
	if err != nil {
		return nil, &fault.InputError{File: path, Problem: err.Error() + ": fix the file first"}
	}
	ours, err := esconfig.Parse([]byte(block))
	if err != nil {
		return nil, err
	}
	// A setting outside the TLS layers that the block sets to the same value (the
	// fips_mode lines of Elastic's FIPS page, say) loses nothing by moving into the
	// block: it is commented out without --force, as two of one key would stop the
	// node. A TLS layer set up outside the block is another TLS setup, whatever its
	// values: that takes --force.
	var conflicts, same []esconfig.Setting
	for _, key := range settings.Keys() {
		theirs := settings[key]
		mine, clash := ours[key]
		tlsLayer := slices.ContainsFunc(p.tlsPrefixes(), func(prefix string) bool { return strings.HasPrefix(key, prefix) })
		switch {
		case clash && !tlsLayer && mine.Value == theirs.Value && slices.Equal(mine.Values, theirs.Values):
			same = append(same, theirs)
		case clash || tlsLayer:
			conflicts = append(conflicts, theirs)
		}
	}
	if len(conflicts) == 0 && len(same) == 0 {
		return data, nil
	}
	if len(conflicts) > 0 && !force {
		return nil, &ConflictError{File: path, Settings: conflicts}
	}
	return p.commentOut(path, data, settings, append(conflicts, same...), same, fates)
}

// commentOut turns the conflicting settings into comments, each top-level entry as a
// whole: a dotted key with its list items, or a nested mapping such as the
// "xpack.security.http.ssl:" that Elasticsearch's auto-configuration writes. A nested
// mapping that also holds settings escert does not replace is left for the operator.
// A plaintext password is not kept even as a comment: its line becomes a note, and
// the value goes to the keystore unless the bundle brings its own (fates decides).
func (p *Plan) commentOut(path string, data []byte, settings esconfig.Settings, conflicts, same []esconfig.Setting, fates secretFates) ([]byte, error) {
	lines := strings.SplitAfter(string(data), "\n")
	groups := map[int][]esconfig.Setting{}
	for _, c := range conflicts {
		groups[c.Top] = append(groups[c.Top], c)
	}
	for _, s := range settings {
		if group, ok := groups[s.Top]; ok && !slices.ContainsFunc(group, func(c esconfig.Setting) bool { return c.Key == s.Key }) {
			return nil, &fault.InputError{File: path, Problem: fmt.Sprintf("line %d: %s shares a nested YAML entry with settings escert replaces, so --force cannot comment them out safely: edit it by hand", s.Line, s.Key)}
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
		why := "commented out by `escert install --force`; escert's block sets it"
		if !slices.ContainsFunc(group, func(c esconfig.Setting) bool {
			return !slices.ContainsFunc(same, func(s esconfig.Setting) bool { return s.Key == c.Key })
		}) {
			why = "commented out by `escert install`; escert's block sets the same value"
		}
		note := fmt.Sprintf("# escert %s: %s\n", p.now.UTC().Format(time.DateOnly), why)
		lines = slices.Insert(lines, i, note)
		p.Notes = append(p.Notes, fmt.Sprintf("%s: commented out %s (line %d)", p.target.SettingsFile(), strings.Join(keys, ", "), top))
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
			return &fault.InputError{File: path, Problem: fmt.Sprintf("line %d: the password in %s does not sit on its key's line, so --force cannot remove it safely: move it into elasticsearch.keystore by hand (elasticsearch-keystore add %s) and delete it from the file", s.Line, s.Key, esconfig.SecureName(s.Key))}
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
				return &fault.InputError{File: path, Problem: fmt.Sprintf("line %d: a password escert removes also appears there, so --force cannot remove it safely: move it into elasticsearch.keystore by hand and delete it from the file", k+1)}
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
	if f.bundle == nil {
		// OpenSearch: no keystore to move it to, and the bundle's keys need none.
		return fmt.Sprintf("removed %s (the bundle's keys have no password)", key)
	}
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
