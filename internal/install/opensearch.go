package install

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/escert/escert/internal/esconfig"
	"github.com/escert/escert/internal/fault"
	"github.com/escert/escert/internal/infile"
	"github.com/escert/escert/internal/nodetls"
	"github.com/escert/escert/internal/ossecurity"
)

// planOpenSearch plans an OpenSearch node bundle's install: its certificates into
// certs/, its internal_users.yml over the security plugin's shipped one (whose demo
// hashes must not reach the security index), and its block into opensearch.yml,
// written in that order so the block names only files already in place. There is no
// keystore: the bundle's PEM keys have no password.
func (p *Plan) planOpenSearch(o NodeOptions) error {
	if o.Audit || o.Enrollment {
		return fault.Mark(fault.Usage, errors.New("--audit and --enrollment are Elasticsearch settings: OpenSearch's audit log is the security plugin's audit.yml"))
	}
	blockPath := filepath.Join(o.BundleDir, "opensearch.yml")
	block, err := infile.Read(blockPath, infile.Settings)
	if err != nil {
		return bundleFileError(blockPath, err)
	}
	settings, err := esconfig.Parse(block)
	if err != nil {
		return &fault.InputError{File: blockPath, Problem: err.Error() + ": bootstrap the bundle again"}
	}
	if err := validateBundle(o.BundleDir, "opensearch.yml", nodetls.ReadOpenSearch(o.BundleDir, settings)); err != nil {
		return err
	}
	if err := p.planCerts(o, nil, nil, map[string]bool{}); err != nil {
		return err
	}
	if err := p.planInternalUsers(o); err != nil {
		return err
	}
	yml, _, err := p.planYML(o, blockPath, block, nil, nil)
	if err != nil {
		return err
	}
	if yml != nil {
		p.Changes = append(p.Changes, *yml)
	}
	return nil
}

// planInternalUsers replaces the plugin's internal_users.yml with the bundle's, when
// the bundle has one (a cluster's first bundle does; nodes added later find the users
// in the security index).
func (p *Plan) planInternalUsers(o NodeOptions) error {
	rel := ossecurity.Dir + "/" + ossecurity.InternalUsersFile
	data, err := infile.Read(filepath.Join(o.BundleDir, filepath.FromSlash(rel)), infile.Settings)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return bundleFileError(filepath.Join(o.BundleDir, rel), err)
	}
	dir := filepath.Join(o.ConfigDir, ossecurity.Dir)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return &fault.InputError{File: o.ConfigDir, Problem: "has no " + ossecurity.Dir + "/ directory: install the security plugin first (bin/opensearch-plugin install opensearch-security)"}
	}
	target := filepath.Join(o.ConfigDir, filepath.FromSlash(rel))
	old, err := readOptional(target, infile.Settings)
	if err != nil || bytes.Equal(old, data) {
		return err
	}
	reason := "new"
	if old != nil {
		reason = "replaced the plugin's demo users (old copy backed up)"
	}
	// Hashes can be guessed offline: readable by the node's group only.
	p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: data, Perm: o.Owner.perm(keyMode), Reason: reason})
	return nil
}
